/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SCX_KICK_IDLE cannot be combined with SCX_KICK_PREEMPT or SCX_KICK_WAIT:
 * scx_bpf_kick_cpu() exits the scheduler with an error.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

void BPF_STRUCT_OPS(kick_idle_preempt_fail_enqueue, struct task_struct *p,
		    u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
	scx_bpf_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_IDLE | SCX_KICK_PREEMPT);
}

void BPF_STRUCT_OPS(kick_idle_preempt_fail_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops kick_idle_preempt_fail_ops = {
	.enqueue		= (void *)kick_idle_preempt_fail_enqueue,
	.exit			= (void *)kick_idle_preempt_fail_exit,
	.name			= "kick_idle_preempt_fail",
	.timeout_ms		= 1000U,
};
