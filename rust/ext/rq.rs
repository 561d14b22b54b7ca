// SPDX-License-Identifier: GPL-2.0

//! Runqueues: `cpu_rq()`, `this_rq()`, the rq lock, and the per-CPU lists
//! and irq_work of `struct scx_rq` that sched_ext's replaced paths use.
//!
//! A [`Rq`] is a possible CPU's `struct rq`. The runqueues are per-CPU data
//! the scheduler core sets up at boot and never frees, so a reference to one
//! is `'static`. Everything in it that these paths change is protected by
//! the rq lock, by another lock of the runqueue, or by being on the
//! runqueue's own CPU with interrupts disabled, and each is reached only
//! with the proof of its protection:
//!
//! - [`Rq::lock`] takes the rq lock as sched_ext does (`raw_spin_rq_lock()`,
//!   the core's lock under core scheduling) and its guard, [`RqGuard`],
//!   releases it as sched_ext does (`scx_rq_lock_drop()` then
//!   `raw_spin_rq_unlock()`). The rq lock is taken from hard-IRQ context
//!   (the tick), so locking requires a [`LocalInterruptDisabled`] token
//!   that outlives the guard;
//! - [`Rq::lock_deferred_reenq`] takes `rq->scx.deferred_reenq_lock`, which
//!   protects the CPU's list of user DSQs with a reenqueue pending;
//! - [`ThisRq`] is the current CPU's runqueue while interrupts are off: its
//!   list of schedulers with kicks pending and its kick irq_work are the
//!   CPU's own.
//!
//! [`KickIrqWork`] is the context of the kick irq_work's callback, which
//! only the FFI entry point can make.
//!
//! # Examples
//!
//! ```
//! use scx_rs::{
//!     ext::rq::{ClassOrder, Rq, RqLockHolder},
//!     sync::IrqsOff,
//! };
//!
//! let irqs_off = IrqsOff::new().expect("not in NMI");
//! let rq = Rq::this(&irqs_off);
//! let guard = rq.lock(&irqs_off);
//! // This test runs in a kernel thread of the fair class, above ext.
//! assert_eq!(guard.curr().class(), ClassOrder::Above);
//! // The lock is held: it cannot be taken again.
//! assert!(rq.try_lock(&irqs_off).is_none());
//! drop(guard);
//! let _guard = rq.lock(&irqs_off);
//! ```

use crate::{
    bindings,
    ext::{
        dispatch_q::DsqPcpu,
        sched::{Sched, SchedPcpu},
    },
    sync::{
        cpumask::{AtomicCpumask, AtomicMask},
        field::{CObject, Field, Marked, RacyWord},
        irq_work::{LocalIrqWork, OnOwnCpu},
        list::CpuList,
        percpu::{possible_cpus, CpuSlot, PossibleCpu, PossibleCpuId},
        raw_spinlock::CRawSpinLock,
        IrqsOff, RawSpinLockIrqGuard,
    },
};
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};
use kernel::ptr::project;
use kernel::{
    ffi::{c_int, c_ulong},
    sync::atomic::{Atomic, Relaxed},
    task::Task,
    types::{NotThreadSafe, Opaque},
};

/// A CPU's runqueue, `struct rq`.
///
/// # Invariants
///
/// `self` is the `struct rq` of a possible CPU. Runqueues are never freed.
#[repr(transparent)]
pub struct Rq(Opaque<bindings::rq>);

// SAFETY: A `struct rq` is shared by all CPUs by design; `Rq` gives access
// to its fields only under the lock that protects them, on its own CPU with
// interrupts off, or through sched_ext's functions, which synchronise
// themselves.
unsafe impl Sync for Rq {}

// SAFETY: `Rq` is a transparent wrapper of `Opaque<struct rq>`, and a `&Rq`
// is a possible CPU's runqueue, which is never freed (type invariant).
unsafe impl CObject for Rq {
    type Raw = bindings::rq;
}

