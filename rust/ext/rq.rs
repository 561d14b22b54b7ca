// SPDX-License-Identifier: GPL-2.0

//! Runqueues: `cpu_rq()`, `this_rq()` and the rq lock.
//!
//! A [`Rq`] is a CPU's `struct rq`. The runqueues are per-CPU data the
//! scheduler core sets up at boot and never frees, so a reference to one is
//! `'static`. Everything in it that sched_ext's paths change is protected by
//! the rq lock, which [`Rq::lock`] takes as sched_ext does
//! (`raw_spin_rq_lock()`, the core's lock under core scheduling) and the
//! guard's [`Drop`] releases as sched_ext does (`scx_rq_lock_drop()` then
//! `raw_spin_rq_unlock()`). The rq lock is taken from hard-IRQ context
//! (the tick), so it may only be taken with IRQs disabled: locking requires
//! a [`LocalInterruptDisabled`] token that outlives the guard.
//!
//! # Examples
//!
//! ```
//! use kernel::interrupt::local_interrupt_disable;
//! use scx_rs::ext::rq::{ClassOrder, Rq};
//!
//! let irqs_off = local_interrupt_disable();
//! let rq = Rq::this(&irqs_off);
//! let guard = rq.lock(&irqs_off);
//! // This test runs in a kernel thread of the fair class, above ext.
//! assert_eq!(guard.curr_class(), ClassOrder::Above);
//! // The lock is held: it cannot be taken again.
//! assert!(rq.try_lock(&irqs_off).is_none());
//! drop(guard);
//! let _guard = rq.lock(&irqs_off);
//! ```

use crate::{
    bindings,
    ext::{cpumask::AtomicCpumask, sched::Sched},
    sync::{
        percpu::{possible_cpus, CpuPinned},
        RawSpinLockIrq,
    },
};
use core::marker::PhantomData;
use kernel::{cpu::CpuId, interrupt::LocalInterruptDisabled, types::NotThreadSafe};

/// A CPU's runqueue, `struct rq`.
///
/// # Invariants
///
/// `self` is the `struct rq` of a possible CPU. Runqueues are never freed.
#[repr(transparent)]
pub struct Rq(kernel::types::Opaque<bindings::rq>);

// SAFETY: A `struct rq` is shared by all CPUs by design; `Rq` gives access
// to its fields only under the rq lock or through functions that do their
// own synchronisation (`resched_curr()` under the lock, `cpu_of()` reads a
// field set at boot).
unsafe impl Sync for Rq {}

