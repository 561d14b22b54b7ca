/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What scx_rs binds of sched_ext's internals, for bindgen (see Kbuild).
 *
 * The structures scx_rs works on - struct rq and its scx part, scx_sched,
 * scx_sched_pcpu - are private to kernel/sched/. Their headers are not
 * self-contained: kernel/sched/build_policy.c, the one translation unit of
 * sched_ext, includes them after the headers below, in this order.
 */
#include <linux/sched/clock.h>
#include <linux/sched/cputime.h>
#include <linux/sched/hotplug.h>
#include <linux/sched/isolation.h>
#include <linux/sched/posix-timers.h>
#include <linux/sched/rt.h>

#include <linux/cpuidle.h>
#include <linux/jiffies.h>
#include <linux/kobject.h>
#include <linux/livepatch.h>
#include <linux/pm.h>
#include <linux/psi.h>
#include <linux/rhashtable.h>
#include <linux/seq_buf.h>
#include <linux/seqlock_api.h>
#include <linux/slab.h>
#include <linux/suspend.h>
#include <linux/tsacct_kern.h>
#include <linux/vtime.h>
#include <linux/sysrq.h>
#include <linux/percpu-rwsem.h>

#include <uapi/linux/sched/types.h>

#include "sched.h"

#include <linux/btf_ids.h>
#include <linux/find.h>
#include <linux/genalloc.h>
#include "ext/types.h"
#include "ext/internal.h"
#include "ext/cid.h"
#include "ext/arena.h"
#include "ext/idle.h"
#include "ext/sub.h"
#include "ext/inlines.h"

#include <linux/sched/ext_impl.h>