impl Rq {
    /// The runqueue of `cpu` (`cpu_rq()`).
    #[inline]
    pub fn of(cpu: PossibleCpu) -> &'static Rq {
        // SAFETY: `cpu_rq()` is `per_cpu_ptr(&runqueues, cpu)`: `runqueues`
        // is a static per-CPU variable and `cpu` is possible, so this is
        // `cpu`'s runqueue, initialised at boot (`sched_init()`) and never
        // freed, as `from_raw` requires for `'static`; not null.
        unsafe {
            let rq = bindings::per_cpu_ptr((&raw mut bindings::runqueues).cast(), cpu.as_u32());
            Rq::from_raw(NonNull::new_unchecked(rq.cast()))
        }
    }

    /// The runqueue of the current CPU (`this_rq()`), while interrupts are
    /// off.
    #[inline]
    pub fn this(irqs_off: &IrqsOff) -> ThisRq<'_> {
        let cpu = PossibleCpu::current(irqs_off);
        // INVARIANT: `Rq::of` of the CPU `irqs_off` pins the task to.
        ThisRq {
            rq: Rq::of(cpu),
            cpu,
            irqs_off,
        }
    }

    /// The runqueues of every possible CPU, in CPU order.
    pub fn all() -> impl Iterator<Item = &'static Rq> {
        possible_cpus().map(Rq::of)
    }

    /// The CPU of this runqueue (`cpu_of()`).
    #[inline(always)]
    pub fn cpu(&self) -> PossibleCpu {
        RQ.cpu.get(self)
    }

    /// Locks the runqueue (`raw_spin_rq_lock()`), spinning until it is
    /// free.
    ///
    /// IRQs must stay disabled while the lock is held, hence `irqs_off`.
    /// Runqueue locks do not nest here: locking a second runqueue while one
    /// is held, or one that sched_ext already holds for the caller (in a
    /// [`SubDispatch`](crate::ext::sched::SubDispatch)), deadlocks, which
    /// lockdep reports. Nothing in this crate does either: kicks are bounced
    /// to the kick irq_work for that reason.
    #[inline]
    pub fn lock<'a>(&'a self, irqs_off: &'a IrqsOff) -> RqGuard<'a> {
        // SAFETY: `raw_spin_rq_lock_nested()` takes the lock of a live
        // runqueue, the core's under core scheduling, with subclass 0 as
        // `raw_spin_rq_lock()`. IRQs are disabled for the lifetime of the
        // guard (`irqs_off` outlives it), as the rq lock requires; the
        // guard releases the lock exactly once, in `drop`.
        unsafe { bindings::raw_spin_rq_lock_nested(self.as_raw(), 0) };
        // INVARIANT: the lock was just taken.
        RqGuard::new(self, irqs_off)
    }

    /// Locks the runqueue if it is free (`raw_spin_rq_trylock()`).
    #[inline]
    pub fn try_lock<'a>(&'a self, irqs_off: &'a IrqsOff) -> Option<RqGuard<'a>> {
        // SAFETY: as in `lock`; if this fails, nothing was taken.
        if unsafe { bindings::raw_spin_rq_trylock(self.as_raw()) } {
            // INVARIANT: the lock was just taken.
            Some(RqGuard::new(self, irqs_off))
        } else {
            None
        }
    }

    /// Takes `rq->scx.deferred_reenq_lock`, with interrupts disabled.
    #[inline]
    pub fn lock_deferred_reenq(&self) -> DeferredReenqGuard<'_> {
        DeferredReenqGuard {
            rq: self,
            guard: RQ.deferred_reenq_lock.raw_spinlock_irq(self).lock(),
        }
    }

    /// CPUs this CPU waits for after a `SCX_KICK_WAIT` kick
    /// (`rq->scx.cpus_to_sync`).
    #[inline]
    pub fn cpus_to_sync(&self) -> &AtomicCpumask {
        RQ.cpus_to_sync.mask(self)
    }
}

/// The current CPU's runqueue while interrupts are disabled.
///
/// # Invariants
///
/// `rq` is the runqueue of the CPU `cpu`, which is the current CPU for
/// `'a`, during which interrupts stay disabled (`irqs_off`).
pub struct ThisRq<'a> {
    rq: &'static Rq,
    cpu: PossibleCpu,
    irqs_off: &'a IrqsOff,
}

impl<'a> ThisRq<'a> {
    /// The CPU, the current one.
    #[inline]
    pub fn cpu(&self) -> PossibleCpu {
        self.cpu
    }

    /// The list of schedulers with kicks pending on this CPU
    /// (`rq->scx.sched_pcpus_to_kick`, linking `scx_sched_pcpu.to_kick_node`).
    ///
    /// Only this CPU changes it, with interrupts disabled, as now. Entries
    /// are linked only by [`queue_kicks`](Self::queue_kicks), which queues
    /// the kick irq_work with them, and unlinked by that irq_work
    /// ([`KickIrqWork::sched_pcpus_to_kick`]).
    #[inline]
    fn sched_pcpus_to_kick(&self) -> CpuList<'a, SchedPcpu> {
        // SAFETY: the head is initialised at boot with the runqueue, of the
        // current CPU, which is `self.cpu` (type invariant). `queue_kicks()`
        // links this CPU's slot of a scheduler's per-CPU data on it with
        // interrupts disabled and the kick irq_work of this CPU unlinks
        // them, in hard IRQ context: both on this CPU, neither from NMI
        // (`IrqsOff`). An entry's scheduler frees its per-CPU data only
        // after syncing this CPU's kick irq_work, which `queue_kicks()`
        // queues whenever it links an entry and which cannot run while
        // interrupts are off here; inside it, `'a` ends with it. So entries
        // stay valid for `'a`.
        unsafe {
            CpuList::local(
                &raw mut (*self.rq.as_raw()).scx.sched_pcpus_to_kick,
                self.cpu,
                self.irqs_off,
            )
        }
    }

    /// Records that `pcpu`, a scheduler's data of this CPU, has kicks to
    /// carry out: links it on this CPU's list of schedulers with pending
    /// kicks, unless it is already, and queues this CPU's kick irq_work
    /// (`rq->scx.kick_cpus_irq_work`), which carries them out.
    ///
    /// `pcpu` is refused, with a warning, if it is another CPU's slot.
    #[inline]
    pub fn queue_kicks(&self, pcpu: CpuSlot<'_, SchedPcpu>) {
        // SAFETY: `pcpu` stays valid while it is linked: its scheduler frees
        // its per-CPU data only after syncing this CPU's kick irq_work, which
        // is queued below, before interrupts can come back on, and unlinks
        // every entry when it runs.
        unsafe { self.sched_pcpus_to_kick().push_back(pcpu) };
        RQ.kick_cpus_irq_work.queue_local(self);
    }

    /// The interrupts-off token.
    #[inline]
    pub fn irqs_off(&self) -> &'a IrqsOff {
        self.irqs_off
    }
}

