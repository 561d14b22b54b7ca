/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A three-level hierarchy root -> child -> leaf. Each scheduler queues its
 * own tasks on its own DSQ; its ops.dispatch() moves a task from that DSQ
 * and, if there is none, runs the nested dispatch step of its child with
 * scx_bpf_sub_dispatch(). The leaf only moves from its own DSQ. Each level
 * counts its enqueues, its ops.dispatch() calls, the tasks moved from its own
 * DSQ and the nested steps that found something to run, in the arena that
 * cid-form schedulers need.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/bpf_arena_common.bpf.h>
#include "sub_dispatch_common.bpf.h"

char _license[] SEC("license") = "GPL";

/* one DSQ per scheduler, each in its own scheduler's DSQ namespace */
#define ROOT_DSQ	0x100
#define CHILD_DSQ	0x200
#define LEAF_DSQ	0x300

/* the counters are indexed by level: 0 root, 1 child, 2 leaf */
u64 __arena nr_enqueued[3], nr_dispatched[3], nr_moved[3], nr_sub_found[3];
/* ops.sub_attach() calls of the root and the child, failed grants */
u64 __arena nr_attached[3];

/* cgroup ids of the child and the leaf, set by user space */
const volatile u64 child_cgid, leaf_cgid;

UEI_DEFINE(uei);
UEI_DEFINE(uei_child);
UEI_DEFINE(uei_leaf);

/*
 * Delegate queueing on and dispatching to every online cid to the child on
 * @cgid. Without SCX_CAP_ENQ_IMMED (SCX_CAP_BASE) scx_bpf_sub_dispatch()
 * skips the child, without SCX_CAP_ENQ its tasks can't enter a local DSQ.
 */

s32 BPF_STRUCT_OPS(sdn_root_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	/* no direct dispatch: every wakeup goes through ops.enqueue() */
	return prev_cid;
}

void BPF_STRUCT_OPS(sdn_root_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[0], 1);
	scx_bpf_dsq_insert(p, ROOT_DSQ, SCX_SLICE_DFL, enq_flags);
}

/*
 * Stack used per nesting level: each level records the address of one of
 * its stack slots before it dispatches its child, and the child the
 * distance from there to a slot of its own. The distance covers the kfunc,
 * the nested dispatch step of whichever implementation is installed and the
 * struct_ops trampoline of the child's ops.dispatch(). (Reading a stack
 * address as a number needs the privileges the test runs with.)
 */
#define SDN_MAX_CPUS	64
u64 sp_at[2][SDN_MAX_CPUS], here_at[2][SDN_MAX_CPUS];
u64 stack_min[2], stack_max[2];

static __always_inline void record_sp(int lvl, volatile u64 *slot)
{
	u32 cpu = bpf_get_smp_processor_id() & (SDN_MAX_CPUS - 1);

	sp_at[lvl][cpu] = (u64)slot;
}

static __always_inline void record_stack(int lvl, volatile u64 *slot)
{
	u32 cpu = bpf_get_smp_processor_id() & (SDN_MAX_CPUS - 1);
	u64 parent = sp_at[lvl][cpu], here, used;

	/* through memory, read back as a number: it was stored as a pointer */
	here_at[lvl][cpu] = (u64)slot;
	here = *(volatile u64 *)&here_at[lvl][cpu];
	if (!parent || parent <= here)
		return;
	used = parent - here;
	if (!stack_min[lvl] || used < stack_min[lvl])
		stack_min[lvl] = used;
	if (used > stack_max[lvl])
		stack_max[lvl] = used;
}

void BPF_STRUCT_OPS(sdn_root_dispatch, s32 cid, struct task_struct *prev)
{
	volatile u64 slot = 0;

	__sync_fetch_and_add(&nr_dispatched[0], 1);
	if (scx_bpf_dsq_move_to_local(ROOT_DSQ, 0)) {
		__sync_fetch_and_add(&nr_moved[0], 1);
		return;
	}
	record_sp(0, &slot);
	if (scx_bpf_sub_dispatch(child_cgid))
		__sync_fetch_and_add(&nr_sub_found[0], 1);
}

s32 BPF_STRUCT_OPS(sdn_root_sub_attach, struct scx_sub_attach_args *args)
{
	__sync_fetch_and_add(&nr_attached[0], 1);
	return grant_all_cids(child_cgid);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdn_root_init)
{
	return scx_bpf_create_dsq(ROOT_DSQ, -1);
}

void BPF_STRUCT_OPS(sdn_root_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

s32 BPF_STRUCT_OPS(sdn_child_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdn_child_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[1], 1);
	scx_bpf_dsq_insert(p, CHILD_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdn_child_dispatch, s32 cid, struct task_struct *prev)
{
	volatile u64 slot = 0;

	record_stack(0, &slot);
	__sync_fetch_and_add(&nr_dispatched[1], 1);
	if (scx_bpf_dsq_move_to_local(CHILD_DSQ, 0)) {
		__sync_fetch_and_add(&nr_moved[1], 1);
		return;
	}
	record_sp(1, &slot);
	if (scx_bpf_sub_dispatch(leaf_cgid))
		__sync_fetch_and_add(&nr_sub_found[1], 1);
}

s32 BPF_STRUCT_OPS(sdn_child_sub_attach, struct scx_sub_attach_args *args)
{
	__sync_fetch_and_add(&nr_attached[1], 1);
	return grant_all_cids(leaf_cgid);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdn_child_init)
{
	return scx_bpf_create_dsq(CHILD_DSQ, -1);
}

void BPF_STRUCT_OPS(sdn_child_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_child, ei);
}

s32 BPF_STRUCT_OPS(sdn_leaf_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdn_leaf_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[2], 1);
	scx_bpf_dsq_insert(p, LEAF_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdn_leaf_dispatch, s32 cid, struct task_struct *prev)
{
	volatile u64 slot = 0;

	record_stack(1, &slot);
	__sync_fetch_and_add(&nr_dispatched[2], 1);
	if (scx_bpf_dsq_move_to_local(LEAF_DSQ, 0))
		__sync_fetch_and_add(&nr_moved[2], 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdn_leaf_init)
{
	return scx_bpf_create_dsq(LEAF_DSQ, -1);
}

void BPF_STRUCT_OPS(sdn_leaf_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_leaf, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdn_root_ops = {
	.select_cid		= (void *)sdn_root_select_cid,
	.enqueue		= (void *)sdn_root_enqueue,
	.dispatch		= (void *)sdn_root_dispatch,
	.sub_attach		= (void *)sdn_root_sub_attach,
	.init			= (void *)sdn_root_init,
	.exit			= (void *)sdn_root_exit,
	.name			= "sdn_root",
	.timeout_ms		= 5000U,
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdn_child_ops = {
	.select_cid		= (void *)sdn_child_select_cid,
	.enqueue		= (void *)sdn_child_enqueue,
	.dispatch		= (void *)sdn_child_dispatch,
	.sub_attach		= (void *)sdn_child_sub_attach,
	.init			= (void *)sdn_child_init,
	.exit			= (void *)sdn_child_exit,
	.name			= "sdn_child",
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdn_leaf_ops = {
	.select_cid		= (void *)sdn_leaf_select_cid,
	.enqueue		= (void *)sdn_leaf_enqueue,
	.dispatch		= (void *)sdn_leaf_dispatch,
	.init			= (void *)sdn_leaf_init,
	.exit			= (void *)sdn_leaf_exit,
	.name			= "sdn_leaf",
};
