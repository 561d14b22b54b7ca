// SPDX-License-Identifier: GPL-2.0

//! irq_work: callbacks run from hard interrupt context.
//!
//! An [`IrqWork<T>`] is a `struct irq_work` together with the data `T` its
//! callback works on. `T` implements [`IrqWorkFn`], whose
//! [`run`](IrqWorkFn::run) is the callback. The item is pinned (it sits on
//! a per-CPU lock-free list while pending) and is embedded wherever it is
//! needed: in a heap object, in every slot of a
//! [`PerCpu`](super::percpu::PerCpu), or in a `static`.
//!
//! # Ownership
//!
//! Queueing borrows the item: [`queue`](IrqWork::queue) and
//! [`queue_on`](IrqWork::queue_on) take `Pin<&Self>`. The item must then
//! stay alive until the callback has finished, and that is what its drop
//! guarantees: dropping an [`IrqWork`] waits for it with `irq_work_sync()`
//! *before* anything else of the item, `T` included, is dropped. Pinning
//! promises that the memory is not reused before drop runs, so the callback
//! never sees freed memory. The wait is unconditional: `irq_work_single()`
//! still touches the item after it cleared `IRQ_WORK_BUSY` (the hard/lazy
//! test and `rcuwait_wake_up()` on `PREEMPT_RT`, or where the architecture
//! has no irq_work interrupt), a window only `irq_work_sync()` closes.
//!
//! An item that is never dropped (leaked with `mem::forget`, say) stays
//! queued, so its callback may run at any later time: hence
//! `T: 'static`. Data borrowed from a stack frame cannot be given to it:
//!
//! ```compile_fail,E0477
//! use core::pin::Pin;
//! use kernel::sync::atomic::{Atomic, Relaxed};
//! use scx_rs::sync::irq_work::{IrqWork, IrqWorkFn, IrqWorkKind};
//!
//! struct Bump<'a>(&'a Atomic<u32>);
//!
//! impl<'a> IrqWorkFn for Bump<'a> {
//!     fn run(work: Pin<&IrqWork<Self>>) {
//!         work.0.add(1, Relaxed);
//!     }
//! }
//!
//! let hits = Atomic::new(0u32);
//! let w = KBox::pin_init(IrqWork::new(IrqWorkKind::Hard, Bump(&hits)), GFP_KERNEL)?;
//! w.as_ref().queue();
//! core::mem::forget(w); // `hits` would be gone when the callback runs.
//! # Ok::<(), Error>(())
//! ```
//!
//! [`CIrqWork`] is the borrowed form, for an irq_work that C code owns and
//! initialised with a callback of its own (a runqueue's
//! `kick_cpus_irq_work`, say).
//!
//! Handing a reference-counted pointer to the callback (as
//! `kernel::workqueue` does with `Arc`) is deliberately not offered: the
//! irq_work core writes to the item after the callback returns
//! (`irq_work_single()` clears `IRQ_WORK_BUSY` and may wake a waiter), so a
//! callback that dropped the last reference would free memory still in use.
//! C code has the same rule and works around it the same way, for example
//! sched_ext frees DSQs through a static irq_work and a list.
//!
//! # Context of the callback
//!
//! [`IrqWorkFn::run`] runs in hard interrupt context with interrupts
//! disabled, on the CPU the item was queued on, except that on `PREEMPT_RT`
//! items that are not [`IrqWorkKind::Hard`] run in a per-CPU kernel thread.
//! The callback must not sleep: no `GFP_KERNEL` allocation, no mutex, no
//! `synchronize_rcu()`, no `irq_work_sync()` of itself, and for
//! [`IrqWorkKind::Hard`] items no `spinlock_t` on `PREEMPT_RT` (use raw
//! spinlocks). Dropping an item from its own callback deadlocks.
//!
//! # Context of the drop
//!
//! Dropping an [`IrqWork`] calls `irq_work_sync()`, which sleeps on
//! `PREEMPT_RT` and elsewhere spins until the item is idle: an item pending
//! on the current CPU never becomes idle while interrupts (or, for the
//! irq_work thread, preemption) are off. So an item may only be dropped in
//! process context where sleeping is allowed: not with interrupts off, not
//! under a spinlock, not in softirq context (so not inside an
//! [`RcuBox`](super::rcu::RcuBox), whose contents are dropped by an RCU
//! callback) and not from its own callback. The drop checks it with
//! `might_sleep()`, which `CONFIG_DEBUG_ATOMIC_SLEEP` reports.
//!
//! C header: [`include/linux/irq_work.h`](srctree/include/linux/irq_work.h)
//!
//! # Examples
//!
//! ```
//! use core::pin::Pin;
//! use kernel::sync::atomic::{Atomic, Relaxed};
//! use scx_rs::sync::irq_work::{IrqWork, IrqWorkFn, IrqWorkKind};
//!
//! struct Counter(Atomic<u32>);
//!
//! impl IrqWorkFn for Counter {
//!     fn run(work: Pin<&IrqWork<Self>>) {
//!         work.0.add(1, Relaxed);
//!     }
//! }
//!
//! let w = KBox::pin_init(IrqWork::new(IrqWorkKind::Hard, Counter(Atomic::new(0))), GFP_KERNEL)?;
//! assert!(w.as_ref().queue());
//! w.sync();
//! assert_eq!(w.0.load(Relaxed), 1);
//! # Ok::<(), Error>(())
//! ```

