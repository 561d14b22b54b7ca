// SPDX-License-Identifier: GPL-2.0

//! Raw spinlocks.
//!
//! This module exposes the kernel's `raw_spinlock_t` as a [`Backend`] for
//! [`kernel::sync::lock::Lock`], in two flavours:
//!
//! - [`RawSpinLock`] takes the lock with `raw_spin_lock()`; the caller is
//!   responsible for the interrupt state, as in C.
//! - [`RawSpinLockIrq`] takes it with `raw_spin_lock_irq_disable()` and
//!   releases it with `raw_spin_unlock_irq_enable()`: interrupts are
//!   disabled through the refcounted `local_interrupt_disable()`, the same
//!   count that the kernel crate's
//!   [`LocalInterruptDisabled`](kernel::interrupt::LocalInterruptDisabled)
//!   tokens and `SpinLockIrq` guards take part in. It may be taken from any
//!   context, with interrupts on or off, and guards and tokens may be
//!   dropped in any order: interrupts come back on only when the last of
//!   them is gone. (`raw_spin_lock_irqsave()` would restore the state it
//!   saved at its own unlock, whatever is still held.)
//!
//! A raw spinlock never sleeps, not even on `PREEMPT_RT`: it is the lock of
//! the scheduler's own data (the runqueue lock is one). Critical sections
//! must be short and must not call anything that may sleep.
//!
//! Both flavours can also lock a `raw_spinlock_t` that C owns and
//! initialised, without taking ownership of it, through
//! [`Lock::from_raw`](kernel::sync::lock::Lock::from_raw).
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)
//!
//! # Examples
//!
//! ```
//! use scx_rs::sync::{new_raw_spinlock_irq, RawSpinLockIrq};
//!
//! #[pin_data]
//! struct Counter {
//!     #[pin]
//!     hits: RawSpinLockIrq<u64>,
//! }
//!
//! let c = KBox::pin_init(pin_init!(Counter { hits <- new_raw_spinlock_irq!(0) }), GFP_KERNEL)?;
//! *c.hits.lock() += 1;
//! assert_eq!(*c.hits.lock(), 1);
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    sync::{
        field::{CObject, Field},
        IrqsOff,
    },
};
use kernel::sync::lock::{Backend, Guard, Lock};

