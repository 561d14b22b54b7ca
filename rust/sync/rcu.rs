// SPDX-License-Identifier: GPL-2.0

//! RCU: deferred freeing and RCU-protected pointers.
//!
//! Builds on the read-side [`Guard`] of `kernel::sync::rcu`:
//!
//! - [`RcuBox<T>`] is an owned heap object whose drop is deferred past an
//!   RCU grace period with `call_rcu()`: readers that found it under a
//!   [`Guard`] may keep using it until they drop the guard;
//! - [`RcuKBox<T>`] is the same for a `T` that embeds its own
//!   `struct rcu_head` ([`HasRcuHead`]), as C objects freed with
//!   `call_rcu()` do: it is how Rust frees, after a grace period, a
//!   `kmalloc()`ed C object whose ownership C code hands over;
//! - [`RcuPtr<T>`] is an RCU-protected pointer to an [`RcuBox<T>`]: it can
//!   only be dereferenced with a [`Guard`], which bounds the reference, and
//!   replacing it hands back the old box, whose drop is deferred;
//! - [`RcuDropQueue`], in an [`IrqWork`], moves the `call_rcu()` of boxes
//!   dropped in a locked context (under a runqueue lock, say) to an
//!   irq_work, where it cannot deadlock against RCU's own wakeups;
//! - [`synchronize_rcu`] and [`rcu_barrier`] are re-exported.
//!
//! A module that drops [`RcuBox`]es or [`RcuKBox`]es must call
//! [`rcu_barrier`] in its exit path: the RCU callback that frees a box is
//! code of the module.
//!
//! The value in an [`RcuBox`] is never moved or handed out mutably (there
//! is no `DerefMut` and no `into_inner`), because readers may hold shared
//! references to it until a grace period has passed. Mutate it through
//! interior mutability, or publish a new box.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)
//!
//! # Examples
//!
//! ```
//! use scx_rs::sync::rcu::{self, RcuBox, RcuPtr};
//!
//! struct Config {
//!     slice_ns: u64,
//! }
//!
//! let cfg = RcuPtr::new(Some(RcuBox::new(Config { slice_ns: 20_000_000 }, GFP_KERNEL)?));
//! {
//!     let guard = rcu::read_lock();
//!     assert_eq!(cfg.dereference(&guard).map(|c| c.slice_ns), Some(20_000_000));
//! }
//! // The old configuration is freed after a grace period.
//! let old = cfg.replace(Some(RcuBox::new(Config { slice_ns: 5_000_000 }, GFP_KERNEL)?));
//! drop(old);
//! rcu::rcu_barrier();
//! # Ok::<(), Error>(())
//! ```

use super::irq_work::{IrqWork, IrqWorkFn};
use crate::bindings;
use core::{marker::PhantomData, pin::Pin, ptr::NonNull};
use kernel::{
    alloc::{AllocError, Flags},
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
    types::Opaque,
};

pub use kernel::sync::rcu::{rcu_barrier, read_lock, synchronize_rcu, Guard};

/// A `struct rcu_head` (`struct callback_head`) embedded in a value that an
/// [`RcuKBox`] frees, and used by nothing else.
///
/// It is `Send` and `Sync`, unlike the raw C structure, so that it does not
/// keep the value that embeds it from being sent to the CPU where the RCU
/// callback drops it: no reference to it is ever used but by `call_rcu()`,
/// when the value is given up.
#[repr(transparent)]
pub struct RcuHead(Opaque<bindings::callback_head>);

// SAFETY: the head is only written by `RcuKBox` when it gives up the value,
// through a raw pointer, and then by RCU; shared references never reach it.
unsafe impl Send for RcuHead {}
// SAFETY: as above.
unsafe impl Sync for RcuHead {}

impl RcuHead {
    /// An unused head.
    pub const fn new() -> Self {
        Self(Opaque::uninit())
    }
}

impl Default for RcuHead {
    fn default() -> Self {
        Self::new()
    }
}

