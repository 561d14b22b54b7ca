/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_kicker: a global-FIFO scheduler that kicks CPUs all the time, for
 * make stress's hotplug_kicks scenario.
 *
 * From ops.tick() of every CPU it kicks the next possible CPU in turn with,
 * in turn, no flag, SCX_KICK_IDLE, SCX_KICK_PREEMPT, SCX_KICK_WAIT and
 * SCX_KICK_PREEMPT | SCX_KICK_WAIT, offline CPUs included (sched_ext skips
 * those): every kick path of scx_kick_cpu() and kick_cpus_irq_workfn()
 * runs while CPUs come and go. ops.cpu_online() and ops.cpu_offline() are
 * implemented (they count), so that hotplug does not exit the scheduler.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

const volatile u32 nr_cpus = 1;

UEI_DEFINE(uei);

#define SHARED_DSQ 0
#define NR_FLAVOURS 5

u64 nr_kicks[NR_FLAVOURS];
u64 nr_online, nr_offline;
static u32 next_cpu, next_flavour;

static const u64 flavours[NR_FLAVOURS] = {
	0,
	SCX_KICK_IDLE,
	SCX_KICK_PREEMPT,
	SCX_KICK_WAIT,
	SCX_KICK_PREEMPT | SCX_KICK_WAIT,
};

void BPF_STRUCT_OPS(kicker_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
}

void BPF_STRUCT_OPS(kicker_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(SHARED_DSQ, 0);
}

void BPF_STRUCT_OPS(kicker_tick, struct task_struct *p)
{
	u32 cpu = __sync_fetch_and_add(&next_cpu, 1) % nr_cpus;
	u32 f = __sync_fetch_and_add(&next_flavour, 1) % NR_FLAVOURS;

	if (f >= NR_FLAVOURS)
		return;
	scx_bpf_kick_cpu(cpu, flavours[f]);
	__sync_fetch_and_add(&nr_kicks[f], 1);
}

void BPF_STRUCT_OPS(kicker_cpu_online, s32 cpu)
{
	__sync_fetch_and_add(&nr_online, 1);
}

void BPF_STRUCT_OPS(kicker_cpu_offline, s32 cpu)
{
	__sync_fetch_and_add(&nr_offline, 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(kicker_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(kicker_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(kicker_ops,
	       .enqueue			= (void *)kicker_enqueue,
	       .dispatch		= (void *)kicker_dispatch,
	       .tick			= (void *)kicker_tick,
	       .cpu_online		= (void *)kicker_cpu_online,
	       .cpu_offline		= (void *)kicker_cpu_offline,
	       .init			= (void *)kicker_init,
	       .exit			= (void *)kicker_exit,
	       .name			= "scx_rs_kicker");