// SAFETY: a `ThisRq` is the runqueue of the current CPU, which the task
// stays on while it exists (interrupts are off, type invariant), and
// `object` always returns that runqueue.
unsafe impl OnOwnCpu<Rq> for ThisRq<'_> {
    #[inline(always)]
    fn object(&self) -> &Rq {
        self.rq
    }
}

impl Deref for ThisRq<'_> {
    type Target = Rq;

    #[inline]
    fn deref(&self) -> &Rq {
        self.rq
    }
}

/// The protection of a field of `struct rq` changed only with the rq lock
/// held (C reads it without the lock only with `READ_ONCE()`): read through
/// a [`RqLockHolder`] of that runqueue.
pub enum RqLock {}

/// The fields of `struct rq` these paths use, with their protection.
pub struct RqFields {
    /// `rq->cpu`, the runqueue's CPU.
    pub cpu: Field<Rq, c_int, PossibleCpuId>,
    /// `rq->scx.cpus_to_sync`: CPUs this CPU waits for after a
    /// `SCX_KICK_WAIT` kick.
    pub cpus_to_sync: Field<Rq, bindings::cpumask_var_t, AtomicMask>,
    /// `rq->scx.kick_cpus_irq_work`, which carries out the kicks pending on
    /// the runqueue's CPU: queued only there (`LocalIrqWork`).
    pub kick_cpus_irq_work: Field<Rq, bindings::irq_work, LocalIrqWork>,
    /// `rq->scx.deferred_reenq_lock`, which protects the list of user DSQs
    /// with a reenqueue pending.
    pub deferred_reenq_lock: Field<Rq, bindings::raw_spinlock_t, CRawSpinLock>,
    /// `rq->scx.kick_sync`, the runqueue's kick sequence.
    pub kick_sync: Field<Rq, c_ulong, Marked>,
    /// `rq->curr`, the task running on the runqueue's CPU.
    pub curr: Field<Rq, *mut bindings::task_struct, RqLock>,
    /// `rq->scx.flags`, the `SCX_RQ_*` flags.
    pub scx_flags: Field<Rq, u32, RqLock>,
    /// `rq->scx.kick_sync_pending`: the CPU must wait for the CPUs in its
    /// `cpus_to_sync` before it next schedules.
    pub kick_sync_pending: Field<Rq, bool, RqLock>,
    /// `rq->scx.sub_dispatch_prev`, the task that was running when
    /// sched_ext started dispatching on the runqueue, for nested dispatch.
    pub sub_dispatch_prev: Field<Rq, *mut bindings::task_struct, RqLock>,
    /// `rq->scx.local_dsq.nr`, the number of tasks on the local DSQ.
    pub local_dsq_nr: Field<Rq, u32, RqLock>,
}