/// A type whose values carry the `struct rcu_head` that frees them.
///
/// C objects freed after a grace period embed a `struct rcu_head` for
/// `call_rcu()`; [`RcuKBox`] uses it to free a boxed value the same way,
/// without a separate allocation.
///
/// # Safety
///
/// Every `Self` has a `struct callback_head` at byte offset `RCU_HEAD`, in
/// an `UnsafeCell` (an [`Opaque`], or C data wrapped in one), that nothing
/// uses but the `call_rcu()` of an [`RcuKBox`] dropping the value.
pub unsafe trait HasRcuHead {
    /// The byte offset of the `struct rcu_head` in `Self`.
    const RCU_HEAD: usize;
}

/// An owned, boxed `T` whose drop is deferred past an RCU grace period,
/// through the `struct rcu_head` inside the `T`.
///
/// Dropping an `RcuKBox` calls `call_rcu()`; after a grace period the RCU
/// callback drops the `T` and frees the memory (`kfree()`). `call_rcu()`
/// may be called from any context, but not while holding locks that RCU's
/// wakeups take (the runqueue lock): use [`RcuKBox::drop_deferred`] there.
/// The `T` is dropped in softirq context (or in an rcuo kthread), possibly
/// on another CPU, hence `T: Send + 'static`; its drop must not sleep.
///
/// The value is never moved or handed out mutably, as readers may hold
/// shared references to it until a grace period has passed.
///
/// # Examples
///
/// ```
/// use core::mem::offset_of;
/// use scx_rs::sync::rcu::{self, HasRcuHead, RcuHead, RcuKBox};
///
/// #[repr(C)]
/// #[pin_data]
/// struct Node {
///     key: u64,
///     rcu: RcuHead,
/// }
///
/// // SAFETY: `rcu` is an `RcuHead`, which nothing but `RcuKBox` uses.
/// unsafe impl HasRcuHead for Node {
///     const RCU_HEAD: usize = offset_of!(Node, rcu);
/// }
///
/// let node = KBox::pin_init(pin_init!(Node { key: 7, rcu: RcuHead::new() }), GFP_KERNEL)?;
/// let node = RcuKBox::new(node);
/// assert_eq!(node.key, 7);
/// drop(node); // freed after a grace period
/// rcu::rcu_barrier();
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `ptr` points to an initialised, pinned `T` in memory allocated with
/// [`KBox`] (`kmalloc()`), owned by this value.
pub struct RcuKBox<T: HasRcuHead + Send + 'static> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: The box owns its `T`; sending the box sends the `T`.
unsafe impl<T: HasRcuHead + Send + 'static> Send for RcuKBox<T> {}

// SAFETY: `&RcuKBox<T>` gives out only `&T`.
unsafe impl<T: HasRcuHead + Send + Sync + 'static> Sync for RcuKBox<T> {}

