// SPDX-License-Identifier: GPL-2.0
/*
 * Registering a sched_ext implementation from a module.
 *
 * Loading this module registers an implementation with scx_impl_register()
 * and, if that succeeds, unregisters it again before the load completes, so
 * the load fails with exactly what scx_impl_register() returned: -EBUSY
 * while a sched_ext scheduler exists, 0 otherwise. The guest's impl_busy
 * scenario (scripts/guest/init) loads it with and without a scheduler
 * running; registration switching the calls and back is tested by the
 * sched_ext_impl KUnit suite of the patched kernel.
 *
 * The operations must never be called: registration succeeds only when no
 * scheduler exists, and none can be created before the unregistration in
 * the guest, which runs nothing else meanwhile. Each warns if it is.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bpf.h>
#include <linux/module.h>
#include <linux/sched/ext_impl.h>

static s32 busy_init_dsq(struct scx_dispatch_q *dsq, u64 dsq_id,
			 struct scx_sched *sch)
{
	WARN_ONCE(1, "%s called\n", __func__);
	return -ENODEV;
}

static void busy_exit_dsq(struct scx_dispatch_q *dsq)
{
	WARN_ONCE(1, "%s called\n", __func__);
}

static void busy_free_dsqs(struct llist_node *to_free)
{
	WARN_ONCE(1, "%s called\n", __func__);
}

static void busy_kick_cpu(struct scx_sched *sch, s32 cpu, u64 flags)
{
	WARN_ONCE(1, "%s called\n", __func__);
}

static void busy_kick_cpus(struct rq *this_rq)
{
	WARN_ONCE(1, "%s called\n", __func__);
}

static bool busy_sub_dispatch(u64 cgroup_id, const struct bpf_prog_aux *aux)
{
	WARN_ONCE(1, "%s called\n", __func__);
	return false;
}

static const struct scx_impl_ops busy_ops = {
	.name		= "scx_impl_busy",
	.owner		= THIS_MODULE,
	.init_dsq	= busy_init_dsq,
	.exit_dsq	= busy_exit_dsq,
	.free_dsqs	= busy_free_dsqs,
	.kick_cpu	= busy_kick_cpu,
	.kick_cpus	= busy_kick_cpus,
	.sub_dispatch	= busy_sub_dispatch,
};

static int __init scx_impl_busy_init(void)
{
	int ret = scx_impl_register(&busy_ops);

	pr_info("scx_impl_register() returned %d\n", ret);
	if (ret)
		return ret;
	scx_impl_unregister(&busy_ops);
	return 0;
}

static void __exit scx_impl_busy_exit(void)
{
}

module_init(scx_impl_busy_init);
module_exit(scx_impl_busy_exit);

MODULE_DESCRIPTION("Test of sched_ext implementation registration");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("SCX_IMPL");