/// Creates a [`RawSpinLock`] initialiser with the given name and a new lock class.
///
/// It uses the name if one is given, otherwise it generates one based on the
/// file name and line number. Every expansion site is its own lockdep class,
/// as with `raw_spin_lock_init()` in C.
#[macro_export]
macro_rules! new_raw_spinlock {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::RawSpinLock::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub use new_raw_spinlock;

/// Creates a [`RawSpinLockIrq`] initialiser with the given name and a new lock class.
///
/// See [`new_raw_spinlock!`] for the naming and lock class rules.
#[macro_export]
macro_rules! new_raw_spinlock_irq {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::RawSpinLockIrq::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub use new_raw_spinlock_irq;

/// A raw spinlock, taken with `raw_spin_lock()`.
///
/// Locking does not touch the interrupt state. If the lock is ever taken
/// from hard interrupt context (an irq_work callback, say), every other
/// acquisition must happen with interrupts disabled: use [`RawSpinLockIrq`]
/// then, or lock it through [`RawSpinLockIrqExt::lock_with`].
///
/// Instances need a lock class and must be pinned: create them with
/// [`new_raw_spinlock!`] inside a `pin_init!`.
pub type RawSpinLock<T> = Lock<T, RawSpinLockBackend>;

/// A [`Guard`] of a [`RawSpinLock`]; unlocks on drop.
pub type RawSpinLockGuard<'a, T> = Guard<'a, T, RawSpinLockBackend>;

/// A raw spinlock, taken with interrupts disabled (`raw_spin_lock_irq_disable()`).
///
/// Locking increments the local interrupt-disable count (disabling
/// interrupts if it was zero), unlocking decrements it (enabling them again
/// if it drops to zero), so a guard nests with other guards and
/// [`IrqsOff`] tokens in any order.
///
/// # Examples
///
/// ```
/// use scx_rs::sync::{irqs_disabled, new_raw_spinlock_irq, IrqsOff, RawSpinLockIrq};
///
/// let lock = KBox::pin_init(new_raw_spinlock_irq!(0u32), GFP_KERNEL)?;
/// let guard = lock.lock();
/// let irqs_off = IrqsOff::new().expect("not in NMI");
/// // The guard goes first; the token still holds interrupts off.
/// drop(guard);
/// assert!(irqs_disabled());
/// drop(irqs_off);
/// assert!(!irqs_disabled());
/// # Ok::<(), Error>(())
/// ```
pub type RawSpinLockIrq<T> = Lock<T, RawSpinLockIrqBackend>;

/// A [`Guard`] of a [`RawSpinLockIrq`]; unlocks and drops its interrupt-disable count on drop.
pub type RawSpinLockIrqGuard<'a, T> = Guard<'a, T, RawSpinLockIrqBackend>;

/// The [`Backend`] of [`RawSpinLock`].
pub struct RawSpinLockBackend;

/// The [`Backend`] of [`RawSpinLockIrq`].
pub struct RawSpinLockIrqBackend;

/// `lockdep_assert_held()`, as both backends do: nothing without lockdep,
/// as in C, so that no call is left behind where C has none.
///
/// # Safety
///
/// `ptr` must point to an initialised `raw_spinlock_t`.
#[inline]
unsafe fn raw_spin_assert_held(ptr: *mut bindings::raw_spinlock_t) {
    #[cfg(CONFIG_LOCKDEP)]
    // SAFETY: By the function's contract `ptr` points to an initialised
    // lock; `lockdep_assert_held()` only reads it.
    unsafe {
        bindings::scx_rs_raw_spin_assert_held(ptr)
    };
    #[cfg(not(CONFIG_LOCKDEP))]
    let _ = ptr;
}

/// Initialises a `raw_spinlock_t` with the lockdep class `key`, as both backends do.
///
/// # Safety
///
/// `ptr` must be valid for writes for the duration of the call; `name` and
/// `key` must be valid for reads indefinitely.
unsafe fn raw_spin_lock_init(
    ptr: *mut bindings::raw_spinlock_t,
    name: *const kernel::ffi::c_char,
    key: *mut bindings::lock_class_key,
) {
    // SAFETY: The caller guarantees the validity of `ptr`, `name` and `key`
    // as `raw_spin_lock_init()` requires them.
    unsafe { bindings::scx_rs_raw_spin_lock_init(ptr, name, key) }
}

// SAFETY: `raw_spinlock_t` provides mutual exclusion between `lock` and
// `unlock`. `relock` uses the default implementation, which calls `lock`,
// the only locking method of this backend.
unsafe impl Backend for RawSpinLockBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = ();

    #[inline]
    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: `Backend::init` has the same requirements as `raw_spin_lock_init`.
        unsafe { raw_spin_lock_init(ptr, name, key) }
    }

    #[inline]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees that `ptr` was initialised by `init`
        // (or by C, for a lock obtained through `Lock::from_raw`).
        unsafe { bindings::raw_spin_lock(ptr) }
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: As in `lock`, `ptr` points to an initialised lock.
        (unsafe { bindings::raw_spin_trylock(ptr) } != 0).then_some(())
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, which was taken with `raw_spin_lock()`.
        unsafe { bindings::raw_spin_unlock(ptr) }
    }

    #[inline]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: `ptr` points to an initialised lock.
        unsafe { raw_spin_assert_held(ptr) }
    }
}

// SAFETY: `raw_spinlock_t` provides mutual exclusion between `lock` and
// `unlock`. `relock` uses the default implementation, which calls `lock`,
// the only locking method of this backend: one more interrupt-disable
// count, as `unlock` dropped one.
unsafe impl Backend for RawSpinLockIrqBackend {
    type State = bindings::raw_spinlock_t;
    type GuardState = ();

