/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_diff: the kfuncs scx_rs implements, called with generated
 * arguments, for a record that must not depend on which implementation is
 * installed (scx_rs_diff.c runs it with the built-in C paths and with
 * scx_rs.ko loaded, in one boot, and make stress compares the two).
 *
 * Three schedulers in the cid form that sub-schedulers need:
 *
 * - diff_root_ops, the root: every task FIFO on its global DSQ. Its
 *   ops.sub_attach() grants the child SCX_CAP_BASE on every cid but the
 *   one of denied_cpu, and nothing else (no SCX_CAP_PREEMPT). Armed by
 *   user space, its ops.dispatch() on sub_cpu calls scx_bpf_sub_dispatch()
 *   once for sub_cgid.
 * - diff_child_ops, on child_cgid: counts its ops.dispatch() calls and
 *   accepts a sub-scheduler of its own.
 * - diff_grand_ops, on a cgroup below the child's: only there to be a
 *   distant sub-scheduler for the root.
 *
 * diff_root_case and diff_child_case are SEC("syscall") programs that user
 * space associates with the root and the child: each runs one case on
 * behalf of its scheduler, scx_bpf_kick_cpu() (whose recording and
 * irq_work run before the program returns: it runs with interrupts
 * enabled) or a fixed sequence of DSQ calls, and reports the results and
 * how the scheduler's event counters that these paths bump moved.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <scx/common.bpf.h>
#include <scx/cid.bpf.h>

char _license[] SEC("license") = "GPL";

/* as in scx_rs_diff.c */
enum diff_op {
	DIFF_KICK,	/* scx_bpf_kick_cpu(a, b) */
	DIFF_DSQ,	/* the DSQ sequence below, on DSQ id a, node b */
	DIFF_EVENTS,	/* only the event counters, in ev[] (not deltas) */
};

enum diff_ev {
	EV_SUB_KICK_DENIED,
	EV_SUB_PREEMPT_DENIED,
	EV_SLICE_DENIED,
	EV_SUB_BYPASS_DISPATCH,
	NR_EV,
};

struct diff_args {
	u64 a;
	u64 b;
	u32 op;
	s32 ret[4];
	s64 ev[NR_EV];
};

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

#define DIFF_MAX_CIDS	256

/* the child's grant: every cid but denied_cpu's */
struct diff_cmask {
	struct scx_cmask mask;
	u64 words[CMASK_NR_WORDS(DIFF_MAX_CIDS)];
};
static struct diff_cmask __arena grant;
s32 __arena grant_err;
/* the child's ops.dispatch() calls */
u64 __arena nr_child_dispatch;
/*
 * The grandchild's ops.exit() calls: every cid-form scheduler's programs
 * must use the arena.
 */
u64 __arena nr_grand_exit;

const volatile u64 child_cgid;
const volatile s32 denied_cpu;

/* in: set by user space, cleared after the one call */
u32 sub_armed;
u64 sub_cgid;
s32 sub_cpu;
/* out */
s32 sub_ret;
u64 sub_child_calls;
u64 sub_done;

UEI_DEFINE(uei_root);
UEI_DEFINE(uei_child);
UEI_DEFINE(uei_grand);

/* the counters before and after a case (static: not in the skeleton) */
static struct scx_event_stats ev0, ev1;

static __always_inline void ev_read(struct scx_event_stats *e, s64 *out)
{
	out[EV_SUB_KICK_DENIED] = e->SCX_EV_SUB_KICK_DENIED;
	out[EV_SUB_PREEMPT_DENIED] = e->SCX_EV_SUB_PREEMPT_DENIED;
	out[EV_SLICE_DENIED] = e->SCX_EV_SLICE_DENIED;
	out[EV_SUB_BYPASS_DISPATCH] = e->SCX_EV_SUB_BYPASS_DISPATCH;
}