use super::{
    field::{CObject, Field},
    percpu::PossibleCpu,
};
use crate::bindings;
use core::{marker::PhantomPinned, pin::Pin};
use kernel::{prelude::*, types::Opaque};

/// How an [`IrqWork`] item is run (`IRQ_WORK_INIT*` in C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqWorkKind {
    /// `IRQ_WORK_INIT`: raised with a self-IPI; on `PREEMPT_RT` runs in
    /// the per-CPU irq_work thread.
    Normal,
    /// `IRQ_WORK_INIT_LAZY`: no IPI, runs from the next tick (or at once if
    /// the tick is stopped).
    Lazy,
    /// `IRQ_WORK_INIT_HARD`: always runs in hard interrupt context, also on
    /// `PREEMPT_RT`.
    Hard,
}

impl IrqWorkKind {
    const fn flags(self) -> u32 {
        match self {
            IrqWorkKind::Normal => 0,
            IrqWorkKind::Lazy => bindings::IRQ_WORK_LAZY,
            IrqWorkKind::Hard => bindings::IRQ_WORK_HARD_IRQ,
        }
    }
}

/// The callback of an [`IrqWork`] carrying a `Self`.
///
/// `Self: Sync` because the callback runs on whichever CPU the item was
/// queued on while other CPUs may hold references to the same data;
/// `Self: 'static` because an item that is never dropped may run at any
/// later time (see the module documentation).
pub trait IrqWorkFn: Sync + Sized + 'static {
    /// Runs the work; see the module documentation for the context.
    fn run(work: Pin<&IrqWork<Self>>);
}

/// A `struct irq_work` with the data `T` of its callback.
///
/// # Invariants
///
/// - `work` is an initialised `struct irq_work` whose `func` is
///   `Self::trampoline`;
/// - once queued, `work` is not freed or reused before it is no longer
///   busy: the item is pinned and its drop waits for it.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub struct IrqWork<T: IrqWorkFn> {
    /// First, so that the callback's `struct irq_work *` is the item's address.
    #[pin]
    work: Opaque<bindings::irq_work>,
    #[pin]
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The item may be sent to another thread if its data may; the
// `struct irq_work` itself has no thread affinity until queued, and a
// queued item is borrowed, so it cannot be sent.
unsafe impl<T: IrqWorkFn + Send> Send for IrqWork<T> {}

// SAFETY: Shared references allow `queue`, `sync` and reading `T`. The
// irq_work core serialises queueing with atomic operations on the item's
// flags, and `T: Sync` (required by `IrqWorkFn`) makes `&T` shareable.
unsafe impl<T: IrqWorkFn> Sync for IrqWork<T> {}

impl<T: IrqWorkFn> IrqWork<T> {
    /// An initialiser of an item of the given kind carrying `data`.
    pub fn new(kind: IrqWorkKind, data: T) -> impl PinInit<Self> {
        Self::pin_init(kind, data)
    }

