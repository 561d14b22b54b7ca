// SPDX-License-Identifier: GPL-2.0

//! Layer 1 of scx_rs: synchronisation and memory abstractions that the
//! kernel crate of 7.3 lacks, with no knowledge of sched_ext.
//!
//! - [`cpumask`]: C-owned CPU masks changed with atomic bit operations;
//! - [`field`]: fields of C-owned objects, each read as its protection
//!   (constant, marked, embedded, locked) allows, argued once per field;
//! - [`raw_spinlock`]: `raw_spinlock_t` as a lock backend, plain and
//!   irqsave, and locking of C-owned raw spinlocks;
//! - [`percpu`]: dynamic per-CPU data with pin-init of every slot;
//! - [`list`]: C-owned per-CPU intrusive lists, changed under a proof of
//!   their protection;
//! - [`irq_work`]: typed irq_work items;
//! - [`rcu`]: deferred freeing past a grace period and RCU-protected
//!   pointers.
//!
//! Each module states its safety argument in its documentation; see also
//! `Documentation/` in the repository.

pub mod cpumask;
pub mod field;
pub mod irq_work;
pub mod list;
pub mod percpu;
pub mod raw_spinlock;
pub mod rcu;

pub use raw_spinlock::{
    irqs_disabled, lockdep_is_held, new_raw_spinlock, new_raw_spinlock_irq, RawSpinLock,
    RawSpinLockBackend, RawSpinLockGuard, RawSpinLockIrq, RawSpinLockIrqBackend, RawSpinLockIrqExt,
    RawSpinLockIrqGuard,
};

/// Helpers for KUnit tests.
#[cfg(CONFIG_KUNIT)]
pub mod testing {
    use crate::bindings;

    /// Runs `f` with the `WARN()`s of the current KUnit test's task
    /// suppressed and counted; returns `f`'s result and how many there were.
    ///
    /// Suppressed warnings print nothing, so a test can check that a bug of
    /// its caller is reported without the report failing the run. `None`
    /// (and `f` is not run) outside a KUnit test or inside another such call.
    /// Starting to count allocates: call it where sleeping is allowed, and
    /// take locks inside `f`.
    pub fn count_warnings<R>(f: impl FnOnce() -> R) -> Option<(R, u32)> {
        // SAFETY: `kunit_start_suppress_warning()` may be called from any test
        // task; it returns NULL when it cannot start.
        let w = unsafe { bindings::scx_rs_kunit_suppress_warnings() };
        if w.is_null() {
            return None;
        }
        let r = f();
        // SAFETY: `w` was started above, by this task, and is ended once.
        let n = unsafe { bindings::scx_rs_kunit_end_suppress_warnings(w) };
        Some((r, n as u32))
    }
}

/// Interrupts disabled on this CPU, outside NMI context, until dropped.
///
/// The proof this crate's abstractions take where they rely on interrupts
/// being off: the current CPU's data that only that CPU changes with
/// interrupts off ([`list::CpuList::local`]), locks also taken from hard
/// interrupt context ([`RawSpinLockIrqExt::lock_with`]), the current CPU
/// ([`percpu::CpuPinned`]).
///
/// It wraps the kernel crate's [`LocalInterruptDisabled`] token of
/// `local_interrupt_disable()`, the refcounted interrupt disabling that
/// [`RawSpinLockIrq`] guards take part in too, but only [`IrqsOff::new`]
/// makes one: a `LocalInterruptDisabled` from `assume_disabled()` promises
/// interrupts off only on preemptible kernels, and interrupts off do not
/// exclude an NMI from the code it interrupted, so neither is enough for
/// data that only its CPU changes.
///
/// [`LocalInterruptDisabled`]: kernel::interrupt::LocalInterruptDisabled
///
/// # Examples
///
/// ```
/// use scx_rs::sync::{irqs_disabled, IrqsOff};
///
/// let irqs_off = IrqsOff::new().expect("not in NMI");
/// assert!(irqs_disabled());
/// drop(irqs_off);
/// assert!(!irqs_disabled());
/// ```
///
/// The kernel crate's token is not accepted in its place:
///
/// ```compile_fail,E0308
/// use kernel::interrupt::local_interrupt_disable;
/// use scx_rs::sync::{new_raw_spinlock_irq, RawSpinLockIrqExt};
///
/// let lock = KBox::pin_init(new_raw_spinlock_irq!(0u32), GFP_KERNEL)?;
/// let token = local_interrupt_disable();
/// let _guard = lock.lock_with(&token);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// Interrupts are disabled on the current CPU for as long as the value
/// exists - with one count of `local_interrupt_disable()` held by
/// `_token`, or, if `_token` is `None`, by the context the value lives in
/// ([`IrqsOff::assume_disabled`]) - and the current context is not an NMI.
/// The value is not `Send`.
pub struct IrqsOff {
    _token: Option<kernel::interrupt::LocalInterruptDisabled>,
}