/// The fields of `struct rq` these paths use.
///
/// Safe code can read those the rq lock protects, not write them:
///
/// ```compile_fail,E0599
/// use scx_rs::{
///     ext::rq::{Rq, RqLockHolder, RQ},
///     sync::{percpu::PossibleCpu, IrqsOff},
/// };
///
/// let irqs_off = IrqsOff::new().expect("not in NMI");
/// let guard = Rq::of(PossibleCpu::current(&irqs_off)).lock(&irqs_off);
/// guard.set(RQ.curr, core::ptr::null_mut());
/// ```
///
/// Nor queue a runqueue's kick irq_work from another CPU: its callback
/// carries out the kicks of the CPU it runs on, so only the runqueue's own
/// CPU ([`ThisRq`]) may queue it:
///
/// ```compile_fail,E0277
/// use scx_rs::{
///     ext::rq::{Rq, RQ},
///     sync::percpu::possible_cpus,
/// };
///
/// let other = possible_cpus().last().expect("a possible CPU");
/// RQ.kick_cpus_irq_work.queue_local(Rq::of(other));
/// ```
pub const RQ: RqFields = {
    // Runqueues are set up at boot and never freed. Each field is protected
    // as its type says:
    // - `cpu` is set at boot to the runqueue's CPU, possible (`Rq`'s
    //   invariant), and never changed;
    // - `scx.cpus_to_sync` is allocated at boot, never freed, and changed
    //   only with `cpumask_set_cpu()`/`cpumask_clear_cpu()`;
    // - `scx.kick_cpus_irq_work` is initialised at boot
    //   (`IRQ_WORK_INIT_HARD(kick_cpus_irq_workfn)`) and never freed or
    //   reinitialised; its callback carries out the kicks pending on the
    //   CPU where it runs, so it is fine to run whenever queued on the
    //   runqueue's own CPU, and only there;
    // - `scx.deferred_reenq_lock` is initialised at boot and never freed;
    // - `scx.kick_sync` is advanced by `kick_sync_wait_bal_cb()` with
    //   `smp_store_release()`, with the rq lock dropped, and read with
    //   `smp_load_acquire()` or under the lock: marked accesses;
    // - the others are changed only with the rq lock held: `curr` by
    //   `__schedule()`, lockless readers using `READ_ONCE()` or RCU;
    //   `scx.flags` by every `rq->scx.flags |=`/`&=` of kernel/sched/ext/
    //   (`lockdep_assert_rq_held()`); `scx.kick_sync_pending` set by the
    //   kick irq_work and cleared in the pick path (`balance_one()`); `scx.sub_dispatch_prev` by
    //   `scx_dispatch_sched()` around `ops.dispatch()`; `scx.local_dsq.nr`
    //   by insertions into and removals from the local DSQ, which hold the
    //   rq lock (not the DSQ's own), read locklessly with `READ_ONCE()`
    //   (`dsq_mod_nr()` writes it with `WRITE_ONCE()`). `curr` is never
    //   null and is the runqueue's current task, valid while the lock is
    //   held; `sub_dispatch_prev` is null or the task that was running when
    //   dispatching started, still the current one (the CPU is in
    //   `__schedule()` for it).
    // They are pointers, integers and a `bool` C sets only to `true` or
    // `false`: every value C stores is valid.
    //
    // SAFETY: each projection is `kernel::ptr::project!`, which computes the
    // address of the field it names from the pointer it is given, and each
    // field is protected as listed above, as `Field::new` requires.
    unsafe {
        RqFields {
            cpu: Field::<Rq, _, _>::new(|rq| project!(mut rq, .cpu)),
            cpus_to_sync: Field::<Rq, _, _>::new(|rq| project!(mut rq, .scx.cpus_to_sync)),
            kick_cpus_irq_work: Field::<Rq, _, _>::new(
                |rq| project!(mut rq, .scx.kick_cpus_irq_work),
            ),
            deferred_reenq_lock: Field::<Rq, _, _>::new(
                |rq| project!(mut rq, .scx.deferred_reenq_lock),
            ),
            kick_sync: Field::<Rq, _, _>::new(|rq| project!(mut rq, .scx.kick_sync)),
            curr: Field::<Rq, _, _>::new(|rq| project!(mut rq, .__bindgen_anon_1.curr)),
            scx_flags: Field::<Rq, _, _>::new(|rq| project!(mut rq, .scx.flags)),
            kick_sync_pending: Field::<Rq, _, _>::new(
                |rq| project!(mut rq, .scx.kick_sync_pending),
            ),
            sub_dispatch_prev: Field::<Rq, _, _>::new(
                |rq| project!(mut rq, .scx.sub_dispatch_prev),
            ),
            local_dsq_nr: Field::<Rq, _, _>::new(|rq| project!(mut rq, .scx.local_dsq.nr)),
        }
    }
};

/// A context that holds a runqueue's lock: an [`RqGuard`], or a
/// [`SubDispatch`](crate::ext::sched::SubDispatch), for which sched_ext
/// holds it.
///
/// The lock protects the fields of [`RQ`] marked [`RqLock`] and the
/// runqueue's tasks' scheduling state ([`RqTask`]).
///
/// # Safety
///
/// `locked_rq()` returns the same runqueue for as long as the value exists,
/// and the current context holds that runqueue's lock whenever code that
/// has the value runs: sched_ext may drop and retake it inside a call into
/// C, never across Rust code. The value is not sent to another task.
pub unsafe trait RqLockHolder {
    /// The locked runqueue.
    fn locked_rq(&self) -> &Rq;

    /// Reads a field the rq lock protects (`READ_ONCE()` of it).
    #[inline(always)]
    fn get<T: Copy>(&self, field: Field<Rq, T, RqLock>) -> T {
        let ptr = field.project(self.locked_rq());
        // SAFETY: `ptr` is a field of the live runqueue, so valid for reads
        // and aligned, holding a valid `T` (`Field`); it changes only under
        // the rq lock (`RqLock`), which this context holds (`RqLockHolder`),
        // so nothing writes it concurrently, as `read_volatile` requires.
        unsafe { ptr.read_volatile() }
    }