    #[inline]
    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: `Backend::init` has the same requirements as `raw_spin_lock_init`.
        unsafe { raw_spin_lock_init(ptr, name, key) }
    }

    #[inline]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees that `ptr` points to an initialised lock.
        unsafe { bindings::raw_spin_lock_irq_disable(ptr) }
    }

    #[inline]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: `ptr` points to an initialised lock. On failure the
        // interrupt-disable count is back where it was.
        let locked = unsafe { bindings::raw_spin_trylock_irq_disable(ptr) };
        (locked != 0).then_some(())
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, which was taken with
        // `raw_spin_lock_irq_disable()` (or the trylock), so it holds one
        // interrupt-disable count to drop.
        unsafe { bindings::raw_spin_unlock_irq_enable(ptr) }
    }

    #[inline]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: `ptr` points to an initialised lock.
        unsafe { raw_spin_assert_held(ptr) }
    }
}

/// Locking a [`RawSpinLockIrq`] where interrupts are known to be off.
///
/// This is `raw_spin_lock()` on a lock whose other users take it with
/// interrupts disabled: the common pattern for a lock taken in an irq_work
/// callback or under another irq-disabling lock. The token proves that
/// interrupts stay off for as long as the guard lives.
pub trait RawSpinLockIrqExt<T: ?Sized> {
    /// Acquires the lock without saving or changing the interrupt state.
    fn lock_with<'a>(&'a self, irqs_off: &'a IrqsOff) -> RawSpinLockGuard<'a, T>;

    /// Tries to acquire the lock without saving or changing the interrupt state.
    fn try_lock_with<'a>(&'a self, irqs_off: &'a IrqsOff) -> Option<RawSpinLockGuard<'a, T>>;
}

impl<T: ?Sized> RawSpinLockIrqExt<T> for RawSpinLockIrq<T> {
    #[inline]
    fn lock_with<'a>(&'a self, irqs_off: &'a IrqsOff) -> RawSpinLockGuard<'a, T> {
        as_plain(self, irqs_off).lock()
    }

    #[inline]
    fn try_lock_with<'a>(&'a self, irqs_off: &'a IrqsOff) -> Option<RawSpinLockGuard<'a, T>> {
        as_plain(self, irqs_off).try_lock()
    }
}

/// Views a [`RawSpinLockIrq`] as a [`RawSpinLock`] while interrupts are off.
///
/// `Lock<T, B>` is `#[repr(C)]` and its layout depends on `B` only through
/// `B::State`, which is `raw_spinlock_t` for both backends; the backends
/// differ only in the interrupt state they save.
#[inline]
fn as_plain<'a, T: ?Sized>(
    lock: &'a RawSpinLockIrq<T>,
    _irqs_off: &'a IrqsOff,
) -> &'a RawSpinLock<T> {
    // SAFETY: The two `Lock` types have the same layout (see above), and with
    // interrupts off for all of `'a` (`_irqs_off`), `raw_spin_lock()` is a valid
    // way to take a lock that others take with interrupts disabled.
    unsafe { &*(core::ptr::from_ref(lock) as *const RawSpinLock<T>) }
}

