/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_dsq_churn: create (and destroy) user DSQs from a SEC("syscall")
 * program, with or without a sched_ext scheduler loaded.
 *
 * scx_bpf_create_dsq() runs scx_init_dsq() before it looks a scheduler up,
 * and exit_dsq() when there is none: with no scheduler loaded, every call
 * goes through the implementation's init and exit of a DSQ and returns
 * -ENODEV. Nothing pins the implementation's module there but the patched
 * ext class itself, which is what this program exercises while the module
 * is loaded and unloaded under it.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

struct churn_args {
	u64 first_id;	/* in: first DSQ id of this round */
	u32 nr;		/* in: calls in this round */
	u32 nr_ok;	/* out: created (and destroyed again) */
	u32 nr_enodev;	/* out: -ENODEV, no scheduler */
	u32 nr_enomem;	/* out: -ENOMEM, an allocation failed */
	u32 nr_other;	/* out: anything else */
	s32 last_other;	/* out: the last "anything else" */
};

SEC("syscall")
int churn_create_dsq(struct churn_args *args)
{
	u64 first = args->first_id;
	u32 i, nr = args->nr;

	bpf_for(i, 0, nr) {
		s32 ret = scx_bpf_create_dsq(first + i, -1);

		if (!ret) {
			args->nr_ok++;
			scx_bpf_destroy_dsq(first + i);
		} else if (ret == -ENODEV) {
			args->nr_enodev++;
		} else if (ret == -ENOMEM) {
			args->nr_enomem++;
		} else {
			args->nr_other++;
			args->last_other = ret;
		}
	}
	return 0;
}