    /// Marks that this CPU must wait for the CPUs in its `cpus_to_sync`
    /// before it next schedules (`rq->scx.kick_sync_pending = true`).
    ///
    /// The one field of [`RQ`] these paths write; the others are read only
    /// (with a `set` of any field, safe code could point `rq->curr`
    /// anywhere).
    #[inline(always)]
    fn set_kick_sync_pending(&self) {
        let ptr = RQ.kick_sync_pending.project(self.locked_rq());
        // SAFETY: `ptr` is the field of the live runqueue, valid for writes
        // and aligned (`Field`), changed only under the lock this context
        // holds; the store is volatile as C's lockless readers use
        // `READ_ONCE()`, and `true` is a value C stores there too.
        unsafe { ptr.write_volatile(true) }
    }

    /// Marks the runqueue's current task for rescheduling (`resched_curr()`),
    /// sending an IPI if it runs on another CPU.
    #[inline]
    fn resched_curr(&self) {
        // SAFETY: `resched_curr()` requires the rq lock, held
        // (`RqLockHolder`).
        unsafe { bindings::resched_curr(self.locked_rq().as_raw()) }
    }

    /// The runqueue's current task (`rq->curr`).
    #[inline(always)]
    fn curr(&self) -> RqTask<'_> {
        // INVARIANT: `rq->curr` is never null, and is a task of this
        // runqueue valid while the lock is held (`RQ`).
        RqTask {
            task: self.get(RQ.curr),
            _lock: PhantomData,
        }
    }

    /// The task that was running on the runqueue when sched_ext started
    /// dispatching (`rq->scx.sub_dispatch_prev`, stashed by the outermost
    /// `scx_dispatch_sched()` for the nested ones); `None` if it is not set.
    #[inline(always)]
    fn sub_dispatch_prev(&self) -> Option<RqTask<'_>> {
        let prev = self.get(RQ.sub_dispatch_prev);
        // INVARIANT: a non-null `sub_dispatch_prev` is a task of this
        // runqueue valid while the lock is held (`RQ`).
        (!prev.is_null()).then_some(RqTask {
            task: prev,
            _lock: PhantomData,
        })
    }

    /// Whether sched_ext is dispatching on the runqueue
    /// (`rq->scx.flags & SCX_RQ_IN_DISPATCH`).
    #[inline(always)]
    fn in_dispatch(&self) -> bool {
        self.get(RQ.scx_flags) & bindings::scx_rq_flags_SCX_RQ_IN_DISPATCH != 0
    }
}

// SAFETY: `Task` is the kernel crate's transparent wrapper of
// `Opaque<task_struct>`, and its invariant is that it is a valid task
// while borrowed.
unsafe impl CObject for Task {
    type Raw = bindings::task_struct;
}

/// The protection of a field of `struct task_struct` changed only with the
/// lock of the task's runqueue held: read through an [`RqTask`].
pub enum TaskRqLock {}

/// The fields of `struct task_struct` these paths read, with their
/// protection.
pub struct TaskFields {
    /// `p->flags`, the `PF_*` flags.
    pub flags: Field<Task, u32, RacyWord>,
    /// `p->sched_class`.
    pub sched_class: Field<Task, *const bindings::sched_class, TaskRqLock>,
    /// `p->scx.sched`, the scheduler of an ext task.
    pub scx_sched: Field<Task, *mut bindings::scx_sched, TaskRqLock>,
    /// `p->scx.flags`, the `SCX_TASK_*` flags.
    pub scx_flags: Field<Task, u32, TaskRqLock>,
    /// `p->scx.slice`, the slice left.
    pub scx_slice: Field<Task, u64, TaskRqLock>,
}

/// The fields of `struct task_struct` these paths read.
pub const TASK: TaskFields = {
    // Each is protected as its type says while the task is valid:
    // - `flags`: the task changes its other bits with plain stores of the
    //   aligned word while others read it locklessly, C included
    //   (`is_idle_task()`); a relaxed atomic load races with those stores
    //   only as C's own reads do (no tearing). `PF_IDLE` itself changes only
    //   while the task is not on a CPU or is the one running it, so the bit
    //   read is exact;
    // - `sched_class` changes only with the task's runqueue locked
    //   (`__setscheduler_class()` under `task_rq_lock()`), as do `scx.sched`
    //   (`scx_set_task_sched()`), `scx.flags` and `scx.slice` (sched_ext
    //   changes them with the runqueue locked; `scx_set_task_slice()` is the
    //   only writer this crate calls). Every value C stores is valid.
    //
    // SAFETY: each projection is `project!` of the field it names; each
    // field is protected as argued above, as `Field::new` requires.
    unsafe {
        TaskFields {
            flags: Field::<Task, _, _>::new(|p| project!(mut p, .flags)),
            sched_class: Field::<Task, _, _>::new(|p| project!(mut p, .sched_class).cast()),
            scx_sched: Field::<Task, _, _>::new(|p| project!(mut p, .scx.sched).cast()),
            scx_flags: Field::<Task, _, _>::new(|p| project!(mut p, .scx.flags)),
            scx_slice: Field::<Task, _, _>::new(|p| project!(mut p, .scx.slice)),
        }
    }
};