impl<T: HasRcuHead + Send + 'static> RcuKBox<T> {
    /// Takes over a pinned box.
    pub fn new(boxed: Pin<KBox<T>>) -> Self {
        // SAFETY: The allocation is only ever freed through `free_rcu`,
        // which drops it in place as the `KBox` it is: it is not moved.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // INVARIANT: `raw` is an initialised, pinned `T` from `KBox`.
        Self {
            // SAFETY: `KBox::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(raw) },
            _owns: PhantomData,
        }
    }

    /// Takes over the `T` at `ptr`, which C code allocated and gives up.
    ///
    /// # Safety
    ///
    /// `ptr` points to an initialised `T` in memory allocated with
    /// `kmalloc()` (or [`KBox`]) for at least the size and alignment of `T`;
    /// its ownership passes to the returned box, and from now on nothing
    /// uses it except readers that found it before (under RCU, which the
    /// deferred drop waits for) and the returned box.
    pub unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            _owns: PhantomData,
        }
    }

    /// The value, pinned.
    #[inline]
    pub fn as_pin(&self) -> Pin<&T> {
        // SAFETY: By the type invariants the value is pinned.
        unsafe { Pin::new_unchecked(&**self) }
    }

    /// Drops the box through `queue`: its `call_rcu()` happens in the
    /// queue's irq_work callback instead of here.
    ///
    /// For contexts that hold locks RCU's wakeups may need, such as the
    /// runqueue lock. May be called with interrupts off.
    pub fn drop_deferred(self, queue: Pin<&IrqWork<RcuDropQueue>>) {
        let head = self.into_head();
        if queue.data().push(head) {
            queue.queue();
        }
    }

    /// Gives up ownership of the allocation as its callback head, with
    /// `func` set to the callback that frees it.
    fn into_head(self) -> NonNull<bindings::callback_head> {
        let ptr = self.ptr;
        core::mem::forget(self);
        Self::head_of(ptr)
    }

    /// The callback head of `ptr`, with `func` set to [`Self::free_rcu`].
    fn head_of(ptr: NonNull<T>) -> NonNull<bindings::callback_head> {
        // SAFETY: `T::RCU_HEAD` is the offset of the callback head inside
        // the `T` (`HasRcuHead`); only an address is computed.
        let head = unsafe { ptr.byte_add(T::RCU_HEAD) }.cast::<bindings::callback_head>();
        // SAFETY: `head` is valid for writes: the allocation is alive, the
        // head is in an `UnsafeCell` and used by nothing else (`HasRcuHead`),
        // and its owner is giving it up. `func` is read back by
        // `RcuDropQueue::flush` or passed to `call_rcu()`.
        unsafe { (*head.as_ptr()).func = Some(Self::free_rcu) };
        head
    }

    /// The RCU callback that drops and frees a `T`.
    ///
    /// # Safety
    ///
    /// `head` must be the callback head of a `T` given up by
    /// [`RcuKBox::into_head`], after a grace period; it is freed here.
    unsafe extern "C" fn free_rcu(head: *mut bindings::callback_head) {
        // SAFETY: Per the requirements, `head` is at `T::RCU_HEAD` in a
        // given-up `KBox<T>` allocation, and a grace period has passed since
        // it was unpublished, so no reader can still reference it.
        drop(unsafe { KBox::from_raw(head.byte_sub(T::RCU_HEAD).cast::<T>()) });
    }
}

impl<T: HasRcuHead + Send + 'static> core::ops::Deref for RcuKBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: By the type invariants `ptr` is valid while `self` is.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: HasRcuHead + Send + 'static> Drop for RcuKBox<T> {
    fn drop(&mut self) {
        let head = Self::head_of(self.ptr);
        // SAFETY: `head` is the callback head of the allocation this box
        // owns and is giving up, not queued anywhere; `free_rcu` frees it
        // after a grace period, as `call_rcu()` requires of the callback.
        unsafe { bindings::call_rcu(head.as_ptr(), Some(Self::free_rcu)) };
    }
}

/// The allocation behind an [`RcuBox`]: the callback head, then the value.
#[repr(C)]
#[pin_data]
struct RcuInner<T> {
    head: Opaque<bindings::callback_head>,
    #[pin]
    value: T,
}

// SAFETY: `head` is an `Opaque<callback_head>` at offset 0 (`#[repr(C)]`,
// first field), used only by `RcuKBox`'s drop.
unsafe impl<T> HasRcuHead for RcuInner<T> {
    const RCU_HEAD: usize = 0;
}

// SAFETY: `head` is used only by the `call_rcu()` of the box that owns the
// value; sending or sharing `RcuInner` sends or shares the `T`.
unsafe impl<T: Send> Send for RcuInner<T> {}

// SAFETY: As for `Send`; `&RcuInner<T>` gives out only `&T`.
unsafe impl<T: Sync> Sync for RcuInner<T> {}

/// An owned heap `T` whose drop is deferred past an RCU grace period.
///
/// Dropping an `RcuBox` calls `call_rcu()`; after a grace period the RCU
/// callback drops the `T` and frees the memory. `call_rcu()` may be called
/// from any context, but not while holding locks that RCU's wakeups take
/// (the runqueue lock): use [`RcuBox::drop_deferred`] there. The `T` is
/// dropped in softirq context (or in an rcuo kthread), possibly on another
/// CPU, hence `T: Send + 'static`; its drop must not sleep.
///
/// It is an [`RcuKBox`] of the value with a callback head in front of it.
pub struct RcuBox<T: Send + 'static>(RcuKBox<RcuInner<T>>);