/// Whether the current context holds `lock`, as lockdep sees it.
///
/// Returns `None` when the kernel is built without lockdep and so cannot
/// tell. Meant for assertions and tests, like `lockdep_is_held()`.
pub fn lockdep_is_held<T: ?Sized, B>(lock: &Lock<T, B>) -> Option<bool>
where
    B: Backend<State = bindings::raw_spinlock_t>,
{
    let ptr = core::ptr::from_ref(lock)
        .cast::<bindings::raw_spinlock_t>()
        .cast_mut();
    // SAFETY: `Lock` is `#[repr(C)]` with the lock state as its first field,
    // so `ptr` points to the initialised `raw_spinlock_t` of `lock`, which is
    // borrowed for the call; `lockdep_is_held()` only reads it.
    match unsafe { bindings::scx_rs_raw_spin_is_held(ptr) } {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Whether interrupts are disabled on the current CPU (`irqs_disabled()`).
#[inline]
pub fn irqs_disabled() -> bool {
    // SAFETY: `irqs_disabled()` only reads the current CPU's flags.
    unsafe { bindings::irqs_disabled() }
}

/// The protection of a `raw_spinlock_t` field (a
/// [`Field`](super::field::Field) of one) that C initialised before the
/// object could be borrowed and does not free or reinitialise while it is:
/// [`Field::raw_spinlock_irq`] borrows it as a lock of `()` that only
/// guards (the data it protects stays C's, reached under its guard).
///
/// [`Field::raw_spinlock_irq`]: super::field::Field::raw_spinlock_irq
pub enum CRawSpinLock {}

impl<O: CObject> Field<O, bindings::raw_spinlock_t, CRawSpinLock> {
    /// The lock, borrowed with `obj`, for locking with interrupts disabled.
    #[inline(always)]
    pub fn raw_spinlock_irq(self, obj: &O) -> &RawSpinLockIrq<()> {
        // SAFETY: the field of the live object is an initialised
        // `raw_spinlock_t`, valid while `obj` is borrowed, which bounds the
        // reference (`CRawSpinLock`, type invariant of `Field`), as
        // `Lock::from_raw` requires.
        unsafe { RawSpinLockIrq::from_raw(self.project(obj)) }
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kernel::prelude::kunit_tests(scx_rs_raw_spinlock)]
mod tests {
    use super::*;
    use kernel::{prelude::*, types::Opaque};

    #[pin_data]
    struct Two {
        #[pin]
        a: RawSpinLock<u32>,
        #[pin]
        b: RawSpinLockIrq<u32>,
    }

    fn two() -> Result<Pin<KBox<Two>>> {
        KBox::pin_init(
            pin_init!(Two {
                a <- new_raw_spinlock!(1, "scx_rs_test_a"),
                b <- new_raw_spinlock_irq!(2, "scx_rs_test_b"),
            }),
            GFP_KERNEL,
        )
    }

    #[test]
    fn assumed_irqs_off_survives_nested_guards() {
        let outer = crate::sync::IrqsOff::new().expect("not in NMI");
        // SAFETY: `outer` keeps interrupts off, not in NMI, until after
        // `assumed` is dropped.
        let assumed = unsafe { crate::sync::IrqsOff::assume_disabled() };
        // A refcounted guard made and dropped meanwhile restores what it
        // found: interrupts stay off under `assumed`.
        drop(crate::sync::IrqsOff::new().expect("not in NMI"));
        assert!(irqs_disabled());
        drop(assumed);
        assert!(irqs_disabled());
        drop(outer);
        assert!(!irqs_disabled());
    }

    #[test]
    fn scoped_irqs_off_restores() {
        assert!(!irqs_disabled());
        let r = crate::sync::IrqsOff::with(|_| {
            assert!(irqs_disabled());
            // A refcounted guard inside finds no count and restores "off".
            drop(crate::sync::IrqsOff::new().expect("not in NMI"));
            assert!(irqs_disabled());
            // And so does a nested scope.
            crate::sync::IrqsOff::with(|_| assert!(irqs_disabled()));
            assert!(irqs_disabled());
            3
        });
        assert_eq!(r, Some(3));
        assert!(!irqs_disabled());
    }

    #[test]
    fn scoped_irqs_off_under_a_count_leaves_them_off() {
        let outer = crate::sync::IrqsOff::new().expect("not in NMI");
        // Entered and left with interrupts off (a count held): they stay
        // off until the guard goes.
        crate::sync::IrqsOff::with(|_| assert!(irqs_disabled()));
        assert!(irqs_disabled());
        drop(outer);
        assert!(!irqs_disabled());
    }

    #[test]
    fn lock_guards_data() -> Result {
        let t = two()?;
        {
            let mut a = t.a.lock();
            *a += 41;
            let mut b = t.b.lock();
            *b *= 21;
        }
        assert_eq!(*t.a.lock(), 42);
        assert_eq!(*t.b.lock(), 42);
        Ok(())
    }

    #[test]
    fn try_lock_fails_while_held() -> Result {
        let t = two()?;
        let held = t.a.lock();
        assert!(t.a.try_lock().is_none());
        drop(held);
        assert!(t.a.try_lock().is_some());

        let held = t.b.lock();
        assert!(t.b.try_lock().is_none());
        drop(held);
        let g = t.b.try_lock();
        assert!(g.is_some());
        // The successful try_lock disabled interrupts, as lock() does.
        assert!(irqs_disabled());
        drop(g);
        assert!(!irqs_disabled());
        Ok(())
    }

    /// Guards and tokens dropped in any order: interrupts stay off while any
    /// of them exists, and are on again once all are gone.
    #[test]
    fn irq_guards_and_tokens_nest_in_any_order() -> Result {
        let t = two()?;
        assert!(!irqs_disabled());

        // Guard first, token second, guard dropped first.
        let g = t.b.lock();
        let irqs_off = IrqsOff::new().expect("not in NMI");
        drop(g);
        // With `raw_spin_lock_irqsave()` the guard restored "enabled" here.
        assert!(irqs_disabled());
        drop(irqs_off);
        // ... and the token then restored "disabled".
        assert!(!irqs_disabled());

        // Token first, guard second, token dropped first.
        let irqs_off = IrqsOff::new().expect("not in NMI");
        let g = t.b.lock();
        drop(irqs_off);
        assert!(irqs_disabled());
        drop(g);
        assert!(!irqs_disabled());

        // A successful try_lock takes a count too.
        let g = t.b.try_lock();
        assert!(g.is_some());
        let irqs_off = IrqsOff::new().expect("not in NMI");
        drop(g);
        assert!(irqs_disabled());
        drop(irqs_off);
        assert!(!irqs_disabled());
        Ok(())
    }

    #[test]
    fn irq_lock_keeps_interrupt_state() -> Result {
        let t = two()?;
        assert!(!irqs_disabled());
        {
            let _g = t.b.lock();
            assert!(irqs_disabled());
        }
        assert!(!irqs_disabled());

        // Taken with interrupts already off, the lock leaves them off.
        let irqs_off = IrqsOff::new().expect("not in NMI");
        {
            let _g = t.b.lock();
            assert!(irqs_disabled());
        }
        assert!(irqs_disabled());
        {
            let _g = t.b.lock_with(&irqs_off);
            assert!(irqs_disabled());
        }
        assert!(irqs_disabled());
        drop(irqs_off);
        assert!(!irqs_disabled());
        Ok(())
    }

    #[test]
    fn lockdep_tracks_holder() -> Result {
        let t = two()?;
        let Some(before) = lockdep_is_held(&t.a) else {
            // Built without lockdep: nothing to check.
            return Ok(());
        };
        assert!(!before);
        let g = t.a.lock();
        assert_eq!(lockdep_is_held(&t.a), Some(true));
        assert_eq!(lockdep_is_held(&t.b), Some(false));
        drop(g);
        assert_eq!(lockdep_is_held(&t.a), Some(false));
        Ok(())
    }

    #[test]
    fn lock_c_owned_lock() -> Result {
        // A `raw_spinlock_t` initialised outside the `Lock` type, as C code
        // owns the runqueue lock.
        let key = kernel::static_lock_class!();
        let raw = KBox::pin_init(
            Opaque::ffi_init(|slot: *mut bindings::raw_spinlock_t| {
                // SAFETY: `slot` is valid for writes during the call, and the
                // name and the class key are statics.
                unsafe { raw_spin_lock_init(slot, c"scx_rs_test_c".as_char_ptr(), key.as_ptr()) }
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: `raw` is initialised and outlives `lock`, which is only
        // used within this function.
        let lock = unsafe { RawSpinLockIrq::from_raw(raw.get()) };
        let g = lock.lock();
        assert!(irqs_disabled());
        assert!(lock.try_lock().is_none());
        drop(g);
        assert!(!irqs_disabled());
        assert!(lock.try_lock().is_some());
        // A deliberate failure, for `make selftest-rig` only.
        #[cfg(scx_rs_rig_fail_kunit)]
        assert_eq!(lock.try_lock().is_some(), false);
        Ok(())
    }
}
