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
    /// This is the cheap form of [`IrqsOff::new`] for a section that
    /// starts and ends in one function. It takes no count of the
    /// refcounted `local_interrupt_disable()` when none is held: the count
    /// is what makes a refcounted guard safe to drop in any order, and
    /// for modules each step of it is an out-of-line call. What it relies
    /// on instead:
    ///
    /// - With no count held when `f` starts, no guard of the refcounted
    ///   API exists outside `f` that `f` could drop and so enable
    ///   interrupts early: every guard made inside saves the state it finds
    ///   (off) and restores it. With a count held, `f` runs under a count
    ///   of its own ([`IrqsOff::new`]), as if that guard were nested.
    /// - `f` gets the token by reference, for its own duration only: the
    ///   restore cannot run while the token exists.
    /// - A guard made in `f` that outlives it (returned, or forgotten)
    ///   holds a count when `f` returns. Interrupts are then left off, the
    ///   state that guard restores when dropped, with a warning: what
    ///   forgetting a refcounted guard does anyway, and not unsound.
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
    /// The token cannot leave `f`:
    ///
    /// ```compile_fail,E0521
    /// use scx_rs::sync::IrqsOff;
    ///
    /// let mut leaked = None;
    /// IrqsOff::with(|irqs_off| leaked = Some(irqs_off));
    /// ```
    #[inline]
    pub fn with<R>(f: impl FnOnce(&IrqsOff) -> R) -> Option<R> {
        Self::run(Closure(f))
    }

    /// [`IrqsOff::with`] for an [`IrqsOffSection`]: the same, but the
    /// section's `run` can be `#[inline(always)]`, which a closure cannot
    /// be; LLVM does not always inline a closure with two callers (here,
    /// the two ways interrupts are disabled).
    #[inline]
    pub fn run<S: IrqsOffSection>(section: S) -> Option<S::Output> {
        if in_nmi() {
            return None;
        }
        if hardirq_disable_count() != 0 {
            // A refcounted count is held, by a guard `section` may own.
            return Some(Self::run_counted(section));
        }
        // SAFETY: `local_irq_save()` may be called in any context.
        let flags = unsafe { crate::bindings::local_irq_save() };
        // INVARIANT: interrupts are off now, and not in NMI (checked above).
        // They stay off until the restore below, which runs after the
        // section and the token are done: nothing the section can do
        // enables them, see [`IrqsOff::with`].
        let irqs_off = Self { _token: None };
        let r = section.run(&irqs_off);
        drop(irqs_off);
        if hardirq_disable_count() == 0 {
            // SAFETY: `flags` is what `local_irq_save()` returned above, on
            // this CPU (interrupts have stayed off since, so the task has
            // not moved), and no refcounted count is held that relies on
            // interrupts being off.
            unsafe { crate::bindings::local_irq_restore(flags) };
        } else {
            kernel::warn_on!(true);
        }
        Some(r)
    }

    /// [`IrqsOff::run`] under a refcounted count held already: the section
    /// runs under a count of its own, as if that guard were nested.
    #[cold]
    #[inline(never)]
    fn run_counted<S: IrqsOffSection>(section: S) -> S::Output {
        // INVARIANT: the caller checked that this is not NMI context;
        // interrupts are off until the token is dropped.
        let irqs_off = Self {
            _token: Some(kernel::interrupt::local_interrupt_disable()),
        };
        section.run(&irqs_off)
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
/// [`IrqsOff::with`], which is one).
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
/// `HARDIRQ_DISABLE` bits of the preempt count), shifted or not: only
/// whether it is zero is used.
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