impl<T: Send + 'static> RcuBox<T> {
    /// Allocates a box holding `value`.
    pub fn new(value: T, flags: Flags) -> Result<Self, AllocError> {
        Self::try_pin_init(super::init_value(value), flags)
    }

    /// Allocates a box and initialises its value in place; errors become [`Error`].
    pub fn pin_init<E>(init: impl PinInit<T, E>, flags: Flags) -> Result<Self>
    where
        Error: From<E>,
    {
        let boxed = KBox::pin_init(
            pin_init!(RcuInner {
                head: Opaque::uninit(),
                value <- init,
            }? E),
            flags,
        )?;
        Ok(Self(RcuKBox::new(boxed)))
    }

    /// Allocates a box and initialises its value in place.
    pub fn try_pin_init<E: From<AllocError>>(
        init: impl PinInit<T, E>,
        flags: Flags,
    ) -> Result<Self, E> {
        let boxed = KBox::try_pin_init(
            pin_init!(RcuInner {
                head: Opaque::uninit(),
                value <- init,
            }? E),
            flags,
        )?;
        Ok(Self(RcuKBox::new(boxed)))
    }

    /// The value, pinned.
    #[inline]
    pub fn as_pin(&self) -> Pin<&T> {
        // SAFETY: `value` is structurally pinned in the pinned `RcuInner`.
        unsafe { self.0.as_pin().map_unchecked(|i| &i.value) }
    }

    /// Drops the box through `queue`; see [`RcuKBox::drop_deferred`].
    pub fn drop_deferred(self, queue: Pin<&IrqWork<RcuDropQueue>>) {
        self.0.drop_deferred(queue)
    }

    fn into_raw(self) -> NonNull<RcuInner<T>> {
        let ptr = self.0.ptr;
        core::mem::forget(self);
        ptr
    }

    /// # Safety
    ///
    /// `ptr` comes from [`RcuBox::into_raw`] and is taken back once.
    unsafe fn from_raw(ptr: NonNull<RcuInner<T>>) -> Self {
        // SAFETY: `into_raw` gave up the `RcuKBox`'s allocation.
        Self(unsafe { RcuKBox::from_raw(ptr) })
    }
}

impl<T: Send + 'static> core::ops::Deref for RcuBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0.value
    }
}

/// An RCU-protected pointer to an [`RcuBox<T>`], possibly null.
///
/// Readers use [`dereference`](Self::dereference) under a [`Guard`]; the
/// reference lives as long as the guard, and the value it points to is not
/// freed before a grace period has passed after it was replaced.
/// Updaters use [`replace`](Self::replace), which publishes the new value
/// with release ordering (`rcu_assign_pointer()`), and get the old box
/// back. Concurrent updaters are serialised by the atomic exchange; any
/// further consistency between them is theirs to provide with a lock.
///
/// # Invariants
///
/// `ptr` is null or the pointer of an [`RcuBox<T>`] whose ownership this
/// `RcuPtr` holds.
pub struct RcuPtr<T: Send + Sync + 'static> {
    ptr: Atomic<*mut RcuInner<T>>,
    _owns: PhantomData<RcuBox<T>>,
}

// SAFETY: An `RcuPtr` owns an `RcuBox<T>`, which is `Send`.
unsafe impl<T: Send + Sync + 'static> Send for RcuPtr<T> {}

// SAFETY: Shared access gives `&T` to readers (`T: Sync`) and moves boxes
// in and out across threads (`T: Send`), through atomic operations.
unsafe impl<T: Send + Sync + 'static> Sync for RcuPtr<T> {}

