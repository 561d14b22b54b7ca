/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_kicker: a global-FIFO scheduler that kicks CPUs all the time, for
 * make stress's hotplug_kicks scenario (CPUs taken offline and online again
 * and again while it runs).
 *
 * Scheduling is scx_simple's FIFO mode: every task goes to one shared DSQ,
 * created in ops.init(), and ops.dispatch() moves the first one to the local
 * DSQ.
 *
 * From ops.tick() of every CPU running a task of ours, it kicks the next
 * possible CPU in turn, offline ones included (sched_ext skips those when
 * the kick is delivered), with each flavour in turn: no flag, SCX_KICK_IDLE,
 * SCX_KICK_PREEMPT, SCX_KICK_WAIT and SCX_KICK_PREEMPT | SCX_KICK_WAIT. One
 * sequence number picks both, the CPU as seq % nr_cpu_ids and the flavour as
 * (seq / nr_cpu_ids) % 5, so that every CPU gets every flavour whatever the
 * number of CPUs. So every path of scx_kick_cpu() and of the kick irq_work
 * (kick_cpus_irq_workfn()) runs while CPUs come and go, as does the
 * SCX_KICK_WAIT wait in the balance callback.
 * scx_bpf_kick_cpu() is in the kfunc set any op may call (scx_kfunc_ids_any),
 * ops.tick() included.
 *
 * ops.cpu_online() and ops.cpu_offline() are implemented (they count): without
 * them, sched_ext exits the scheduler on the first hotplug event.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

#define SHARED_DSQ	0
#define NR_FLAVOURS	5

/* kicks made, by flavour: none, idle, preempt, wait, preempt|wait */
u64 nr_kicks[NR_FLAVOURS];
/* ops.cpu_online() and ops.cpu_offline() calls */
u64 nr_online, nr_offline;
/* kicks attempted, across all CPUs: picks the target and the flavour */
static u64 kick_seq;

/*
 * SCX_KICK_* are read-only globals set from the kernel's BTF when the
 * skeleton is opened (SCX_ENUM_INIT()), not constants: no table of them.
 */
static __always_inline u64 kick_flags(u32 flavour)
{
	switch (flavour) {
	case 1:
		return SCX_KICK_IDLE;
	case 2:
		return SCX_KICK_PREEMPT;
	case 3:
		return SCX_KICK_WAIT;
	case 4:
		return SCX_KICK_PREEMPT | SCX_KICK_WAIT;
	default:
		return 0;
	}
}

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
	const struct cpumask *possible;
	u32 nr = scx_bpf_nr_cpu_ids();
	u64 seq = __sync_fetch_and_add(&kick_seq, 1);
	u32 flavour;
	s32 cpu;
	bool ok;

	if (!nr)
		return;
	cpu = seq % nr;
	flavour = (seq / nr) % NR_FLAVOURS;
	if (flavour >= NR_FLAVOURS)
		return;

	/*
	 * Offline CPUs are kicked too, but a CPU that is not possible would be
	 * an error (scx_cpu_valid()) and end the scheduler; there are none
	 * below nr_cpu_ids unless the possible mask has holes.
	 */
	possible = scx_bpf_get_possible_cpumask();
	ok = bpf_cpumask_test_cpu(cpu, possible);
	scx_bpf_put_cpumask(possible);
	if (!ok)
		return;

	scx_bpf_kick_cpu(cpu, kick_flags(flavour));
	/*
	 * Constant indices: clang turns "% NR_FLAVOURS" into a multiply and a
	 * shift whose bounds the verifier does not follow, and drops the test
	 * above as always true.
	 */
	switch (flavour) {
	case 0:
		__sync_fetch_and_add(&nr_kicks[0], 1);
		break;
	case 1:
		__sync_fetch_and_add(&nr_kicks[1], 1);
		break;
	case 2:
		__sync_fetch_and_add(&nr_kicks[2], 1);
		break;
	case 3:
		__sync_fetch_and_add(&nr_kicks[3], 1);
		break;
	default:
		__sync_fetch_and_add(&nr_kicks[4], 1);
		break;
	}
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
	s32 ret;

	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (ret) {
		scx_bpf_error("failed to create DSQ %d (%d)", SHARED_DSQ, ret);
		return ret;
	}
	return 0;
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