impl IrqsOff {
    /// Disables interrupts (`local_interrupt_disable()`); [`Drop`] takes
    /// that count back. `None` in NMI context.
    #[inline]
    pub fn new() -> Option<Self> {
        if in_nmi() {
            return None;
        }
        // INVARIANT: not in NMI (checked), and interrupts are off until the
        // token is dropped.
        Some(Self {
            _token: Some(kernel::interrupt::local_interrupt_disable()),
        })
    }

    /// A token for a context that has interrupts disabled already, for as
    /// long as the value can live: the body of a hard-IRQ callback, say.
    /// It takes no count of `local_interrupt_disable()` (two out-of-line
    /// calls on the callback's path); nothing that safe code can do in such
    /// a context enables interrupts, as every guard of the refcounted API
    /// restores the state it found.
    ///
    /// # Safety
    ///
    /// Interrupts are disabled on the current CPU, the context is not an
    /// NMI, and both stay so until the value is dropped.
    ///
    /// Safe code cannot make one where interrupts may be on:
    ///
    /// ```compile_fail,E0133
    /// use scx_rs::sync::IrqsOff;
    ///
    /// let _irqs_off = IrqsOff::assume_disabled();
    /// ```
    #[inline]
    pub unsafe fn assume_disabled() -> Self {
        // INVARIANT: by the safety requirements.
        Self { _token: None }
    }

    /// Runs `f` with interrupts disabled (`local_irq_save()` and
    /// `local_irq_restore()` around it), as C code does for a short
    /// section; `None`, and `f` is not run, in NMI context.
    ///
    /// This is the cheap form of [`IrqsOff::new`] for a section inside one
    /// function: it takes no count of the refcounted
    /// `local_interrupt_disable()`, which makes a guard safe to drop in any
    /// order and for modules is two out-of-line calls. What makes a plain
    /// save and restore sound here is that `f`, and what it returns, are
    /// [`Send`], while every guard of the refcounted API (this crate's
    /// [`IrqsOff`], the kernel crate's `LocalInterruptDisabled` and
    /// interrupt-disabling lock guards) is not:
    ///
    /// - `f` can reach no guard made before it runs (it would have to own
    ///   it, or hold a `&mut` or a shared reference to a cell of it, which
    ///   would make `f` not `Send`), so it cannot drop one and enable
    ///   interrupts early. Every guard made inside saves the state it finds
    ///   (off) and restores it.
    /// - `f` gets the token by reference, for its own duration only.
    /// - No guard made inside can leave `f` in a usable form: not in its
    ///   result, not through what it captured. One that is forgotten
    ///   (`mem::forget`) leaves a count held when `f` returns; interrupts
    ///   are then left off, with a warning, rather than enabled under a
    ///   count that claims them off. Nothing can rely on that count any
    ///   more, so this is not unsound either way.
    ///
    /// The overflow of the 8-bit count (256 guards at once) does not matter
    /// to this argument: it does not look at the count to decide.
    ///
    /// # Examples
    ///
    /// ```
    /// use scx_rs::sync::{irqs_disabled, IrqsOff};
    ///
    /// let was = irqs_disabled();
    /// let r = IrqsOff::with(|irqs_off| {
    ///     assert!(irqs_disabled());
    ///     // A refcounted guard made and dropped inside leaves them off.
    ///     drop(IrqsOff::new().expect("not in NMI"));
    ///     assert!(irqs_disabled());
    ///     let _ = irqs_off.token();
    ///     7
    /// });
    /// assert_eq!(r, Some(7));
    /// assert_eq!(irqs_disabled(), was);
    /// ```
    ///
    /// The token cannot leave `f` (a reference to it is not `Send`, and
    /// it is lent for `f`'s duration only):
    ///
    /// ```compile_fail,E0277
    /// use scx_rs::sync::IrqsOff;
    ///
    /// let mut leaked = None;
    /// IrqsOff::with(|irqs_off| leaked = Some(irqs_off));
    /// ```
    ///
    /// Nor can `f` drop a guard made outside it, which would enable
    /// interrupts under its token:
    ///
    /// ```compile_fail,E0277
    /// use scx_rs::sync::IrqsOff;
    ///
    /// let outer = IrqsOff::new().expect("not in NMI");
    /// IrqsOff::with(move |_| drop(outer));
    /// ```
    ///
    /// Nor return one made inside, which the restore would outlive:
    ///
    /// ```compile_fail,E0277
    /// use scx_rs::sync::IrqsOff;
    ///
    /// let _guard = IrqsOff::with(|_| IrqsOff::new());
    /// ```
    #[inline]
    pub fn with<R: Send>(f: impl FnOnce(&IrqsOff) -> R + Send) -> Option<R> {
        Self::run(Closure(f))
    }