    /// An initialiser of an item of the given kind whose data is initialised in place.
    pub fn pin_init<E>(kind: IrqWorkKind, data: impl PinInit<T, E>) -> impl PinInit<Self, E> {
        pin_init!(Self {
            // INVARIANT: the work is initialised with `Self::trampoline`.
            work: Opaque::new(Self::raw_work(kind)),
            data <- data,
            _pin: PhantomPinned,
        }? E)
    }

    /// An item of the given kind carrying `data`, for a `static`.
    ///
    /// # Safety
    ///
    /// The item must not be pending or running when the code of its
    /// callback goes away: a module that queues a static item must call
    /// [`sync`](Self::sync) on it in its exit path, after the last
    /// [`queue`](Self::queue).
    pub const unsafe fn new_static(kind: IrqWorkKind, data: T) -> Self {
        Self {
            // INVARIANT: the work is initialised with `Self::trampoline`; a
            // `static` is never moved or freed, and the caller guarantees
            // that it is idle when the module goes away.
            work: Opaque::new(Self::raw_work(kind)),
            data,
            _pin: PhantomPinned,
        }
    }

    /// `__IRQ_WORK_INIT(Self::trampoline, kind)`.
    const fn raw_work(kind: IrqWorkKind) -> bindings::irq_work {
        // SAFETY: All-zeroes is a valid `struct irq_work` (plain C data): an
        // empty node, no flags, no `func`, an idle `rcuwait`, as
        // `__IRQ_WORK_INIT` leaves the fields it does not name.
        let mut work: bindings::irq_work = unsafe { core::mem::zeroed() };
        work.node.__bindgen_anon_1.u_flags = kind.flags();
        work.func = Some(Self::trampoline);
        work
    }

    /// The C callback: finds the item and calls [`IrqWorkFn::run`].
    ///
    /// # Safety
    ///
    /// `ptr` must be the `work` field of an [`IrqWork<T>`] that was queued
    /// and has not finished running this callback.
    unsafe extern "C" fn trampoline(ptr: *mut bindings::irq_work) {
        // SAFETY: `work` is the first field of this `#[repr(C)]` type, so `ptr`
        // is the item's address; by the type invariants a queued item is
        // pinned, alive until its callback returns, and only ever shared.
        let this = unsafe { Pin::new_unchecked(&*ptr.cast::<Self>()) };
        T::run(this);
    }

    /// The `struct irq_work`, as a [`CIrqWork`].
    #[inline]
    fn raw(&self) -> &CIrqWork {
        // SAFETY: `work` is an initialised `struct irq_work` (type invariant),
        // valid while `self` is borrowed. Queueing is reachable only through
        // `Pin<&Self>`, so a queued item is pinned, and its drop syncs it
        // before it goes: it is never freed while busy. Its callback,
        // `trampoline`, runs `T::run` whenever the item is queued.
        unsafe { CIrqWork::from_raw(self.work.get()) }
    }

    /// Queues the item on the current CPU (`irq_work_queue()`).
    ///
    /// Returns `false` if it was already pending, in which case it runs
    /// once for both queueings. May be called from any context, with
    /// interrupts on or off.
    #[inline]
    pub fn queue(self: Pin<&Self>) -> bool {
        self.raw().queue()
    }

    /// Queues the item on `cpu` (`irq_work_queue_on()`); see
    /// [`CIrqWork::queue_on`].
    #[inline]
    pub fn queue_on(self: Pin<&Self>, cpu: PossibleCpu) -> bool {
        self.raw().queue_on(cpu)
    }

    /// Waits until the item is neither pending nor running (`irq_work_sync()`).
    ///
    /// Must be called from a context that may sleep, with interrupts on, and
    /// never from the item's own callback.
    #[inline]
    pub fn sync(&self) {
        self.raw().sync()
    }

    /// Whether the item is queued and its callback has not started.
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.raw().is_pending()
    }

    /// Whether the item is queued or its callback is running.
    #[inline]
    pub fn is_busy(&self) -> bool {
        self.raw().is_busy()
    }

    /// The data of the callback.
    #[inline]
    pub fn data(self: Pin<&Self>) -> Pin<&T> {
        // SAFETY: `data` is structurally pinned.
        unsafe { self.map_unchecked(|s| &s.data) }
    }
}