impl Rq {
    /// The runqueue of `cpu` (`cpu_rq()`), if `cpu` is possible.
    pub fn of(cpu: CpuId) -> Option<&'static Rq> {
        // SAFETY: `cpu_possible()` only reads `cpu_possible_mask`; `cpu` is
        // below `nr_cpu_ids`.
        if !unsafe { bindings::scx_rs_cpu_possible(cpu.as_u32()) } {
            return None;
        }
        // SAFETY: `cpu_rq()` requires a possible CPU, checked above.
        let rq = unsafe { bindings::scx_impl_cpu_rq(cpu.as_u32() as i32) };
        // INVARIANT: `cpu` is possible.
        // SAFETY: `rq` is the runqueue of a possible CPU, valid forever
        // (runqueues are never freed) and shared as `Rq` allows; `Rq` is a
        // transparent wrapper of `struct rq`.
        Some(unsafe { &*rq.cast::<Rq>() })
    }

    /// The runqueue of the CPU the caller is pinned to (`this_rq()`).
    pub fn this(pinned: &impl CpuPinned) -> &'static Rq {
        // SAFETY: `cpu_rq()` requires a possible CPU; the current CPU is
        // online, hence possible.
        let rq = unsafe { bindings::scx_impl_cpu_rq(pinned.cpu().as_u32() as i32) };
        // INVARIANT: the current CPU is possible.
        // SAFETY: as in `of`.
        unsafe { &*rq.cast::<Rq>() }
    }

    /// The runqueues of every possible CPU, in CPU order.
    pub fn all() -> impl Iterator<Item = &'static Rq> {
        possible_cpus().filter_map(Rq::of)
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::rq {
        self.0.get()
    }

    /// The CPU of this runqueue (`cpu_of()`).
    pub fn cpu(&self) -> CpuId {
        // SAFETY: `rq->cpu` is set at boot and never changes; `self` is a
        // valid `struct rq` by the type invariant.
        let cpu = unsafe { (*self.as_raw()).cpu };
        // SAFETY: `rq->cpu` is the id of a possible CPU.
        unsafe { CpuId::from_i32_unchecked(cpu) }
    }

    /// The runqueue a sched_ext callback running on this CPU has locked
    /// (`scx_locked_rq()`), if any.
    ///
    /// The C caller holds that lock until the callback returns, which is
    /// after `pinned` goes; [`LockedRq`] lets the callback use it.
    pub fn locked(pinned: &impl CpuPinned) -> Option<LockedRq<'_>> {
        let _ = pinned;
        // SAFETY: `scx_locked_rq()` requires preemption disabled, which
        // `pinned` proves.
        let rq = unsafe { bindings::scx_impl_locked_rq() };
        if rq.is_null() {
            return None;
        }
        // SAFETY: a locked runqueue is a runqueue; runqueues are never
        // freed; `Rq` is a transparent wrapper.
        let rq = unsafe { &*rq.cast::<Rq>() };
        // INVARIANT: the callback's caller holds its lock while `pinned`
        // lives.
        Some(LockedRq {
            rq,
            _pinned: PhantomData,
        })
    }

    /// The lock of the runqueue's deferred reenqueue lists
    /// (`rq->scx.deferred_reenq_lock`), taken with IRQs saved.
    pub fn deferred_reenq_lock(&self) -> &RawSpinLockIrq<()> {
        // SAFETY: the lock is initialised at boot with the runqueue and
        // lives as long as it, i.e. forever.
        unsafe { RawSpinLockIrq::from_raw(&raw mut (*self.as_raw()).scx.deferred_reenq_lock) }
    }

    /// CPUs this CPU waits for after a `SCX_KICK_WAIT` kick
    /// (`rq->scx.cpus_to_sync`).
    pub fn cpus_to_sync(&self) -> &AtomicCpumask {
        // SAFETY: the mask is allocated at boot and never freed.
        unsafe { AtomicCpumask::from_var(&raw mut (*self.as_raw()).scx.cpus_to_sync) }
    }

    /// The list of schedulers with kicks pending on this runqueue's CPU
    /// (`rq->scx.sched_pcpus_to_kick`), for `ext::kick`.
    pub(crate) fn sched_pcpus_to_kick(&self) -> *mut bindings::list_head {
        // SAFETY: only the address of a field is computed.
        unsafe { &raw mut (*self.as_raw()).scx.sched_pcpus_to_kick }
    }

    /// The irq_work that carries out the kicks recorded on this runqueue's
    /// CPU (`rq->scx.kick_cpus_irq_work`).
    pub(crate) fn kick_cpus_irq_work(&self) -> *mut bindings::irq_work {
        // SAFETY: only the address of a field is computed.
        unsafe { &raw mut (*self.as_raw()).scx.kick_cpus_irq_work }
    }

    /// Locks the runqueue (`raw_spin_rq_lock()`), spinning until it is free.
    ///
    /// IRQs must stay disabled while the lock is held, hence `irqs_off`.
    pub fn lock<'a>(&'a self, irqs_off: &'a LocalInterruptDisabled) -> RqGuard<'a> {
        // SAFETY: IRQs are disabled for the lifetime of the guard
        // (`irqs_off` outlives it), as the rq lock requires; the guard
        // releases the lock exactly once, in `drop`.
        unsafe { bindings::scx_impl_rq_lock(self.as_raw()) };
        // INVARIANT: the lock was just taken.
        RqGuard::new(self, irqs_off)
    }

    /// Locks the runqueue if it is free (`raw_spin_rq_trylock()`).
    pub fn try_lock<'a>(&'a self, irqs_off: &'a LocalInterruptDisabled) -> Option<RqGuard<'a>> {
        // SAFETY: as in `lock`; if this fails, nothing was taken.
        if unsafe { bindings::scx_impl_rq_trylock(self.as_raw()) } {
            // INVARIANT: the lock was just taken.
            Some(RqGuard::new(self, irqs_off))
        } else {
            None
        }
    }
}

/// Where a task's scheduling class ranks relative to sched_ext's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClassOrder {
    /// A class that takes precedence over ext (stop, deadline, RT, fair).
    Above,
    /// `ext_sched_class` itself.
    Ext,
    /// A class below ext (idle).
    Below,
}