static __always_inline int run_case(struct diff_args *args)
{
	s64 before[NR_EV], after[NR_EV];
	u64 id = args->a;
	s32 node = (s32)args->b;
	int i;

	scx_bpf_events(&ev0, sizeof(ev0));
	ev_read(&ev0, before);

	switch (args->op) {
	case DIFF_KICK:
		scx_bpf_kick_cpu((s32)args->a, args->b);
		break;
	case DIFF_DSQ:
		/* create, again (a duplicate), destroy, create on any node */
		args->ret[0] = scx_bpf_create_dsq(id, node);
		args->ret[1] = scx_bpf_create_dsq(id, node);
		scx_bpf_destroy_dsq(id);
		args->ret[2] = scx_bpf_create_dsq(id, -1);
		/* destroy, then again: the second finds nothing */
		scx_bpf_destroy_dsq(id);
		scx_bpf_destroy_dsq(id);
		/*
		 * Gone: -ENOENT. Not for a local-on id, which names a CPU (or a
		 * cid) that the C code validates, exiting the scheduler if it is
		 * not one: that is not a DSQ of scx_rs's.
		 */
		if ((id & SCX_DSQ_LOCAL_ON) != SCX_DSQ_LOCAL_ON)
			args->ret[3] = scx_bpf_dsq_nr_queued(id);
		else
			args->ret[3] = 1;
		break;
	case DIFF_EVENTS:
		bpf_for(i, 0, NR_EV)
			args->ev[i] = before[i];
		return 0;
	default:
		return -EINVAL;
	}

	scx_bpf_events(&ev1, sizeof(ev1));
	ev_read(&ev1, after);
	bpf_for(i, 0, NR_EV)
		args->ev[i] = after[i] - before[i];
	return 0;
}

SEC("syscall")
int diff_root_case(struct diff_args *args)
{
	return run_case(args);
}

SEC("syscall")
int diff_child_case(struct diff_args *args)
{
	return run_case(args);
}

void BPF_STRUCT_OPS(diff_root_dispatch, s32 cid, struct task_struct *prev)
{
	u64 calls;

	if (!READ_ONCE(sub_armed) || (s32)bpf_get_smp_processor_id() != sub_cpu)
		return;

	calls = nr_child_dispatch;
	sub_ret = scx_bpf_sub_dispatch(sub_cgid);
	sub_child_calls = nr_child_dispatch - calls;
	WRITE_ONCE(sub_armed, 0);
	/* a full barrier: user space reads the results once it sees this */
	__sync_fetch_and_add(&sub_done, 1);
}

s32 BPF_STRUCT_OPS(diff_root_sub_attach, struct scx_sub_attach_args *args)
{
	u32 nr_cids = scx_bpf_nr_cids(), cid;
	s32 denied = scx_bpf_cpu_to_cid(denied_cpu);

	if (nr_cids > DIFF_MAX_CIDS) {
		grant_err = -E2BIG;
		return 0;
	}
	cmask_init(&grant.mask, 0, nr_cids);
	bpf_for(cid, 0, nr_cids)
		if ((s32)cid != denied)
			cmask_set(cid, &grant.mask);
	grant_err = scx_bpf_sub_grant(child_cgid, SCX_CAP_ENQ_IMMED | SCX_CAP_ENQ,
				      &grant.mask, NULL);
	return 0;
}

void BPF_STRUCT_OPS(diff_root_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_root, ei);
}

void BPF_STRUCT_OPS(diff_child_dispatch, s32 cid, struct task_struct *prev)
{
	nr_child_dispatch++;
}

s32 BPF_STRUCT_OPS(diff_child_sub_attach, struct scx_sub_attach_args *args)
{
	return 0;
}

void BPF_STRUCT_OPS(diff_child_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei_child, ei);
}

void BPF_STRUCT_OPS(diff_grand_exit, struct scx_exit_info *ei)
{
	nr_grand_exit++;
	UEI_RECORD(uei_grand, ei);
}

SEC(".struct_ops.link")
struct sched_ext_ops_cid diff_root_ops = {
	.dispatch		= (void *)diff_root_dispatch,
	.sub_attach		= (void *)diff_root_sub_attach,
	.exit			= (void *)diff_root_exit,
	.name			= "scx_rs_diff_root",
};

/* sub_cgroup_id set by user space */
SEC(".struct_ops.link")
struct sched_ext_ops_cid diff_child_ops = {
	.dispatch		= (void *)diff_child_dispatch,
	.sub_attach		= (void *)diff_child_sub_attach,
	.exit			= (void *)diff_child_exit,
	.name			= "scx_rs_diff_child",
};

SEC(".struct_ops.link")
struct sched_ext_ops_cid diff_grand_ops = {
	.exit			= (void *)diff_grand_exit,
	.name			= "scx_rs_diff_grand",
};