impl<T: Send + Sync + 'static> RcuPtr<T> {
    /// A pointer to `value`, or null.
    pub fn new(value: Option<RcuBox<T>>) -> Self {
        // INVARIANT: `into_raw` gives up the box's ownership to us.
        Self {
            ptr: Atomic::new(Self::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// A null pointer, for a `static`.
    pub const fn null() -> Self {
        Self {
            ptr: Atomic::new(core::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    fn into_raw(value: Option<RcuBox<T>>) -> *mut RcuInner<T> {
        value.map_or(core::ptr::null_mut(), |b| b.into_raw().as_ptr())
    }

    /// Reads the pointer under RCU (`rcu_dereference()`).
    #[inline]
    pub fn dereference<'g>(&self, _guard: &'g Guard) -> Option<&'g T> {
        // Acquire pairs with the release in `replace`, so the value's
        // initialisation is visible (`rcu_dereference()` relies on address
        // dependencies for the same guarantee).
        let ptr = self.ptr.load(Acquire);
        // A non-null `ptr` is an `RcuBox` allocation (type invariant); it may
        // be replaced at any time but is freed only by `RcuBox`'s drop, after a
        // grace period.
        // SAFETY: The grace period cannot end while `_guard` keeps this CPU in a
        // read-side critical section, so the value outlives `'g`.
        NonNull::new(ptr).map(|p| unsafe { &(*p.as_ptr()).value })
    }

    /// Publishes `new` and returns the previous value
    /// (`rcu_replace_pointer()`).
    ///
    /// Readers may still be using the old value: dropping the returned box
    /// defers its freeing past a grace period.
    pub fn replace(&self, new: Option<RcuBox<T>>) -> Option<RcuBox<T>> {
        let new = Self::into_raw(new);
        // Full ordering: release publishes `new`, acquire makes the old
        // value's contents visible to the caller who now owns it.
        let old = self.ptr.xchg(new, kernel::sync::atomic::Full);
        // INVARIANT: the old pointer's ownership moves to the returned box.
        // SAFETY: a non-null pointer held by `self` came from
        // `RcuBox::into_raw` (type invariant) and is taken back once: `xchg`
        // removed it.
        NonNull::new(old).map(|ptr| unsafe { RcuBox::from_raw(ptr) })
    }

    /// Whether the pointer is null; a hint only, as it may change at once.
    pub fn is_null(&self) -> bool {
        self.ptr.load(Relaxed).is_null()
    }
}

impl<T: Send + Sync + 'static> Drop for RcuPtr<T> {
    fn drop(&mut self) {
        drop(self.replace(None));
    }
}

/// A queue of [`RcuBox`]es whose `call_rcu()` is done from an irq_work.
///
/// Embed it in an [`IrqWork`] (usually a `static`, like sched_ext's
/// `free_dsq_irq_work`) and drop boxes into it with
/// [`RcuBox::drop_deferred`]. The irq_work callback hands every queued box
/// to `call_rcu()`, so freeing happens after the irq_work and then a grace
/// period.
///
/// The queue is a lock-free stack linked through the boxes' own callback
/// heads (`rcu_head.next` is unused until `call_rcu()`), so pushing never
/// allocates and works with interrupts off.
///
/// # Invariants
///
/// `head` is null or the first of a null-terminated list of callback heads
/// given up by [`RcuKBox::into_head`], each with its `func` set.
pub struct RcuDropQueue {
    head: Atomic<*mut bindings::callback_head>,
}

// SAFETY: The queue only holds pointers to allocations it owns (whose `T`
// are `Send`), manipulated with atomic operations.
unsafe impl Send for RcuDropQueue {}

// SAFETY: As for `Send`; `push` and `take` are safe from any thread.
unsafe impl Sync for RcuDropQueue {}

impl RcuDropQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            head: Atomic::new(core::ptr::null_mut()),
        }
    }

    /// Pushes `node`; returns whether the queue was empty (`llist_add()`).
    fn push(&self, node: NonNull<bindings::callback_head>) -> bool {
        let node = node.as_ptr();
        let mut first = self.head.load(Relaxed);
        loop {
            // SAFETY: `node` is ours (given up by `into_head`) and not yet
            // on any list.
            unsafe { (*node).next = first };
            // Release: the node's contents are visible to the consumer.
            match self.head.cmpxchg(first, node, Release) {
                // INVARIANT: `node` was given up by `into_head` and links
                // to the rest of the list.
                Ok(_) => return first.is_null(),
                Err(now) => first = now,
            }
        }
    }

    /// Hands every queued box to `call_rcu()` (`llist_del_all()` + walk).
    fn flush(&self) {
        // Acquire pairs with the release in `push`.
        let mut node = self.head.xchg(core::ptr::null_mut(), Acquire);
        while let Some(n) = NonNull::new(node) {
            let n = n.as_ptr();
            // SAFETY: `n` is a given-up callback head owned by this walk (type
            // invariant); `next` is read before `call_rcu()` reuses it, and
            // `func` frees it after a grace period, as `call_rcu()` requires.
            unsafe {
                node = (*n).next;
                bindings::call_rcu(n, (*n).func);
            }
        }
    }
}

