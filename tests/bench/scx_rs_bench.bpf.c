/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_bench: the cost of the paths scx_rs replaces, called from BPF.
 *
 * A minimal root scheduler (every task FIFO on the global DSQ, bench_ops) is
 * loaded so that the kfuncs have a scheduler to act for; SEC("syscall")
 * programs run with bpf_prog_test_run() then call a kfunc nr_iters times
 * between two bpf_ktime_get_ns() and report the total. SCX_OPS_LOAD()
 * associates the SYSCALL programs with bench_ops (unassociated ones would
 * act for the root scheduler as it has no ops.sub_attach()).
 *
 * scx_bpf_sub_dispatch() is callable from ops.dispatch() only, and
 * sub-schedulers need the cid form of the struct_ops, whose programs must use
 * a BPF arena map. So the sub_dispatch case has a second pair in this object,
 * attached once bench_ops is detached: sub_root_ops, a cid-form root that
 * again leaves every task FIFO on its global DSQ and grants its child the
 * caps scx_bpf_sub_dispatch() needs, and sub_child_ops, a child on an empty
 * cgroup whose ops.dispatch() only counts its calls. When user space arms
 * it, the root's ops.dispatch() on sub_cpu calls scx_bpf_sub_dispatch() for
 * the child nr_iters times between two bpf_ktime_get_ns(): each call runs a
 * nested dispatch step that finds nothing, calling the child's
 * ops.dispatch() once.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/bpf_arena_common.bpf.h>

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

/*
 * The sub_dispatch case. Every cid-form sched must use an arena map, and a
 * program passing an arena pointer to a kfunc (scx_bpf_sub_grant()) must
 * reference it: what the root's and the child's programs write lives there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 10);		/* pages; sched_ext allocates there too */
#if defined(__TARGET_ARCH_arm64) || defined(__aarch64__)
	__ulong(map_extra, 0x1ull << 32);
#else
	__ulong(map_extra, 0x1ull << 44);
#endif
} arena SEC(".maps");

/* calls of the child's ops.dispatch(), on sub_cpu only */
u64 __arena nr_child_dispatch;
/* out: what scx_bpf_sub_grant() returned in the root's ops.sub_attach() */
s32 __arena sub_grant_err;

const volatile u64 sub_cgid;	/* the child's cgroup id */
const volatile s32 sub_cpu;	/* the CPU whose ops.dispatch() is timed */

u32 sub_armed;		/* in: set by user space, cleared after one batch */
u64 sub_ns;		/* out: total time of the nr_iters calls */
u64 sub_steps;		/* out: the child's ops.dispatch() calls in them */
u64 sub_found;		/* out: the calls that returned true */
u64 sub_done;		/* out: batches run */

UEI_DEFINE(uei_root);
UEI_DEFINE(uei_child);

/*
 * scx_bpf_sub_dispatch() for a child with nothing to run: find the child,
 * check its base cap on this cpu, then the nested scx_dispatch_sched():
 * consume the child's empty global DSQ, the bypass test, the child's
 * ops.dispatch() once, the flush of its empty dispatch buffer, the tests of
 * @prev, the local and the global DSQ, and the end of the loop as nothing
 * was inserted. One batch per arming, run with this rq locked.
 */
void BPF_STRUCT_OPS(sub_root_dispatch, s32 cid, struct task_struct *prev)
{
	u64 cgid = sub_cgid, calls, t0, ns;
	u32 i, found = 0;

	if (!READ_ONCE(sub_armed) || (s32)bpf_get_smp_processor_id() != sub_cpu)
		return;

	calls = nr_child_dispatch;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, nr_iters)
		found += scx_bpf_sub_dispatch(cgid);
	ns = bpf_ktime_get_ns() - t0;

	sub_ns = ns;
	sub_steps = nr_child_dispatch - calls;
	sub_found = found;
	WRITE_ONCE(sub_armed, 0);
	/* a full barrier: user space reads the results once it sees this */
	__sync_fetch_and_add(&sub_done, 1);
}

/*
 * Without SCX_CAP_ENQ_IMMED (SCX_CAP_BASE) on the cpu,
 * scx_bpf_sub_dispatch() skips the child; grant it on every online cid.
 */
s32 BPF_STRUCT_OPS(sub_root_sub_attach, struct scx_sub_attach_args *args)
{
	const struct scx_cmask __arena *online;

	online = (const struct scx_cmask __arena *)scx_bpf_online_cmask();
	if (!online) {
		sub_grant_err = -ENODEV;
		return 0;
	}
	sub_grant_err = scx_bpf_sub_grant(sub_cgid,
					  SCX_CAP_ENQ_IMMED | SCX_CAP_ENQ,
					  online, NULL);
	return 0;
}

void BPF_STRUCT_OPS(sub_root_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_root, ei);
}

/* inserts nothing: the nested dispatch step ends after this one call */
void BPF_STRUCT_OPS(sub_child_dispatch, s32 cid, struct task_struct *prev)
{
	/* only the root's timed loop on sub_cpu gets here, one cpu at a time */
	nr_child_dispatch++;
}

void BPF_STRUCT_OPS(sub_child_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_child, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid sub_root_ops = {
	.dispatch		= (void *)sub_root_dispatch,
	.sub_attach		= (void *)sub_root_sub_attach,
	.exit			= (void *)sub_root_exit,
	.name			= "scx_rs_bench_root",
};

/* sub_cgroup_id set by user space */
SEC(".struct_ops.link")
struct sched_ext_ops_cid sub_child_ops = {
	.dispatch		= (void *)sub_child_dispatch,
	.exit			= (void *)sub_child_exit,
	.name			= "scx_rs_bench_child",
};