impl<T: IrqWorkFn> core::ops::Deref for IrqWork<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.data
    }
}

#[pinned_drop]
impl<T: IrqWorkFn> PinnedDrop for IrqWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // See "Context of the drop" in the module documentation.
        kernel::task::might_sleep();
        // With `&mut`, nobody can queue the item any more; only a queueing
        // that happened before can still be pending or running. Wait for it
        // before the fields, `data` included, are dropped - also when it
        // looks idle: `irq_work_single()` may still be touching the item
        // after clearing `IRQ_WORK_BUSY`.
        #[cfg(CONFIG_KUNIT)]
        DROP_SYNCS.add(1, kernel::sync::atomic::Relaxed);
        self.sync();
    }
}

/// How many times an `IrqWork` drop called `irq_work_sync()`, for the tests.
#[cfg(CONFIG_KUNIT)]
static DROP_SYNCS: kernel::sync::atomic::Atomic<u64> = kernel::sync::atomic::Atomic::new(0);

/// A `struct irq_work` that C code owns and initialised, with its callback.
///
/// The borrowed form of an irq_work item: what [`IrqWork`] is for an item
/// whose callback is Rust, this is for one whose owner and callback are C
/// code's, such as a runqueue's `kick_cpus_irq_work`.
///
/// # Examples
///
/// An item owned and initialised as C code would (`IRQ_WORK_INIT_HARD()`),
/// with a C callback:
///
/// ```
/// use kernel::{bindings, sync::atomic::{Atomic, Relaxed}, types::Opaque};
/// use scx_rs::sync::irq_work::CIrqWork;
///
/// static RUNS: Atomic<u32> = Atomic::new(0);
///
/// /// # Safety
/// ///
/// /// Called by the irq_work core.
/// unsafe extern "C" fn callback(_work: *mut bindings::irq_work) {
///     RUNS.add(1, Relaxed);
/// }
///
/// let item = KBox::pin_init(
///     Opaque::ffi_init(|w: *mut bindings::irq_work| {
///         // SAFETY: `w` is valid for writes; all-zeroes with a hard flag and
///         // a `func` is `IRQ_WORK_INIT_HARD(func)`, an idle item.
///         unsafe {
///             w.write(core::mem::zeroed());
///             (*w).node.__bindgen_anon_1.u_flags = bindings::IRQ_WORK_HARD_IRQ;
///             (*w).func = Some(callback);
///         }
///     }),
///     GFP_KERNEL,
/// )?;
/// // SAFETY: the item is initialised, lives until after the `sync()` below,
/// // and its callback may run at any time.
/// let work = unsafe { CIrqWork::from_raw(item.get()) };
/// let before = RUNS.load(Relaxed);
/// assert!(work.queue());
/// work.sync();
/// assert_eq!(RUNS.load(Relaxed), before + 1);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `self` is an initialised `struct irq_work`, valid while it is borrowed;
/// its owner does not free or reinitialise it while it is busy (it syncs
/// it first), and its callback may be run at any time by queueing it.
#[repr(transparent)]
pub struct CIrqWork(Opaque<bindings::irq_work>);

// SAFETY: The irq_work core serialises queueing with atomic operations on
// the item's flags; `&CIrqWork` allows nothing else.
unsafe impl Sync for CIrqWork {}