impl Default for RcuDropQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl IrqWorkFn for RcuDropQueue {
    fn run(work: Pin<&IrqWork<Self>>) {
        work.flush();
    }
}

impl Drop for RcuDropQueue {
    fn drop(&mut self) {
        // Boxes pushed after the last run of the irq_work (possible only if
        // the work was never queued, e.g. in a test) are not leaked.
        self.flush();
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kunit_tests(scx_rs_rcu)]
mod tests {
    use super::*;
    use crate::sync::{
        irq_work::IrqWorkKind,
        irqs_disabled, new_raw_spinlock_irq,
        percpu::{num_possible_cpus, PerCpuOwner},
        IrqsOff, RawSpinLockIrq,
    };
    use kernel::sync::atomic::Atomic;

    /// Counts its drops; `'static` as an `RcuBox` requires.
    struct Tracked {
        value: u64,
        drops: &'static Atomic<u32>,
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.drops.add(1, Relaxed);
        }
    }

    static DEFERRED_DROPS: Atomic<u32> = Atomic::new(0);
    static PTR_DROPS: Atomic<u32> = Atomic::new(0);
    static QUEUE_DROPS: Atomic<u32> = Atomic::new(0);

    #[test]
    fn drop_waits_for_grace_period() -> Result {
        let before = DEFERRED_DROPS.load(Relaxed);
        let b = RcuBox::new(
            Tracked {
                value: 1,
                drops: &DEFERRED_DROPS,
            },
            GFP_KERNEL,
        )?;
        assert_eq!(b.value, 1);
        let guard = read_lock();
        drop(b);
        // This CPU is in a read-side critical section: the grace period that
        // the callback waits for cannot end, however long we wait.
        for _ in 0..1_000_000 {
            core::hint::spin_loop();
        }
        assert_eq!(DEFERRED_DROPS.load(Relaxed), before);
        drop(guard);
        rcu_barrier();
        assert_eq!(DEFERRED_DROPS.load(Relaxed), before + 1);
        Ok(())
    }

    #[test]
    fn replaced_value_outlives_reader() -> Result {
        let before = PTR_DROPS.load(Relaxed);
        let new = |value| {
            RcuBox::new(
                Tracked {
                    value,
                    drops: &PTR_DROPS,
                },
                GFP_KERNEL,
            )
        };
        let p = RcuPtr::new(Some(new(1)?));
        assert!(!p.is_null());
        // Allocate before entering the read-side critical section, where
        // GFP_KERNEL may not sleep.
        let second = new(2)?;
        let guard = read_lock();
        let seen = p.dereference(&guard).map(|t| t.value);
        assert_eq!(seen, Some(1));
        let reader = p.dereference(&guard);

        let old = p.replace(Some(second));
        assert_eq!(old.as_ref().map(|o| o.value), Some(1));
        drop(old);
        // The reader still sees the old value, which is not freed yet.
        assert_eq!(reader.map(|t| t.value), Some(1));
        assert_eq!(p.dereference(&guard).map(|t| t.value), Some(2));
        assert_eq!(PTR_DROPS.load(Relaxed), before);
        drop(guard);

        synchronize_rcu();
        rcu_barrier();
        assert_eq!(PTR_DROPS.load(Relaxed), before + 1);

        drop(p);
        rcu_barrier();
        assert_eq!(PTR_DROPS.load(Relaxed), before + 2);

        let empty = RcuPtr::<Tracked>::null();
        assert!(empty.is_null());
        assert!(empty.dereference(&read_lock()).is_none());
        Ok(())
    }

    static C_DROPS: Atomic<u32> = Atomic::new(0);

    /// A C-layout object with its own RCU head, as C code allocates them.
    #[repr(C)]
    struct CObject {
        key: u64,
        rcu: RcuHead,
    }

    // SAFETY: `rcu` is an `RcuHead`, which nothing but `RcuKBox` uses.
    unsafe impl HasRcuHead for CObject {
        const RCU_HEAD: usize = core::mem::offset_of!(CObject, rcu);
    }