/// A task of a runqueue whose lock the context holds: its current task, or
/// the task that was running when sched_ext started dispatching on it.
///
/// # Invariants
///
/// `task` is a task, valid for `'a`, of a runqueue whose lock the current
/// context holds for `'a`, which protects the fields of [`TASK`] marked
/// [`TaskRqLock`].
#[derive(Clone, Copy)]
pub struct RqTask<'a> {
    task: *mut bindings::task_struct,
    _lock: PhantomData<&'a Rq>,
}

impl<'a> RqTask<'a> {
    /// The `task_struct` pointer.
    #[inline(always)]
    pub(crate) fn as_raw(&self) -> *mut bindings::task_struct {
        self.task
    }

    /// The task, as the kernel crate's type.
    #[inline(always)]
    fn task(&self) -> &'a Task {
        // SAFETY: the task is valid for `'a` (type invariant), which is what
        // `Task` requires.
        unsafe { Task::from_raw(NonNull::new_unchecked(self.task)) }
    }

    /// Reads a field the task's runqueue lock protects.
    #[inline(always)]
    fn get<T: Copy>(&self, field: Field<Task, T, TaskRqLock>) -> T {
        let ptr = field.project(self.task());
        // SAFETY: `ptr` is a field of the valid task holding a valid `T`,
        // aligned (`Field`), changed only under the lock of the task's
        // runqueue (`TaskRqLock`), which this context holds (type invariant);
        // volatile, as `RqLockHolder::get`, since C's lockless readers use
        // `READ_ONCE()`.
        unsafe { ptr.read_volatile() }
    }

    /// How the task's class ranks against ext.
    #[inline(always)]
    pub fn class(&self) -> ClassOrder {
        let class = self.get(TASK.sched_class);
        let ext = &raw const bindings::ext_sched_class;
        // `sched_class_above()`: the linker script lays the classes out in
        // decreasing priority, so a class above ext is at a lower address.
        if core::ptr::eq(class, ext) {
            ClassOrder::Ext
        } else if class < ext {
            ClassOrder::Above
        } else {
            ClassOrder::Below
        }
    }

    /// Whether the task is an idle task (`is_idle_task()`).
    #[inline]
    pub fn is_idle(&self) -> bool {
        TASK.flags.load(self.task()) & bindings::PF_IDLE != 0
    }

    /// Whether the task is an ext task of the scheduler `sch` (its class is
    /// ext and `scx_task_on_sched(sch, p)`).
    #[inline(always)]
    pub fn on_sched(&self, sch: &Sched) -> bool {
        // Only the pointer is compared (`rcu_access_pointer()`).
        let on = self.get(TASK.scx_sched) == sch.as_raw();
        on && self.class() == ClassOrder::Ext
    }

    /// Whether the task is queued with slice left (`p->scx.flags &
    /// SCX_TASK_QUEUED && p->scx.slice`): it would keep running.
    #[inline(always)]
    pub fn queued_with_slice(&self) -> bool {
        let queued = self.get(TASK.scx_flags) & bindings::scx_ent_flags_SCX_TASK_QUEUED as u32;
        queued != 0 && self.get(TASK.scx_slice) != 0
    }

    /// Sets the task's slice (`scx_set_task_slice()`); `false` if that was
    /// refused.
    #[inline]
    pub fn set_slice(&self, slice: u64) -> bool {
        // SAFETY: the task is valid and its runqueue is locked (type
        // invariant), as setting its slice requires.
        unsafe { bindings::scx_impl_set_task_slice(self.as_raw(), slice) }
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
    _irqs_off: PhantomData<&'a IrqsOff>,
    _not_send: NotThreadSafe,
}

