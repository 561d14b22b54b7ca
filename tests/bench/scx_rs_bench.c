/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_bench: time the paths scx_rs replaces, with whichever
 * implementation is installed (see scx_rs_bench.bpf.c).
 *
 * Prints one line per case: "scx_rs_bench: <impl> <case> <ns/call>", the
 * median of -r rounds of -n calls each.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_bench.bpf.skel.h"

/* as in scx_rs_bench.bpf.c */
enum bench_kick {
	BENCH_KICK,
	BENCH_KICK_IDLE,
	BENCH_KICK_PREEMPT,
};

struct bench_args {
	__u64 arg;
	__s32 cpu;
	__s32 err;
	__u64 ns;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median over @rounds runs of @prog of the time per call, in ns. */
static double run(struct bpf_program *prog, __u64 arg, int cpu, int rounds,
		  unsigned int iters)
{
	double per_call[64];
	int r;

	for (r = 0; r < rounds; r++) {
		struct bench_args args = { .arg = arg, .cpu = cpu };
		/* SYSCALL programs write their context back to ctx_in */
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .ctx_in = &args, .ctx_size_in = sizeof(args));
		int ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

		if (ret || args.err) {
			fprintf(stderr, "%s failed (%d, %d)\n",
				bpf_program__name(prog), ret, args.err);
			exit(1);
		}
		per_call[r] = (double)args.ns / iters;
		/* a fresh range of DSQ ids per round */
		arg += iters;
	}
	qsort(per_call, rounds, sizeof(per_call[0]), cmp_double);
	return per_call[rounds / 2];
}

int main(int argc, char **argv)
{
	struct scx_rs_bench *skel;
	struct bpf_link *link;
	const char *impl = "?";
	unsigned int iters = 1000;
	int rounds = 15, opt;
	int target = sysconf(_SC_NPROCESSORS_ONLN) - 1;

	while ((opt = getopt(argc, argv, "i:n:r:")) != -1) {
		switch (opt) {
		case 'i':
			impl = optarg;
			break;
		case 'n':
			iters = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = atoi(optarg);
			if (rounds < 1 || rounds > 64)
				rounds = 15;
			break;
		default:
			fprintf(stderr, "usage: %s [-i impl] [-n calls] [-r rounds]\n",
				argv[0]);
			return 1;
		}
	}

	skel = SCX_OPS_OPEN(bench_ops, scx_rs_bench);
	skel->rodata->nr_iters = iters;
	SCX_OPS_LOAD(skel, bench_ops, scx_rs_bench, uei);
	link = SCX_OPS_ATTACH(skel, bench_ops, scx_rs_bench);

	printf("scx_rs_bench: %s kick %.1f\n", impl,
	       run(skel->progs.bench_kick, BENCH_KICK, target, rounds, iters));
	printf("scx_rs_bench: %s kick_idle %.1f\n", impl,
	       run(skel->progs.bench_kick, BENCH_KICK_IDLE, target, rounds,
		   iters));
	printf("scx_rs_bench: %s kick_preempt %.1f\n", impl,
	       run(skel->progs.bench_kick, BENCH_KICK_PREEMPT, target, rounds,
		   iters));
	printf("scx_rs_bench: %s dsq_create_destroy %.1f\n", impl,
	       run(skel->progs.bench_dsq, 1 << 20, 0, rounds, iters));

	/* the scheduler must not have exited while measured */
	if (UEI_EXITED(skel, uei)) {
		UEI_REPORT(skel, uei);
		return 1;
	}
	bpf_link__destroy(link);
	scx_rs_bench__destroy(skel);
	return 0;
}
