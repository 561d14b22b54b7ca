/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A hierarchy root -> mid -> leaf in which the root reaches mid, and mid the
 * leaf, only through scx_bpf_sub_dispatch(). While the leaf is being
 * disabled it bypasses: its runnable tasks are queued on the bypass DSQs of
 * mid, the nearest ancestor that doesn't bypass, and mid's nested dispatch
 * step has to run them. To widen that window, mid's ops.init_task(), called
 * for each leaf task as it is re-homed to mid, spins for a while once user
 * space asks for it. mid records its SCX_EV_SUB_BYPASS_DISPATCH count when
 * it exits.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/bpf_arena_common.bpf.h>
#include "sub_dispatch_common.bpf.h"

char _license[] SEC("license") = "GPL";

#define ROOT_DSQ	0x100
#define MID_DSQ		0x200
#define LEAF_DSQ	0x300

/* how long mid's ops.init_task() spins per task, and a bound on the loop */
#define INIT_SPIN_NS	(10 * 1000 * 1000)
#define INIT_SPIN_LOOPS	(1 << 22)

/* indexed by level: 0 root, 1 mid, 2 leaf */
u64 __arena nr_enqueued[3], nr_dispatched[3], nr_sub_found[3];
/* ops.sub_attach() calls of the root and mid, failed grants */
u64 __arena nr_attached[3];
/* mid's ops.init_task() calls while slow_init was set */
u64 __arena nr_slow_inits;
/* mid's SCX_EV_SUB_BYPASS_DISPATCH, read in its ops.exit() */
u64 __arena mid_sub_bypass_dispatch, mid_exited;

const volatile u64 mid_cgid, leaf_cgid;

/* set by user space around the leaf's disabling */
u32 slow_init;

UEI_DEFINE(uei);
UEI_DEFINE(uei_mid);
UEI_DEFINE(uei_leaf);

s32 BPF_STRUCT_OPS(sdb_root_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdb_root_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[0], 1);
	scx_bpf_dsq_insert(p, ROOT_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdb_root_dispatch, s32 cid, struct task_struct *prev)
{
	__sync_fetch_and_add(&nr_dispatched[0], 1);
	if (scx_bpf_dsq_move_to_local(ROOT_DSQ, 0))
		return;
	/* false once mid is gone */
	if (scx_bpf_sub_dispatch(mid_cgid))
		__sync_fetch_and_add(&nr_sub_found[0], 1);
}

s32 BPF_STRUCT_OPS(sdb_root_sub_attach, struct scx_sub_attach_args *args)
{
	__sync_fetch_and_add(&nr_attached[0], 1);
	return grant_all_cids(mid_cgid);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdb_root_init)
{
	return scx_bpf_create_dsq(ROOT_DSQ, -1);
}

void BPF_STRUCT_OPS(sdb_root_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

s32 BPF_STRUCT_OPS(sdb_mid_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdb_mid_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[1], 1);
	scx_bpf_dsq_insert(p, MID_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdb_mid_dispatch, s32 cid, struct task_struct *prev)
{
	__sync_fetch_and_add(&nr_dispatched[1], 1);
	if (scx_bpf_dsq_move_to_local(MID_DSQ, 0))
		return;
	/* false once the leaf is gone */
	if (scx_bpf_sub_dispatch(leaf_cgid))
		__sync_fetch_and_add(&nr_sub_found[1], 1);
}

s32 BPF_STRUCT_OPS(sdb_mid_init_task, struct task_struct *p,
		   struct scx_init_task_args *args)
{
	u64 end;
	int i;

	if (!slow_init)
		return 0;

	__sync_fetch_and_add(&nr_slow_inits, 1);
	end = bpf_ktime_get_ns() + INIT_SPIN_NS;
	bpf_for(i, 0, INIT_SPIN_LOOPS) {
		if (bpf_ktime_get_ns() >= end)
			break;
	}
	return 0;
}

s32 BPF_STRUCT_OPS(sdb_mid_sub_attach, struct scx_sub_attach_args *args)
{
	__sync_fetch_and_add(&nr_attached[1], 1);
	return grant_all_cids(leaf_cgid);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdb_mid_init)
{
	return scx_bpf_create_dsq(MID_DSQ, -1);
}

void BPF_STRUCT_OPS(sdb_mid_exit, struct scx_exit_info *ei)
{
	struct scx_event_stats events;

	__builtin_memset(&events, 0, sizeof(events));
	scx_bpf_events(&events, sizeof(events));
	mid_sub_bypass_dispatch = scx_read_event(&events, SCX_EV_SUB_BYPASS_DISPATCH);
	mid_exited = 1;
	UEI_RECORD(uei_mid, ei);
}

s32 BPF_STRUCT_OPS(sdb_leaf_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdb_leaf_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&nr_enqueued[2], 1);
	scx_bpf_dsq_insert(p, LEAF_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdb_leaf_dispatch, s32 cid, struct task_struct *prev)
{
	__sync_fetch_and_add(&nr_dispatched[2], 1);
	scx_bpf_dsq_move_to_local(LEAF_DSQ, 0);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdb_leaf_init)
{
	return scx_bpf_create_dsq(LEAF_DSQ, -1);
}

void BPF_STRUCT_OPS(sdb_leaf_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_leaf, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdb_root_ops = {
	.select_cid		= (void *)sdb_root_select_cid,
	.enqueue		= (void *)sdb_root_enqueue,
	.dispatch		= (void *)sdb_root_dispatch,
	.sub_attach		= (void *)sdb_root_sub_attach,
	.init			= (void *)sdb_root_init,
	.exit			= (void *)sdb_root_exit,
	.name			= "sdb_root",
	.timeout_ms		= 5000U,
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdb_mid_ops = {
	.select_cid		= (void *)sdb_mid_select_cid,
	.enqueue		= (void *)sdb_mid_enqueue,
	.dispatch		= (void *)sdb_mid_dispatch,
	.init_task		= (void *)sdb_mid_init_task,
	.sub_attach		= (void *)sdb_mid_sub_attach,
	.init			= (void *)sdb_mid_init,
	.exit			= (void *)sdb_mid_exit,
	.name			= "sdb_mid",
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdb_leaf_ops = {
	.select_cid		= (void *)sdb_leaf_select_cid,
	.enqueue		= (void *)sdb_leaf_enqueue,
	.dispatch		= (void *)sdb_leaf_dispatch,
	.init			= (void *)sdb_leaf_init,
	.exit			= (void *)sdb_leaf_exit,
	.name			= "sdb_leaf",
};