impl<'a> RqGuard<'a> {
    #[inline]
    fn new(rq: &'a Rq, _irqs_off: &'a IrqsOff) -> Self {
        Self {
            rq,
            _irqs_off: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// The runqueue's kick sequence (`rq->scx.kick_sync`).
    ///
    /// `kick_sync_wait_bal_cb()` advances it with `smp_store_release()`
    /// while it waits with the lock dropped, so it is read as an atomic
    /// (relaxed, as C's plain read under the lock): the value recorded is
    /// then compared with the target CPU's `smp_load_acquire()` of it.
    #[inline]
    pub fn kick_sync(&self) -> c_ulong {
        RQ.kick_sync.load(self.rq)
    }
}

// SAFETY: by the type invariant this context holds `rq`'s lock for as long
// as the guard exists.
unsafe impl RqLockHolder for RqGuard<'_> {
    #[inline(always)]
    fn locked_rq(&self) -> &Rq {
        self.rq
    }
}

impl Drop for RqGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Without core scheduling, the lock is the runqueue's own
        // (`rq_lockp()`) and `scx_rq_lock_drop()` only asserts it held: the
        // release is `raw_spin_unlock(&rq->__lock)`, inline as in C.
        #[cfg(not(CONFIG_SCHED_CORE))]
        // SAFETY: `raw_spin_unlock()` requires the lock held by this
        // context: by the type invariant it holds the runqueue's lock,
        // which is `rq->__lock` (see above), taken with IRQs disabled by
        // `raw_spin_rq_lock_nested()` or `raw_spin_rq_trylock()`; this is
        // its one release.
        unsafe {
            bindings::raw_spin_unlock(&raw mut (*self.rq.as_raw()).__lock)
        }
        #[cfg(CONFIG_SCHED_CORE)]
        // SAFETY: `scx_impl_rq_unlock()` requires the runqueue locked by
        // `raw_spin_rq_lock()` or `raw_spin_rq_trylock()` in this context:
        // by the type invariant this guard took it so, with IRQs disabled;
        // this is its one release.
        unsafe {
            bindings::scx_impl_rq_unlock(self.rq.as_raw())
        }
    }
}

/// `rq->scx.deferred_reenq_lock`, held.
pub struct DeferredReenqGuard<'a> {
    rq: &'a Rq,
    guard: RawSpinLockIrqGuard<'a, ()>,
}

impl DeferredReenqGuard<'_> {
    /// The runqueue's list of user DSQs with a reenqueue pending
    /// (`rq->scx.deferred_reenq_users`, linking
    /// `scx_dsq_pcpu.deferred_reenq_user.node`).
    #[inline]
    pub fn users(&self) -> CpuList<'_, DsqPcpu> {
        // SAFETY: the head is initialised at boot with the runqueue, of
        // `rq.cpu()`. `schedule_dsq_reenq()` links only the slot of the
        // runqueue's CPU of a DSQ's per-CPU data on it, and it and every
        // change of such a link (`process_deferred_reenq_users()`,
        // `free_dsqs()`, the exit of a DSQ) happen under this lock, which
        // `self.guard` holds; C's lockless test is a `READ_ONCE()`. A DSQ's
        // per-CPU data is freed only once unlinked under this lock, so entries
        // stay valid while it is held.
        unsafe {
            CpuList::with_lock(
                &raw mut (*self.rq.as_raw()).scx.deferred_reenq_users,
                self.rq.cpu(),
                &self.guard,
            )
        }
    }
}

/// This CPU's `SCX_KICK_WAIT` sequence array (`scx_kick_syncs`), for the
/// duration of the kick irq_work: one entry per CPU id below `nr_cpu_ids`.
///
/// The entries are written as relaxed atomics: `kick_sync_wait_bal_cb()`
/// reads them on this CPU, outside this callback.
pub struct KickSyncs<'a>(&'a [Atomic<c_ulong>]);

impl KickSyncs<'_> {
    /// Records `seq` as the kick sequence of `cpu` to wait for.
    #[inline]
    pub fn set(&self, cpu: PossibleCpu, seq: c_ulong) {
        self.0[cpu.as_u32() as usize].store(seq, Relaxed);
    }
}

/// The context of this CPU's kick irq_work callback (`kick_cpus_irq_workfn()`):
/// hard IRQ context on the runqueue's CPU.
///
/// Only the callback's FFI entry point can make one: with interrupts merely
/// disabled, the kick list and `scx_kick_syncs` are not the callback's.
///
/// ```compile_fail,E0133
/// use scx_rs::ext::rq::KickIrqWork;
///
/// let ctx = KickIrqWork::new(core::ptr::NonNull::dangling());
/// ```
///
/// # Invariants
///
/// Exists only inside the kick irq_work's callback on the current CPU, in
/// hard IRQ context, with interrupts disabled (`irqs_off`); it is dropped
/// before the callback returns and not sent to another task.
pub struct KickIrqWork {
    irqs_off: IrqsOff,
    /// The current CPU's runqueue.
    rq: &'static Rq,
}

impl KickIrqWork {
    /// The context of the running callback, on the runqueue `this_rq`.
    ///
    /// # Safety
    ///
    /// The caller is the callback of the current CPU's `kick_cpus_irq_work`,
    /// which runs in hard IRQ context (`IRQ_WORK_INIT_HARD`), and drops the
    /// value before it returns; `this_rq` is the current CPU's runqueue
    /// (`this_rq()`, which `kick_cpus_irq_workfn()` passes).
    #[inline]
    pub(crate) unsafe fn new(this_rq: NonNull<bindings::rq>) -> Self {
        // INVARIANT: by the safety requirements; `IrqsOff` is not `Send`.
        Self {
            // SAFETY: hard IRQ context has interrupts disabled, is not NMI
            // context, and lasts until the callback returns, which the value
            // does not outlive (safety requirements).
            irqs_off: unsafe { IrqsOff::assume_disabled() },
            // SAFETY: `this_rq` is a possible CPU's runqueue, and runqueues
            // are never freed (safety requirements).
            rq: unsafe { Rq::from_raw(this_rq) },
        }
    }

