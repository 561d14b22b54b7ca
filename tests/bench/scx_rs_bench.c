/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_bench: time the paths scx_rs replaces, with whichever
 * implementation is installed (see scx_rs_bench.bpf.c).
 *
 * Prints one line per case: "scx_rs_bench: <impl> <case> <ns/call>", the
 * median of -r rounds of -n calls each. The sub_dispatch case runs last,
 * under its own pair of schedulers, and is skipped with a line saying why
 * if there is no cgroup v2 at /sys/fs/cgroup or no sub-scheduler support.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_bench.bpf.skel.h"

/* the empty cgroup of the sub_dispatch case's child */
#define SUB_CGRP	"/sys/fs/cgroup/scx_rs_bench"
#define SETTLE_US	50000
/* how long a round of that case waits for its batch */
#define SUB_WAIT_NS	(10ULL * 1000 * 1000 * 1000)

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
		int ret;

		/*
		 * Let the work earlier rounds left behind finish first: the
		 * RCU callbacks that free destroyed DSQs, the irq_works. Else
		 * they run inside this round's window, or not, depending on
		 * timing. (Cheap under icount: idle time is skipped.)
		 */
		usleep(SETTLE_US);
		ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

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

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Create the sub_dispatch case's cgroup, empty, and return its id (its inode
 * number), or 0 with the reason in *@skip if the case can't run here.
 */
static __u64 sub_cgroup(const char **skip)
{
	struct stat st;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
		*skip = "no cgroup v2 at /sys/fs/cgroup";
		return 0;
	}
	if (!__COMPAT_struct_has_field("sched_ext_ops_cid", "sub_cgroup_id") ||
	    !__COMPAT_has_ksym("scx_bpf_sub_dispatch")) {
		*skip = "no sub-scheduler support in the kernel";
		return 0;
	}
	if ((mkdir(SUB_CGRP, 0755) && errno != EEXIST) || stat(SUB_CGRP, &st)) {
		*skip = "cannot create " SUB_CGRP;
		return 0;
	}
	return st.st_ino;
}

/*
 * The sub_dispatch case: sub_root_ops and sub_child_ops replace bench_ops,
 * which must be detached. In each round this thread, pinned to @cpu, arms
 * the root's ops.dispatch() there and sleeps until it has run its batch of
 * @iters calls: the CPU goes through ops.dispatch() as it has nothing else
 * to run. The median over @rounds of the time per call, in ns.
 */
static double run_sub(struct scx_rs_bench *skel, int cpu, int rounds,
		      unsigned int iters)
{
	struct scx_rs_bench__bss *bss = skel->bss;
	struct bpf_link *root, *child;
	double per_call[64];
	cpu_set_t old, set;
	int r;

	root = bpf_map__attach_struct_ops(skel->maps.sub_root_ops);
	SCX_BUG_ON(!root, "Failed to attach the sub_dispatch root");
	child = bpf_map__attach_struct_ops(skel->maps.sub_child_ops);
	SCX_BUG_ON(!child, "Failed to attach the sub_dispatch child on %s",
		   SUB_CGRP);
	SCX_BUG_ON(skel->arena->sub_grant_err,
		   "The root failed to grant the child its caps (%d)",
		   skel->arena->sub_grant_err);

	SCX_BUG_ON(sched_getaffinity(0, sizeof(old), &old),
		   "sched_getaffinity");
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	SCX_BUG_ON(sched_setaffinity(0, sizeof(set), &set),
		   "Failed to move to CPU %d", cpu);

	for (r = 0; r < rounds; r++) {
		__u64 done = __atomic_load_n(&bss->sub_done, __ATOMIC_ACQUIRE);
		__u64 deadline = now_ns() + SUB_WAIT_NS;

		__atomic_store_n(&bss->sub_armed, 1, __ATOMIC_RELEASE);
		/* each sleep takes this CPU through ops.dispatch() */
		while (__atomic_load_n(&bss->sub_done, __ATOMIC_ACQUIRE) == done) {
			SCX_BUG_ON(now_ns() > deadline,
				   "No ops.dispatch() on CPU %d in %llu s", cpu,
				   SUB_WAIT_NS / 1000000000ULL);
			usleep(1000);
		}
		/* a child skipped, or one that found a task, is another path */
		if (bss->sub_steps != iters || bss->sub_found) {
			fprintf(stderr,
				"sub_dispatch: %u calls, %llu nested steps, %llu found a task\n",
				iters, (unsigned long long)bss->sub_steps,
				(unsigned long long)bss->sub_found);
			exit(1);
		}
		per_call[r] = (double)bss->sub_ns / iters;
	}
	sched_setaffinity(0, sizeof(old), &old);

	/* neither scheduler may have exited while measured */
	if (UEI_EXITED(skel, uei_child)) {
		UEI_REPORT(skel, uei_child);
		exit(1);
	}
	if (UEI_EXITED(skel, uei_root)) {
		UEI_REPORT(skel, uei_root);
		exit(1);
	}
	bpf_link__destroy(child);
	bpf_link__destroy(root);

	qsort(per_call, rounds, sizeof(per_call[0]), cmp_double);
	return per_call[rounds / 2];
}

int main(int argc, char **argv)
{
	struct scx_rs_bench *skel;
	struct bpf_link *link;
	const char *impl = "?", *skip = NULL;
	unsigned int iters = 1000;
	int rounds = 15, opt;
	int target = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	cpu_set_t here;
	__u64 cgid;

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

	/*
	 * Run on CPU 0, the target being the last CPU, so that both
	 * implementations are measured from the same CPU whatever the
	 * scheduler did meanwhile (make bench counts instructions: the
	 * figures repeat exactly only if the work does).
	 */
	CPU_ZERO(&here);
	CPU_SET(0, &here);
	SCX_BUG_ON(sched_setaffinity(0, sizeof(here), &here), "Failed to move to CPU 0");

	skel = SCX_OPS_OPEN(bench_ops, scx_rs_bench);
	skel->rodata->nr_iters = iters;

	/* sub_dispatch's pair: loaded (unless skipped) but attached later */
	cgid = sub_cgroup(&skip);
	if (cgid) {
		skel->struct_ops.sub_root_ops->hotplug_seq = scx_hotplug_seq();
		skel->struct_ops.sub_child_ops->sub_cgroup_id = cgid;
		skel->rodata->sub_cgid = cgid;
		skel->rodata->sub_cpu = target;
		UEI_SET_SIZE(skel, sub_root_ops, uei_root);
		UEI_SET_SIZE(skel, sub_child_ops, uei_child);
	} else {
		/* nor are their programs loaded then */
		bpf_map__set_autocreate(skel->maps.sub_root_ops, false);
		bpf_map__set_autocreate(skel->maps.sub_child_ops, false);
	}
	/* SCX_OPS_ATTACH()'s skeleton attach would attach them too */
	__SCX_OPS_DISABLE_AUTOATTACH(skel, sub_root_ops);
	__SCX_OPS_DISABLE_AUTOATTACH(skel, sub_child_ops);

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

	if (cgid) {
		printf("scx_rs_bench: %s sub_dispatch %.1f\n", impl,
		       run_sub(skel, target, rounds, iters));
		if (rmdir(SUB_CGRP))
			fprintf(stderr, "Failed to remove %s (%s)\n", SUB_CGRP,
				strerror(errno));
	} else {
		printf("scx_rs_bench: %s sub_dispatch skipped (%s)\n", impl,
		       skip);
	}

	scx_rs_bench__destroy(skel);
	return 0;
}