    impl Drop for CObject {
        fn drop(&mut self) {
            C_DROPS.add(1, Relaxed);
        }
    }

    /// An object allocated elsewhere (here with `KBox`, as C would with
    /// `kmalloc()`) is handed over as a raw pointer, and dropped and freed
    /// through its own RCU head only after a grace period.
    #[test]
    fn handed_over_object_freed_after_grace_period() -> Result {
        let before = C_DROPS.load(Relaxed);
        let raw = KBox::into_raw(KBox::new(
            CObject {
                key: 11,
                rcu: RcuHead::new(),
            },
            GFP_KERNEL,
        )?);
        // SAFETY: `raw` is a `kmalloc()`ed, initialised `CObject` whose
        // ownership passes to the box.
        let obj = unsafe { RcuKBox::from_raw(NonNull::new_unchecked(raw)) };
        let guard = read_lock();
        // A reader that found the object before it was given up.
        let key: *const u64 = &obj.key;
        drop(obj);
        for _ in 0..1_000_000 {
            core::hint::spin_loop();
        }
        // SAFETY: the object is freed only after a grace period, which
        // cannot end while `guard` is held.
        assert_eq!(unsafe { *key }, 11);
        assert_eq!(C_DROPS.load(Relaxed), before);
        drop(guard);
        rcu_barrier();
        assert_eq!(C_DROPS.load(Relaxed), before + 1);
        Ok(())
    }

    static SLOT_DROPS: Atomic<u32> = Atomic::new(0);

    /// Per-CPU data that counts its drops.
    struct Slot;

    impl Drop for Slot {
        fn drop(&mut self) {
            SLOT_DROPS.add(1, Relaxed);
        }
    }

    /// The DSQ destruction path: an object owning per-CPU data, dropped with
    /// interrupts off, freed only after an irq_work and then a grace period,
    /// its drop freeing every CPU's slot.
    #[test]
    fn per_cpu_owner_freed_after_irq_work_and_grace_period() -> Result {
        let queue = KBox::pin_init(
            IrqWork::new(IrqWorkKind::Hard, RcuDropQueue::new()),
            GFP_KERNEL,
        )?;
        let obj = RcuBox::pin_init(PerCpuOwner::new(GFP_KERNEL, 7u64, |_| Slot), GFP_KERNEL)?;
        assert_eq!(*obj.as_pin().head(), 7);
        let before = SLOT_DROPS.load(Relaxed);
        {
            let _irqs_off = IrqsOff::new().expect("not in NMI");
            obj.drop_deferred(queue.as_ref());
            assert_eq!(SLOT_DROPS.load(Relaxed), before);
        }
        queue.sync();
        rcu_barrier();
        assert_eq!(SLOT_DROPS.load(Relaxed), before + num_possible_cpus());
        Ok(())
    }

    #[pin_data]
    struct Locked {
        #[pin]
        lock: RawSpinLockIrq<u32>,
    }

    #[test]
    fn drop_deferred_from_locked_context() -> Result {
        let before = QUEUE_DROPS.load(Relaxed);
        let queue = KBox::pin_init(
            IrqWork::new(IrqWorkKind::Hard, RcuDropQueue::new()),
            GFP_KERNEL,
        )?;
        let l = KBox::pin_init(
            pin_init!(Locked { lock <- new_raw_spinlock_irq!(0) }),
            GFP_KERNEL,
        )?;
        let boxes = [1, 2, 3].map(|value| {
            RcuBox::new(
                Tracked {
                    value,
                    drops: &QUEUE_DROPS,
                },
                GFP_KERNEL,
            )
        });
        {
            let _g = l.lock.lock();
            assert!(irqs_disabled());
            for b in boxes {
                b?.drop_deferred(queue.as_ref());
            }
            // Nothing is freed under the lock.
            assert_eq!(QUEUE_DROPS.load(Relaxed), before);
            assert!(queue.is_pending());
        }
        queue.sync();
        rcu_barrier();
        assert_eq!(QUEUE_DROPS.load(Relaxed), before + 3);
        Ok(())
    }
}