/// A locked runqueue; [`Drop`] unlocks it.
///
/// # Invariants
///
/// The rq lock of `rq` is held by this context, which keeps IRQs disabled
/// for `'a`; the guard is not `Send`, so it is dropped where it was made.
pub struct RqGuard<'a> {
    rq: &'a Rq,
    _irqs_off: PhantomData<&'a LocalInterruptDisabled>,
    _not_send: NotThreadSafe,
}

impl<'a> RqGuard<'a> {
    fn new(rq: &'a Rq, _irqs_off: &'a LocalInterruptDisabled) -> Self {
        Self {
            rq,
            _irqs_off: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// The locked runqueue.
    pub fn rq(&self) -> &'a Rq {
        self.rq
    }

    /// Marks the runqueue's current task for rescheduling (`resched_curr()`),
    /// sending an IPI if it runs on another CPU.
    pub fn resched_curr(&self) {
        // SAFETY: `resched_curr()` requires the rq lock, held by the type
        // invariant.
        unsafe { bindings::scx_impl_resched_curr(self.rq.as_raw()) }
    }

    /// How the class of the runqueue's current task ranks against ext.
    pub fn curr_class(&self) -> ClassOrder {
        // SAFETY: `rq->curr` and its `sched_class` change only under the rq
        // lock, held by the type invariant; `rq->curr` is never null.
        let class = unsafe { (*(*self.rq.as_raw()).__bindgen_anon_1.curr).sched_class };
        // SAFETY: `class` is a `struct sched_class`, as
        // `scx_impl_class_cmp()` requires.
        match unsafe { bindings::scx_impl_class_cmp(class) } {
            0 => ClassOrder::Ext,
            c if c > 0 => ClassOrder::Above,
            _ => ClassOrder::Below,
        }
    }

    /// Whether sched_ext is dispatching on the runqueue
    /// (`rq->scx.flags & SCX_RQ_IN_DISPATCH`).
    pub fn in_dispatch(&self) -> bool {
        // SAFETY: `rq->scx.flags` changes only under the rq lock, held.
        let flags = unsafe { (*self.rq.as_raw()).scx.flags };
        flags & bindings::scx_rq_flags_SCX_RQ_IN_DISPATCH != 0
    }

    /// Sets the slice of the runqueue's current task (`scx_set_task_slice()`);
    /// `false` if that was refused.
    pub fn set_curr_slice(&self, slice: u64) -> bool {
        // SAFETY: the rq lock is held, as setting the slice of its current
        // task requires, and `rq->curr` is never null.
        unsafe {
            bindings::scx_impl_set_task_slice((*self.rq.as_raw()).__bindgen_anon_1.curr, slice)
        }
    }

    /// The runqueue's kick sequence (`rq->scx.kick_sync`).
    pub fn kick_sync(&self) -> kernel::ffi::c_ulong {
        // SAFETY: `kick_sync` changes only under the rq lock, held.
        unsafe { (*self.rq.as_raw()).scx.kick_sync }
    }

    /// Marks that this CPU must wait for the CPUs in its `cpus_to_sync`
    /// before it next schedules (`rq->scx.kick_sync_pending = true`).
    pub fn set_kick_sync_pending(&self) {
        // SAFETY: `kick_sync_pending` is protected by the rq lock, held.
        unsafe { (*self.rq.as_raw()).scx.kick_sync_pending = true };
    }

    /// Whether the runqueue's current task is its idle task
    /// (`is_idle_task(rq->curr)`).
    pub fn curr_is_idle(&self) -> bool {
        // SAFETY: `rq->curr` changes only under the rq lock, held by the
        // type invariant; it is never null, and `flags & PF_IDLE` is set at
        // the idle task's creation and never cleared.
        let flags = unsafe { (*(*self.rq.as_raw()).__bindgen_anon_1.curr).flags };
        flags & bindings::PF_IDLE != 0
    }
}

/// Proof that the code runs inside a sched_ext operation that the kernel
/// called with a runqueue locked (`ops.dispatch()` and the kfuncs it calls),
/// so preemption is disabled until it returns.
///
/// It costs nothing, where a [`PreemptGuard`](crate::sync::percpu::PreemptGuard)
/// would disable preemption again on the dispatch path.
///
/// # Invariants
///
/// Exists only within such an operation, on its task.
pub struct InLockedOp(NotThreadSafe);

impl InLockedOp {
    /// # Safety
    ///
    /// The caller runs inside a sched_ext operation called with a runqueue
    /// locked, and drops the value before the operation returns.
    pub(crate) unsafe fn new() -> Self {
        // INVARIANT: by the safety requirements.
        Self(NotThreadSafe)
    }
}

// SAFETY: By the type invariant preemption is disabled (a runqueue lock is
// held) while the value exists, and it is not `Send`.
unsafe impl CpuPinned for InLockedOp {}

/// A runqueue that the C code calling into sched_ext has locked, for the
/// duration of the callback (see [`Rq::locked`]).
///
/// # Invariants
///
/// `rq`'s lock is held by this CPU's caller for `'a`.
pub struct LockedRq<'a> {
    rq: &'a Rq,
    _pinned: PhantomData<&'a ()>,
}