impl CIrqWork {
    /// Borrows the `struct irq_work` at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to an initialised `struct irq_work` that stays valid for
    /// `'a` and that its owner does not free or reinitialise while it is
    /// busy; its callback must be fine to run whenever the item is queued
    /// through the returned reference.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::irq_work) -> &'a Self {
        // INVARIANT: by the safety requirements.
        // SAFETY: `CIrqWork` is a transparent wrapper of `struct irq_work`,
        // valid for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The `struct irq_work` pointer.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::irq_work {
        self.0.get()
    }

    /// Queues the item on the current CPU (`irq_work_queue()`).
    ///
    /// Returns `false` if it was already pending, in which case it runs
    /// once for both queueings. May be called from any context, with
    /// interrupts on or off.
    #[inline]
    pub fn queue(&self) -> bool {
        // SAFETY: By the type invariants the item is initialised, stays valid
        // until its callback has run, and may be queued at any time.
        unsafe { bindings::irq_work_queue(self.as_raw()) }
    }

    /// Queues the item on `cpu` (`irq_work_queue_on()`).
    ///
    /// Returns `false` if it was already pending (on any CPU). `cpu` should
    /// be online: as in C, queueing on an offline CPU warns, and the item
    /// then stays pending until that CPU comes back, so a drop or
    /// [`sync`](Self::sync) waits for that.
    #[inline]
    pub fn queue_on(&self, cpu: PossibleCpu) -> bool {
        // SAFETY: As in `queue`; `cpu` is possible, so its irq_work queue
        // exists.
        unsafe { bindings::irq_work_queue_on(self.as_raw(), cpu.as_u32() as i32) }
    }

    /// Waits until the item is neither pending nor running (`irq_work_sync()`).
    ///
    /// Must be called from a context that may sleep, with interrupts on, and
    /// never from the item's own callback.
    #[inline]
    pub fn sync(&self) {
        // SAFETY: The item is initialised; `irq_work_sync()` only waits on it.
        unsafe { bindings::irq_work_sync(self.as_raw()) }
    }

    /// Whether the item is queued and its callback has not started.
    #[inline]
    pub fn is_pending(&self) -> bool {
        self.flags() & bindings::IRQ_WORK_PENDING != 0
    }

    /// Whether the item is queued or its callback is running.
    #[inline]
    pub fn is_busy(&self) -> bool {
        self.flags() & bindings::IRQ_WORK_BUSY != 0
    }

    #[inline]
    fn flags(&self) -> u32 {
        // SAFETY: The item is initialised; `atomic_read()` of its flags is
        // how `irq_work_is_pending()`/`irq_work_is_busy()` read them, racing
        // with the irq_work core by design.
        unsafe { bindings::scx_rs_irq_work_flags(self.as_raw()) }
    }
}

/// A proof that the current task runs on the CPU that owns a per-CPU C
/// object `O` (a runqueue, say), and stays there while the proof is
/// borrowed.
///
/// # Safety
///
/// For as long as `&self` is borrowed, the current task runs on the CPU
/// that owns [`object`](Self::object)'s per-CPU irq_works and cannot
/// migrate; `object` returns the same object every time.
pub unsafe trait OnOwnCpu<O: CObject> {
    /// The object, whose CPU is the current one.
    fn object(&self) -> &O;
}

/// The protection of a `struct irq_work` field of a per-CPU C object whose
/// callback works on the data of the CPU it runs on, so that it may be
/// queued only on the object's own CPU (a [`Field`] of `irq_work`): the
/// item is initialised before the object can be borrowed and not freed or
/// reinitialised while it is, and its callback is fine to run whenever it is
/// queued there. [`Field::queue_local`] queues it, given an [`OnOwnCpu`]
/// proof; nothing hands out the item itself, which could be queued on
/// another CPU.
pub enum LocalIrqWork {}

impl<O: CObject> Field<O, bindings::irq_work, LocalIrqWork> {
    /// Queues the irq_work of `on`'s object on the current CPU, its own
    /// (`irq_work_queue()`); `false` if it was already pending.
    #[inline(always)]
    pub fn queue_local(self, on: &impl OnOwnCpu<O>) -> bool {
        // SAFETY: the field of the live object is an initialised irq_work,
        // not freed or reinitialised while the object is borrowed, whose
        // callback is fine to run when queued on the object's own CPU
        // (`LocalIrqWork`, type invariant of `Field`); `irq_work_queue()`
        // queues it on the current CPU, which is that CPU for as long as
        // `on` is borrowed (`OnOwnCpu`).
        unsafe { bindings::irq_work_queue(self.project(on.object())) }
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kunit_tests(scx_rs_irq_work)]
mod tests {
    use super::*;
    use crate::sync::{
        cpu_online, irqs_disabled,
        percpu::{possible_cpus, PreemptGuard},
        IrqsOff,
    };
    use kernel::sync::atomic::{Atomic, Relaxed};

