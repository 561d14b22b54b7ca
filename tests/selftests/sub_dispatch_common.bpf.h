/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BPF side shared by scx_rs's sub_dispatch_* selftests: the arena that a
 * cid-form scheduler needs, and the grant of baseline caps a parent gives
 * its child so that scx_bpf_sub_dispatch() does not skip it.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#ifndef __SUB_DISPATCH_COMMON_BPF_H
#define __SUB_DISPATCH_COMMON_BPF_H

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

/* grants that failed, which the tests require to be none */
u64 __arena nr_grant_failed;

static __always_inline s32 grant_all_cids(u64 cgid)
{
	const struct scx_cmask __arena *online;

	online = (const struct scx_cmask __arena *)scx_bpf_online_cmask();
	if (!online)
		return -ENODEV;
	if (scx_bpf_sub_grant(cgid, SCX_CAP_ENQ_IMMED | SCX_CAP_ENQ, online, NULL))
		__sync_fetch_and_add(&nr_grant_failed, 1);
	return 0;
}

#endif /* __SUB_DISPATCH_COMMON_BPF_H */
