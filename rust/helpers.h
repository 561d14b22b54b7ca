/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shims for kernel APIs that are static inlines or macros and so cannot
 * be called from Rust directly, each a one-line forwarder, and the one
 * static per-CPU variable of the module; the Rust declarations live in
 * rust/bindings.rs.
 */
#ifndef SCX_RS_HELPERS_H
#define SCX_RS_HELPERS_H

#include <linux/lockdep_types.h>
#include <linux/spinlock_types_raw.h>
#include <linux/types.h>

#include <linux/compiler_types.h>
#include <linux/percpu-defs.h>

void scx_rs_raw_spin_lock_init(raw_spinlock_t *lock, const char *name,
			       struct lock_class_key *key);
void scx_rs_raw_spin_assert_held(raw_spinlock_t *lock);
int scx_rs_raw_spin_is_held(raw_spinlock_t *lock);
bool scx_rs_need_resched(void);

/* rust/fault.c */
void scx_rs_fault_init(void);
void scx_rs_fault_exit(void);
bool scx_rs_should_fail_percpu(size_t size);

void __percpu *scx_rs_alloc_percpu(size_t size, size_t align, gfp_t gfp);

struct irq_work;
unsigned int scx_rs_irq_work_flags(struct irq_work *work);

/*
 * rust/ext/stats.rs: Stats, how many times sched_ext called each entry
 * point of the module, counted per CPU.
 */
struct scx_rs_stats {
	u64 init_dsq;
	u64 exit_dsq;
	u64 free_dsqs;
	u64 kick_cpu;
	u64 kick_cpus;
	u64 sub_dispatch;
};

#ifndef SCX_RS_SAMPLE
DECLARE_PER_CPU(struct scx_rs_stats, scx_rs_stats);
#endif

void *scx_rs_kunit_suppress_warnings(void);
int scx_rs_kunit_end_suppress_warnings(void *w);

#endif /* SCX_RS_HELPERS_H */