    /// Records where and how often it ran, and in which context.
    struct Probe {
        runs: Atomic<u32>,
        ran_on: Atomic<i32>,
        irqs_off: Atomic<u32>,
        /// Busy-waits this many iterations before finishing.
        spin: u32,
        done: Atomic<u32>,
    }

    impl Probe {
        const fn new(spin: u32) -> Self {
            Self {
                runs: Atomic::new(0),
                ran_on: Atomic::new(-1),
                irqs_off: Atomic::new(0),
                spin,
                done: Atomic::new(0),
            }
        }
    }

    impl IrqWorkFn for Probe {
        fn run(work: Pin<&IrqWork<Self>>) {
            work.runs.add(1, Relaxed);
            let g = PreemptGuard::new();
            work.ran_on
                .store(PossibleCpu::current(&g).as_u32() as i32, Relaxed);
            work.irqs_off.store(u32::from(irqs_disabled()), Relaxed);
            for _ in 0..work.spin {
                core::hint::spin_loop();
            }
            work.done.add(1, Relaxed);
        }
    }

    fn probe(kind: IrqWorkKind, spin: u32) -> Result<Pin<KBox<IrqWork<Probe>>>> {
        KBox::pin_init(IrqWork::new(kind, Probe::new(spin)), GFP_KERNEL)
    }

    fn this_cpu() -> PossibleCpu {
        PossibleCpu::current(&PreemptGuard::new())
    }

    /// Some online CPU other than the current one, if there is one.
    fn other_online_cpu() -> Option<PossibleCpu> {
        let me = this_cpu();
        possible_cpus().find(|&c| c != me && cpu_online(c.id()))
    }

    #[test]
    fn runs_on_target_cpu_from_irqs_off() -> Result {
        for cpu in possible_cpus().filter(|&c| cpu_online(c.id())) {
            let w = probe(IrqWorkKind::Hard, 0)?;
            {
                let _irqs_off = IrqsOff::new().expect("not in NMI");
                assert!(w.as_ref().queue_on(cpu));
            }
            w.sync();
            assert_eq!(w.runs.load(Relaxed), 1);
            assert_eq!(w.ran_on.load(Relaxed), cpu.as_u32() as i32);
            // Hard items run in hard interrupt context.
            assert_eq!(w.irqs_off.load(Relaxed), 1);
        }
        Ok(())
    }

    #[test]
    fn not_queued_twice_while_pending() -> Result {
        let w = probe(IrqWorkKind::Normal, 0)?;
        {
            // With interrupts off the self-IPI cannot be taken: the item
            // stays pending on this CPU.
            let irqs_off = IrqsOff::new().expect("not in NMI");
            assert!(w.as_ref().queue());
            assert!(w.is_pending());
            assert!(w.is_busy());
            assert!(!w.as_ref().queue());
            assert!(!w.as_ref().queue_on(PossibleCpu::current(&irqs_off)));
        }
        w.sync();
        assert_eq!(w.runs.load(Relaxed), 1);
        assert!(!w.is_pending());
        assert!(!w.is_busy());
        // Idle again: it can be queued again.
        assert!(w.as_ref().queue());
        w.sync();
        assert_eq!(w.runs.load(Relaxed), 2);
        Ok(())
    }

    #[test]
    fn sync_waits_for_remote_callback() -> Result {
        let Some(cpu) = other_online_cpu() else {
            return Ok(());
        };
        let w = probe(IrqWorkKind::Hard, 2_000_000)?;
        assert!(w.as_ref().queue_on(cpu));
        w.sync();
        assert_eq!(w.done.load(Relaxed), 1);
        assert!(!w.is_busy());
        Ok(())
    }

    #[test]
    fn lazy_item_runs() -> Result {
        let w = probe(IrqWorkKind::Lazy, 0)?;
        assert!(w.as_ref().queue());
        w.sync();
        assert_eq!(w.runs.load(Relaxed), 1);
        Ok(())
    }

    static DROP_DONE: Atomic<u32> = Atomic::new(0);