    /// [`IrqsOff::with`] for an [`IrqsOffSection`]: the same, but the
    /// section's `run` can be `#[inline(always)]`, which a closure cannot
    /// be (LLVM does not always inline a closure).
    #[inline]
    pub fn run<S: IrqsOffSection + Send>(section: S) -> Option<S::Output>
    where
        S::Output: Send,
    {
        if in_nmi() {
            return None;
        }
        // SAFETY: `local_irq_save()` may be called in any context.
        let flags = unsafe { crate::bindings::local_irq_save() };
        let count = hardirq_disable_count();
        // INVARIANT: interrupts are off now, and not in NMI (checked above).
        // They stay off until the restore below, which runs after the
        // section and the token are done: nothing the section can do
        // enables them, see [`IrqsOff::with`].
        let irqs_off = Self { _token: None };
        let r = section.run(&irqs_off);
        drop(irqs_off);
        if hardirq_disable_count() == count {
            // SAFETY: `flags` is what `local_irq_save()` returned above, on
            // this CPU (interrupts have stayed off since, so the task has
            // not moved).
            unsafe { crate::bindings::local_irq_restore(flags) };
        } else {
            // A guard made in the section was forgotten.
            kernel::warn_on!(true);
        }
        Some(r)
    }

    /// The kernel crate's token, for its APIs that take one.
    #[inline]
    pub fn token(&self) -> &kernel::interrupt::LocalInterruptDisabled {
        match &self._token {
            Some(token) => token,
            // SAFETY: interrupts are disabled for as long as `self` lives
            // (type invariant), which bounds the reference.
            None => unsafe { kernel::interrupt::LocalInterruptDisabled::assume_disabled() },
        }
    }
}

/// Whether `cpu` is online (`cpu_online()`).
pub fn cpu_online(cpu: kernel::cpu::CpuId) -> bool {
    // SAFETY: `cpu_online()` only reads `cpu_online_mask`; `cpu` is below
    // `nr_cpu_ids`.
    unsafe { crate::bindings::cpu_online(cpu.as_u32()) }
}

/// Code to run with interrupts disabled, by [`IrqsOff::run`].
///
/// The token is lent for the call only: `Output` names no lifetime of it,
/// so it cannot borrow from it (see the `compile_fail` example of
/// [`IrqsOff::with`], which is one). [`IrqsOff::run`] requires the section
/// and its output to be [`Send`], for the reason [`IrqsOff::with`] gives.
pub trait IrqsOffSection {
    /// What the section returns.
    type Output;

    /// Runs the section; interrupts are off for as long as `irqs_off` is
    /// borrowed.
    fn run(self, irqs_off: &IrqsOff) -> Self::Output;
}

/// A closure as an [`IrqsOffSection`] ([`IrqsOff::with`]).
struct Closure<F>(F);

impl<R, F: FnOnce(&IrqsOff) -> R> IrqsOffSection for Closure<F> {
    type Output = R;

    #[inline]
    fn run(self, irqs_off: &IrqsOff) -> R {
        (self.0)(irqs_off)
    }
}

/// `HARDIRQ_DISABLE_MASK` of `<linux/preempt.h>` (checked by layout.c).
const HARDIRQ_DISABLE_MASK: u32 = 0x00ff_0000;

/// The count of `local_interrupt_disable()` held on this CPU (the
/// `HARDIRQ_DISABLE` bits of the preempt count), not shifted: only
/// compared with itself.
#[inline]
fn hardirq_disable_count() -> u32 {
    // SAFETY: `preempt_count()` reads this CPU's preempt count, which any
    // context may read; interrupts restore the count they change.
    (unsafe { crate::bindings::preempt_count() } as u32) & HARDIRQ_DISABLE_MASK
}

/// Whether the current context is an NMI (`in_nmi()`).
pub fn in_nmi() -> bool {
    // SAFETY: `in_nmi()` reads this CPU's preempt count, which any context
    // may read.
    unsafe { crate::bindings::in_nmi() }
}

/// An initialiser that moves `v` into place, with any error type.
///
/// A `T` is already an infallible initialiser of itself; this one fits
/// where an initialiser with some other error type is expected.
pub fn init_value<T, E>(v: T) -> impl kernel::prelude::PinInit<T, E> {
    // SAFETY: `pin_init_from_closure` requires a closure that returns `Ok`
    // only with `slot` fully initialised: it writes a whole `T` and never
    // fails. Its caller guarantees `slot` is valid for writes, as `write` needs.
    unsafe {
        pin_init::pin_init_from_closure(move |slot: *mut T| {
            slot.write(v);
            Ok(())
        })
    }
}