    /// The interrupts-off token.
    #[inline]
    pub fn irqs_off(&self) -> &IrqsOff {
        &self.irqs_off
    }

    /// This CPU's runqueue.
    #[inline]
    pub fn this_rq(&self) -> ThisRq<'_> {
        // INVARIANT: `rq` is the current CPU's runqueue (type invariant),
        // whose `cpu` field is that CPU; interrupts stay off while
        // `irqs_off` is borrowed.
        ThisRq {
            rq: self.rq,
            cpu: self.rq.cpu(),
            irqs_off: &self.irqs_off,
        }
    }

    /// This CPU's list of schedulers with kicks pending, to carry out and
    /// unlink (`rq->scx.sched_pcpus_to_kick`), from this CPU's runqueue
    /// (any [`ThisRq`] is).
    #[inline]
    pub fn sched_pcpus_to_kick<'b>(&self, this_rq: &ThisRq<'b>) -> CpuList<'b, SchedPcpu> {
        this_rq.sched_pcpus_to_kick()
    }

    /// This CPU's `SCX_KICK_WAIT` sequence array, or `None` while a scheduler
    /// is being disabled (this can race with `free_kick_syncs()`).
    #[inline]
    pub fn kick_syncs(&self) -> Option<KickSyncs<'_>> {
        // SAFETY: this CPU's `scx_kick_syncs` is read as
        // `__this_cpu_read()` does, with preemption disabled (interrupts
        // are), and volatile as `rcu_dereference_bh()` reads it, whose
        // RCU-bh reader interrupts disabled is too. The pointer is written
        // only with `rcu_assign_pointer()` of an array allocated with
        // `nr_cpu_ids` entries, or NULL. `free_kick_syncs()` replaces it
        // with NULL and frees the old array with `kvfree_rcu()`: this
        // callback runs with interrupts off, an RCU reader, so an array it
        // read lives until it returns (`'_`). Every other access to it is
        // on this CPU; `Atomic<c_ulong>` has the layout of `c_ulong`.
        let syncs = unsafe {
            let this = bindings::this_cpu_ptr((&raw mut bindings::scx_kick_syncs).cast())
                .cast::<*mut bindings::scx_kick_syncs>();
            let ks = this.read_volatile();
            (!ks.is_null()).then(|| {
                core::slice::from_raw_parts(
                    (&raw const (*ks).syncs).cast::<Atomic<c_ulong>>(),
                    kernel::cpu::nr_cpu_ids() as usize,
                )
            })
        }?;
        Some(KickSyncs(syncs))
    }
}

#[cfg(CONFIG_KUNIT)]
#[kernel::prelude::kunit_tests(scx_rs_rq)]
mod tests {
    use super::*;
    use crate::sync::percpu::num_possible_cpus;

    #[test]
    fn every_possible_cpu_has_its_rq() {
        let mut n = 0;
        for (cpu, rq) in possible_cpus().zip(Rq::all()) {
            assert_eq!(rq.cpu(), cpu);
            n += 1;
        }
        assert_eq!(n, num_possible_cpus());
    }

    #[test]
    fn this_rq_is_this_cpus() {
        let irqs_off = IrqsOff::new().expect("not in NMI");
        let rq = Rq::this(&irqs_off);
        assert_eq!(rq.cpu(), PossibleCpu::current(&irqs_off));
        assert!(core::ptr::eq(&*rq, Rq::of(rq.cpu())));
    }

    #[test]
    fn lock_excludes_other_lockers() {
        let irqs_off = IrqsOff::new().expect("not in NMI");
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
        let irqs_off = IrqsOff::new().expect("not in NMI");
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
        let irqs_off = IrqsOff::new().expect("not in NMI");
        let guard = Rq::this(&irqs_off).rq.lock(&irqs_off);
        // KUnit's thread: fair class, not idle.
        assert_eq!(guard.curr().class(), ClassOrder::Above);
        assert!(!guard.curr().is_idle());
    }

    /// The deferred reenqueue list of every CPU is reached under its lock,
    /// and holds nothing while no scheduler runs.
    #[test]
    fn deferred_reenq_lists_are_per_cpu() {
        for rq in Rq::all() {
            let locked = rq.lock_deferred_reenq();
            let users = locked.users();
            assert_eq!(users.cpu(), rq.cpu());
            assert!(users.is_empty());
        }
    }
}