    /// Sets `DROP_DONE` at the end of a slow callback.
    struct SlowDrop;

    impl IrqWorkFn for SlowDrop {
        fn run(_work: Pin<&IrqWork<Self>>) {
            for _ in 0..2_000_000 {
                core::hint::spin_loop();
            }
            DROP_DONE.add(1, Relaxed);
        }
    }

    #[test]
    fn drop_waits_for_pending_item() -> Result {
        let Some(cpu) = other_online_cpu() else {
            return Ok(());
        };
        let before = DROP_DONE.load(Relaxed);
        let w = KBox::pin_init(IrqWork::new(IrqWorkKind::Hard, SlowDrop), GFP_KERNEL)?;
        assert!(w.as_ref().queue_on(cpu));
        drop(w);
        assert_eq!(DROP_DONE.load(Relaxed), before + 1);
        Ok(())
    }

    /// An item that looks idle is synced on drop all the same: its callback
    /// has returned, but `irq_work_single()` may not be done with the item
    /// (on `PREEMPT_RT` it wakes `irqwait` after clearing the busy bit).
    #[test]
    fn drop_syncs_an_idle_looking_item() -> Result {
        for cpu in possible_cpus().filter(|&c| cpu_online(c.id())) {
            let w = probe(IrqWorkKind::Hard, 0)?;
            assert!(w.as_ref().queue_on(cpu));
            // Wait for the callback without syncing: the item then looks idle.
            while w.done.load(Relaxed) == 0 || w.is_busy() {
                core::hint::spin_loop();
            }
            let before = DROP_SYNCS.load(Relaxed);
            drop(w);
            assert_eq!(DROP_SYNCS.load(Relaxed), before + 1);
        }
        Ok(())
    }

    // SAFETY: The only test that queues it syncs it before returning, so it
    // is idle whenever the module can be unloaded.
    static STATIC_PROBE: IrqWork<Probe> =
        unsafe { IrqWork::new_static(IrqWorkKind::Hard, Probe::new(0)) };

    #[test]
    fn static_item() {
        let w = Pin::static_ref(&STATIC_PROBE);
        let before = w.runs.load(Relaxed);
        assert!(w.queue());
        w.sync();
        assert_eq!(w.runs.load(Relaxed), before + 1);
    }

    static C_RUNS: Atomic<u32> = Atomic::new(0);

    /// A callback of "C code", taking the `struct irq_work` only.
    ///
    /// # Safety
    ///
    /// Called by the irq_work core for the item it was initialised with.
    unsafe extern "C" fn c_callback(_work: *mut bindings::irq_work) {
        C_RUNS.add(1, Relaxed);
    }

    /// An irq_work that C code would own, used through `CIrqWork`.
    #[test]
    fn c_owned_item() -> Result {
        let item = KBox::pin_init(
            Opaque::ffi_init(|slot: *mut bindings::irq_work| {
                // SAFETY: `slot` is valid for writes of a `struct irq_work`;
                // all-zeroes with a `func` is `IRQ_WORK_INIT_HARD(func)`
                // without the flag, a valid idle item.
                unsafe {
                    slot.write(core::mem::zeroed());
                    (*slot).node.__bindgen_anon_1.u_flags = bindings::IRQ_WORK_HARD_IRQ;
                    (*slot).func = Some(c_callback);
                }
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `item` is initialised, outlives `w` and is synced below
        // before it is freed; `c_callback` may run at any time.
        let w = unsafe { CIrqWork::from_raw(item.get()) };
        let before = C_RUNS.load(Relaxed);
        for cpu in possible_cpus().filter(|&c| cpu_online(c.id())) {
            assert!(w.queue_on(cpu));
            w.sync();
            assert!(!w.is_busy());
        }
        {
            let _irqs_off = IrqsOff::new().expect("not in NMI");
            assert!(w.queue());
            assert!(w.is_pending());
            assert!(!w.queue());
        }
        w.sync();
        let online = possible_cpus().filter(|&c| cpu_online(c.id())).count() as u32;
        assert_eq!(C_RUNS.load(Relaxed), before + online + 1);
        Ok(())
    }
}
