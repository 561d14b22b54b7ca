/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_bpf_sub_dispatch() may dispatch only a direct child of the caller: a
 * root that names its grandchild exits with an error. Sub-schedulers need
 * the cid form of the struct_ops, whose programs must use a BPF arena map:
 * each scheduler counts its calls there.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/bpf_arena_common.bpf.h>

char _license[] SEC("license") = "GPL";

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

u64 __arena root_calls, mid_calls, leaf_calls;

/* cgroup id of the grandchild, set by user space */
const volatile u64 leaf_cgid;

UEI_DEFINE(uei);

void BPF_STRUCT_OPS(sdd_root_dispatch, s32 cid, struct task_struct *prev)
{
	root_calls++;
	scx_bpf_sub_dispatch(leaf_cgid);
}

s32 BPF_STRUCT_OPS(sdd_root_sub_attach, struct scx_sub_attach_args *args)
{
	root_calls++;
	return 0;
}

void BPF_STRUCT_OPS(sdd_root_exit, struct scx_exit_info *ei)
{
	root_calls++;
	UEI_RECORD(uei, ei);
}

s32 BPF_STRUCT_OPS(sdd_mid_sub_attach, struct scx_sub_attach_args *args)
{
	mid_calls++;
	return 0;
}

void BPF_STRUCT_OPS(sdd_leaf_exit, struct scx_exit_info *ei)
{
	leaf_calls++;
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdd_root_ops = {
	.dispatch		= (void *)sdd_root_dispatch,
	.sub_attach		= (void *)sdd_root_sub_attach,
	.exit			= (void *)sdd_root_exit,
	.name			= "sdd_root",
	.timeout_ms		= 1000U,
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdd_mid_ops = {
	.sub_attach		= (void *)sdd_mid_sub_attach,
	.name			= "sdd_mid",
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid sdd_leaf_ops = {
	.exit			= (void *)sdd_leaf_exit,
	.name			= "sdd_leaf",
};
