// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for static-inline and macro kernel APIs used by scx_rs.
 *
 * Like rust/helpers/ in the kernel tree, these only forward; they carry no
 * logic of their own so that the Rust side states every contract.
 */

#include <linux/cpumask.h>
#include <linux/hardirq.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/spinlock.h>

#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/test.h>
#include <kunit/test-bug.h>
#endif

#include "helpers.h"

void scx_rs_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
			       struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(lock, name, key, LD_WAIT_SPIN);
#else
	raw_spin_lock_init(lock);
#endif
}

void scx_rs_raw_spin_lock(raw_spinlock_t *lock)
{
	raw_spin_lock(lock);
}

void scx_rs_raw_spin_unlock(raw_spinlock_t *lock)
{
	raw_spin_unlock(lock);
}

int scx_rs_raw_spin_trylock(raw_spinlock_t *lock)
{
	return raw_spin_trylock(lock);
}

void scx_rs_raw_spin_lock_irq_disable(raw_spinlock_t *lock)
{
	raw_spin_lock_irq_disable(lock);
}

void scx_rs_raw_spin_unlock_irq_enable(raw_spinlock_t *lock)
{
	raw_spin_unlock_irq_enable(lock);
}

int scx_rs_raw_spin_trylock_irq_disable(raw_spinlock_t *lock)
{
	return raw_spin_trylock_irq_disable(lock);
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

bool scx_rs_irqs_disabled(void)
{
	return irqs_disabled();
}

bool scx_rs_need_resched(void)
{
	return need_resched();
}

bool scx_rs_in_nmi(void)
{
	return in_nmi();
}

void scx_rs_list_del_init(struct list_head *entry)
{
	list_del_init(entry);
}

bool scx_rs_list_empty(const struct list_head *head)
{
	return list_empty(head);
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

void *scx_rs_per_cpu_ptr(void __percpu *ptr, unsigned int cpu)
{
	return per_cpu_ptr(ptr, cpu);
}

void *scx_rs_this_cpu_ptr(void __percpu *ptr)
{
	return this_cpu_ptr(ptr);
}

/* The next possible CPU after @cpu (-1 to start), or nr_cpu_ids at the end. */
unsigned int scx_rs_next_possible_cpu(int cpu)
{
	return cpumask_next(cpu, cpu_possible_mask);
}

unsigned int scx_rs_num_possible_cpus(void)
{
	return num_possible_cpus();
}

bool scx_rs_cpu_online(unsigned int cpu)
{
	return cpu_online(cpu);
}

bool scx_rs_cpu_possible(unsigned int cpu)
{
	return cpu_possible(cpu);
}

void scx_rs_preempt_disable(void)
{
	preempt_disable();
}

void scx_rs_preempt_enable(void)
{
	preempt_enable();
}

unsigned int scx_rs_smp_processor_id(void)
{
	return smp_processor_id();
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