impl<'a> LockedRq<'a> {
    /// The runqueue.
    pub fn rq(&self) -> &'a Rq {
        self.rq
    }

    /// The task that was running when sched_ext started dispatching on the
    /// runqueue (`rq->scx.sub_dispatch_prev`).
    pub fn sub_dispatch_prev(&self) -> *mut bindings::task_struct {
        // SAFETY: the field is written under the rq lock, held (type
        // invariant).
        unsafe { (*self.rq.as_raw()).scx.sub_dispatch_prev }
    }

    /// Runs the nested dispatch of `sch` on the runqueue
    /// (`scx_dispatch_sched(sch, rq, rq->scx.sub_dispatch_prev, true)`);
    /// returns whether it found something to run.
    ///
    /// This calls `sch`'s `ops.dispatch()`, which may drop and retake the
    /// runqueue lock; the caller's C code still holds it on return.
    pub fn dispatch_sched(&self, sch: &Sched) -> bool {
        // SAFETY: the runqueue is locked by the sched_ext callback this CPU
        // is in (type invariant), which is the context the nested dispatch
        // step runs in; `sch` is a live scheduler.
        unsafe {
            bindings::scx_impl_dispatch_sched(
                sch.as_raw(),
                self.rq.as_raw(),
                self.sub_dispatch_prev(),
            )
        }
    }
}

impl Drop for RqGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this context holds the lock, with
        // IRQs disabled; this is its one release.
        unsafe { bindings::scx_impl_rq_unlock(self.rq.as_raw()) }
    }
}

#[cfg(CONFIG_KUNIT)]
#[kernel::prelude::kunit_tests(scx_rs_rq)]
mod tests {
    use super::*;
    use crate::sync::percpu::PreemptGuard;
    use kernel::interrupt::local_interrupt_disable;

    #[test]
    fn every_possible_cpu_has_its_rq() {
        let mut n = 0;
        for (cpu, rq) in possible_cpus().zip(Rq::all()) {
            assert_eq!(rq.cpu(), cpu);
            n += 1;
        }
        assert_eq!(n, crate::sync::percpu::num_possible_cpus());
    }

    #[test]
    fn this_rq_is_this_cpus() {
        let g = PreemptGuard::new();
        assert_eq!(Rq::this(&g).cpu(), g.cpu());
    }

    #[test]
    fn lock_excludes_other_lockers() {
        let irqs_off = local_interrupt_disable();
        for rq in Rq::all() {
            let guard = rq.lock(&irqs_off);
            assert!(rq.try_lock(&irqs_off).is_none());
            drop(guard);
            // Free again, but other CPUs take runqueue locks all the time
            // (ticks, wakeups): a try may fail, a bounded number may not.
            let again = (0..1_000_000).find_map(|_| rq.try_lock(&irqs_off));
            assert!(again.is_some());
        }
    }

    #[test]
    fn resched_curr_marks_this_task() {
        let irqs_off = local_interrupt_disable();
        let rq = Rq::this(&irqs_off);
        let guard = rq.lock(&irqs_off);
        // This task is `rq`'s current task; nothing preempts it while IRQs
        // are disabled, so the flag stays set until `irqs_off` goes.
        guard.resched_curr();
        drop(guard);
        // SAFETY: `need_resched()` reads the current task's flags.
        assert!(unsafe { bindings::scx_rs_need_resched() });
    }

    #[test]
    fn classes_rank_against_ext() {
        let irqs_off = local_interrupt_disable();
        let guard = Rq::this(&irqs_off).lock(&irqs_off);
        // KUnit's thread: fair class, not idle.
        assert_eq!(guard.curr_class(), ClassOrder::Above);
        assert!(!guard.curr_is_idle());
    }
}
