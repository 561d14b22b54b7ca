/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_dsq_churn: call scx_bpf_create_dsq() from -j threads for -t
 * seconds through a SEC("syscall") program (see scx_rs_dsq_churn.bpf.c),
 * and report what it returned.
 *
 * Stops early on SIGINT or SIGTERM. Exits 0 if every call returned 0,
 * -ENODEV or -ENOMEM (the results the kfunc gives for these arguments), 1
 * otherwise.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_dsq_churn.bpf.skel.h"

/* as in scx_rs_dsq_churn.bpf.c */
struct churn_args {
	__u64 first_id;
	__u32 nr;
	__u32 nr_ok;
	__u32 nr_enodev;
	__u32 nr_enomem;
	__u32 nr_other;
	__s32 last_other;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct worker {
	pthread_t thread;
	int prog_fd;
	int idx;
	double secs;
	unsigned long long calls, ok, enodev, enomem, other, runs_failed,
			   runs_enomem;
	int last_other;
};

/* -F: runs that fail with ENOMEM are counted, not failures */
static int tolerate_enomem;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	/* a range of DSQ ids per thread, below the built-in bits */
	__u64 id = (__u64)(w->idx + 1) << 32;
	double end = now() + w->secs;

	while (!stop && now() < end) {
		struct churn_args args = { .first_id = id, .nr = 16 };
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .ctx_in = &args, .ctx_size_in = sizeof(args));

		int err = bpf_prog_test_run_opts(w->prog_fd, &opts);

		if (err == -ENOMEM && tolerate_enomem) {
			/* failslab hit the run itself (make stress) */
			w->runs_enomem++;
			continue;
		}
		if (err) {
			w->runs_failed++;
			continue;
		}
		w->calls += args.nr;
		w->ok += args.nr_ok;
		w->enodev += args.nr_enodev;
		w->enomem += args.nr_enomem;
		w->other += args.nr_other;
		if (args.nr_other)
			w->last_other = args.last_other;
		id += args.nr;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct scx_rs_dsq_churn *skel;
	struct worker w[16];
	unsigned long long calls = 0, ok = 0, enodev = 0, enomem = 0, other = 0,
			   failed = 0, runs_enomem = 0;
	double secs = 10;
	int nr = 2, opt, i, last_other = 0;

	while ((opt = getopt(argc, argv, "j:t:F")) != -1) {
		switch (opt) {
		case 'j':
			nr = atoi(optarg);
			if (nr < 1 || nr > 16)
				nr = 2;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'F':
			tolerate_enomem = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-j threads] [-t seconds] [-F]\n",
				argv[0]);
			return 1;
		}
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = scx_rs_dsq_churn__open_and_load();
	if (!skel) {
		fprintf(stderr, "scx_rs_dsq_churn: cannot load the BPF program\n");
		return 1;
	}
	for (i = 0; i < nr; i++) {
		w[i] = (struct worker){
			.prog_fd = bpf_program__fd(skel->progs.churn_create_dsq),
			.idx = i,
			.secs = secs,
		};
		if (pthread_create(&w[i].thread, NULL, work, &w[i])) {
			perror("pthread_create");
			return 1;
		}
	}
	for (i = 0; i < nr; i++) {
		pthread_join(w[i].thread, NULL);
		calls += w[i].calls;
		ok += w[i].ok;
		enodev += w[i].enodev;
		enomem += w[i].enomem;
		other += w[i].other;
		failed += w[i].runs_failed;
		runs_enomem += w[i].runs_enomem;
		if (w[i].other)
			last_other = w[i].last_other;
	}
	printf("scx_rs_dsq_churn: %llu calls in up to %.0f s from %d threads: %llu created, %llu ENODEV, %llu ENOMEM, %llu other (last %d), %llu failed runs, %llu runs failed with ENOMEM\n",
	       calls, secs, nr, ok, enodev, enomem, other, last_other, failed,
	       runs_enomem);
	scx_rs_dsq_churn__destroy(skel);
	return other || failed ? 1 : 0;
}
