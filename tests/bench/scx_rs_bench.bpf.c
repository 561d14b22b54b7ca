/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_bench: the cost of the paths scx_rs replaces, called from BPF.
 *
 * A minimal root scheduler (every task FIFO on the global DSQ) is loaded so
 * that the kfuncs have a scheduler to act for; SEC("syscall") programs run
 * with bpf_prog_test_run() then call a kfunc nr_iters times between two
 * bpf_ktime_get_ns() and report the total. Unassociated SYSCALL programs
 * act for the root scheduler when it has no ops.sub_attach().
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

const volatile u32 nr_iters = 1000;

UEI_DEFINE(uei);

enum bench_kick {
	BENCH_KICK,		/* a plain kick */
	BENCH_KICK_IDLE,	/* SCX_KICK_IDLE */
	BENCH_KICK_PREEMPT,	/* SCX_KICK_PREEMPT */
};

struct bench_args {
	u64 arg;	/* in: enum bench_kick / first DSQ id */
	s32 cpu;	/* in: CPU to kick */
	s32 err;	/* out */
	u64 ns;		/* out: total time of the nr_iters calls */
};

void BPF_STRUCT_OPS(bench_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops bench_ops = {
	.exit			= (void *)bench_exit,
	.name			= "scx_rs_bench",
};

/*
 * scx_bpf_kick_cpu(): records the kick and raises this CPU's kick irq_work.
 * The program runs with IRQs enabled, so the irq_work (locking the target
 * rq, resched_curr()) runs right away and is timed too.
 */
SEC("syscall")
int bench_kick(struct bench_args *args)
{
	u64 flags = args->arg == BENCH_KICK_IDLE ? SCX_KICK_IDLE :
		    args->arg == BENCH_KICK_PREEMPT ? SCX_KICK_PREEMPT : 0;
	u64 t0 = bpf_ktime_get_ns();
	u32 i;

	bpf_for(i, 0, nr_iters)
		scx_bpf_kick_cpu(args->cpu, flags);
	args->ns = bpf_ktime_get_ns() - t0;
	return 0;
}

/*
 * scx_bpf_create_dsq() + scx_bpf_destroy_dsq(): allocation and
 * scx_init_dsq(), hashing, then destruction handed to the free irq_work,
 * which runs right away (the RCU-deferred exit and free are not timed).
 */
SEC("syscall")
int bench_dsq(struct bench_args *args)
{
	u64 t0 = bpf_ktime_get_ns();
	u32 i;

	bpf_for(i, 0, nr_iters) {
		args->err = scx_bpf_create_dsq(args->arg + i, -1);
		if (args->err)
			return 0;
		scx_bpf_destroy_dsq(args->arg + i);
	}
	args->ns = bpf_ktime_get_ns() - t0;
	return 0;
}
