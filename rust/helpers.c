// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for static-inline and macro kernel APIs used by scx_rs that the
 * kernel's rust/helpers/ does not have (patches/0005 adds the hot ones
 * there, where CONFIG_RUST_INLINE_HELPERS inlines them): lock
 * initialisation with a lockdep class, lockdep queries, the per-CPU
 * allocation with its fault-injection point, and KUnit's warning
 * suppression. Like rust/helpers/, these only forward; they carry no logic
 * of their own so that the Rust side states every contract. The module's
 * one static per-CPU variable, which Rust cannot define, is here too.
 */

#include <linux/irq_work.h>
#include <linux/lockdep.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/test.h>
#include <kunit/test-bug.h>
#endif

#include "helpers.h"

#ifndef SCX_RS_SAMPLE
/* The counters of rust/ext/stats.rs (Stats), one set per CPU. */
DEFINE_PER_CPU(struct scx_rs_stats, scx_rs_stats);
static_assert(sizeof(struct scx_rs_stats) == 6 * sizeof(u64));
static_assert(__alignof__(struct scx_rs_stats) == __alignof__(u64));
#endif

void scx_rs_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
			       struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(lock, name, key, LD_WAIT_SPIN);
#else
	raw_spin_lock_init(lock);
#endif
}

void scx_rs_raw_spin_assert_held(raw_spinlock_t *lock)
{
	lockdep_assert_held(lock);
}

/* 1 if held by this context, 0 if not, -1 if lockdep cannot tell. */
int scx_rs_raw_spin_is_held(raw_spinlock_t *lock)
{
#ifdef CONFIG_LOCKDEP
	return lockdep_is_held(lock);
#else
	return -1;
#endif
}

bool scx_rs_need_resched(void)
{
	return need_resched();
}

void __percpu *scx_rs_alloc_percpu(size_t size, size_t align, gfp_t gfp)
{
#ifndef SCX_RS_SAMPLE
	/* The fault-injection point of rust/fault.c (make stress). */
	if (scx_rs_should_fail_percpu(size))
		return NULL;
#endif
	return __alloc_percpu_gfp(size, align, gfp);
}

unsigned int scx_rs_irq_work_flags(struct irq_work *work)
{
	return atomic_read(&work->node.a_flags);
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * Start suppressing and counting the WARN()s of the current KUnit test's
 * task; NULL if none is running or suppression is already active.
 */
void *scx_rs_kunit_suppress_warnings(void)
{
	struct kunit *test = kunit_get_current_test();

	return test ? kunit_start_suppress_warning(test) : NULL;
}

/* Stop it; returns how many WARN()s were suppressed. */
int scx_rs_kunit_end_suppress_warnings(void *w)
{
	int n = kunit_suppressed_warning_count(w);

	kunit_end_suppress_warning(kunit_get_current_test(), w);
	return n;
}
#endif
