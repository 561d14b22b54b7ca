/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A child whose ops.dispatch(), when its own DSQ is empty, inserts a task it
 * owns but that isn't queued on it: a sleeping task, whose pid user space
 * provides. finish_dispatch() ignores the insertion but it still counts as a
 * dispatched task, so the nested dispatch step keeps calling the child until
 * it gives up after SCX_DSP_MAX_LOOPS calls. The root resets a per-cid call
 * counter before each scx_bpf_sub_dispatch(), the child bumps it in each of
 * its ops.dispatch() calls, and the root records the largest count and the
 * steps that reached the limit.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/bpf_arena_common.bpf.h>
#include "sub_dispatch_common.bpf.h"

char _license[] SEC("license") = "GPL";

#define ROOT_DSQ	0x100
#define CHILD_DSQ	0x200

/* cids counted, the same in sub_dispatch_loop_limit.c */
#define MAX_CIDS	512

/* per cid: written only by the dispatch path of that cid's rq */
u32 __arena step_calls[MAX_CIDS], max_calls[MAX_CIDS];
u64 __arena nr_steps[MAX_CIDS], nr_limit_hits[MAX_CIDS], nr_found[MAX_CIDS];
u64 __arena nr_child_dispatched, nr_child_moved, nr_spurious;
u64 __arena nr_attached;

const volatile u64 child_cgid;
/* SCX_DSP_MAX_LOOPS, read from the kernel's BTF by user space */
const volatile u32 max_loops;

/* the sleeping task of the child to insert, 0 for none; set by user space */
s32 sleeper_pid;

UEI_DEFINE(uei);
UEI_DEFINE(uei_child);

s32 BPF_STRUCT_OPS(sdl_root_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdl_root_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, ROOT_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdl_root_dispatch, s32 cid, struct task_struct *prev)
{
	u32 calls;
	bool found;

	if (scx_bpf_dsq_move_to_local(ROOT_DSQ, 0))
		return;

	if ((u32)cid >= MAX_CIDS) {
		scx_bpf_sub_dispatch(child_cgid);
		return;
	}

	step_calls[cid] = 0;
	found = scx_bpf_sub_dispatch(child_cgid);
	calls = step_calls[cid];

	nr_steps[cid]++;
	if (found)
		nr_found[cid]++;
	if (calls > max_calls[cid])
		max_calls[cid] = calls;
	if (calls == max_loops)
		nr_limit_hits[cid]++;
}

s32 BPF_STRUCT_OPS(sdl_root_sub_attach, struct scx_sub_attach_args *args)
{
	__sync_fetch_and_add(&nr_attached, 1);
	return grant_all_cids(child_cgid);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdl_root_init)
{
	return scx_bpf_create_dsq(ROOT_DSQ, -1);
}

void BPF_STRUCT_OPS(sdl_root_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

s32 BPF_STRUCT_OPS(sdl_child_select_cid, struct task_struct *p, s32 prev_cid,
		   u64 wake_flags)
{
	return prev_cid;
}

void BPF_STRUCT_OPS(sdl_child_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, CHILD_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(sdl_child_dispatch, s32 cid, struct task_struct *prev)
{
	struct task_struct *p;
	s32 pid;

	__sync_fetch_and_add(&nr_child_dispatched, 1);
	if ((u32)cid < MAX_CIDS)
		step_calls[cid]++;

	if (scx_bpf_dsq_move_to_local(CHILD_DSQ, 0)) {
		__sync_fetch_and_add(&nr_child_moved, 1);
		return;
	}

	/*
	 * Nothing to run. Insert a task that is ours but not queued on us:
	 * ignored, but it keeps the nested step looping.
	 */
	pid = sleeper_pid;
	if (!pid)
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if (scx_bpf_dsq_insert(p, CHILD_DSQ, SCX_SLICE_DFL, 0))
		__sync_fetch_and_add(&nr_spurious, 1);
	bpf_task_release(p);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(sdl_child_init)
{
	return scx_bpf_create_dsq(CHILD_DSQ, -1);
}

void BPF_STRUCT_OPS(sdl_child_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_child, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdl_root_ops = {
	.select_cid		= (void *)sdl_root_select_cid,
	.enqueue		= (void *)sdl_root_enqueue,
	.dispatch		= (void *)sdl_root_dispatch,
	.sub_attach		= (void *)sdl_root_sub_attach,
	.init			= (void *)sdl_root_init,
	.exit			= (void *)sdl_root_exit,
	.name			= "sdl_root",
	.timeout_ms		= 5000U,
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdl_child_ops = {
	.select_cid		= (void *)sdl_child_select_cid,
	.enqueue		= (void *)sdl_child_enqueue,
	.dispatch		= (void *)sdl_child_dispatch,
	.init			= (void *)sdl_child_init,
	.exit			= (void *)sdl_child_exit,
	.name			= "sdl_child",
};
