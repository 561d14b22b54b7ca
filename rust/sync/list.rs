// SPDX-License-Identifier: GPL-2.0

//! C-owned intrusive lists (`struct list_head`) of per-CPU objects, changed
//! under a proof of what protects them.
//!
//! The kernel links many per-CPU objects on per-CPU lists: every CPU has a
//! list head (in its runqueue, say), the entries are slots of per-CPU data,
//! and CPU `c`'s slot of an object is only ever linked on CPU `c`'s list.
//! What protects such a list is one of:
//!
//! - a lock: CPU `c`'s list and the links of the CPU-`c` slots are changed
//!   only under CPU `c`'s lock, from any CPU;
//! - the CPU itself: only CPU `c` changes its list and the links of its
//!   slots, with interrupts disabled.
//!
//! A [`CpuList<'a, T>`] is the right to read and change one CPU's list for
//! `'a`. It is made with the proof of that protection, whose lifetime bounds
//! it: the guard of the lock ([`CpuList::with_lock`]) or the token of
//! interrupts disabled on the list's CPU ([`CpuList::local`]). Making one is
//! `unsafe`, as only the owner of the list knows which lock protects it;
//! the typed wrappers of the C structures do it once, and the code that
//! uses the list is safe. Entries are given and returned as
//! [`CpuSlot`]s, which carry their CPU: a slot of another CPU, whose link
//! another CPU may be changing, is refused rather than touched.
//!
//! 7.3's [`kernel::interop::list`] does not serve here: it reads C lists
//! only, and its constructors require that nothing changes the list while
//! it is borrowed.
//!
//! C header: [`include/linux/list.h`](srctree/include/linux/list.h)
//!
//! # Examples
//!
//! A per-CPU list protected by a per-CPU lock, with per-CPU entries:
//!
//! ```
//! use core::mem::offset_of;
//! use kernel::{bindings::{list_head, INIT_LIST_HEAD}, types::Opaque};
//! use scx_rs::sync::{list::{CListItem, CpuList}, new_raw_spinlock_irq, percpu::PerCpu};
//!
//! #[pin_data]
//! #[repr(C)]
//! struct Item {
//!     #[pin]
//!     node: Opaque<list_head>,
//!     value: u32,
//! }
//!
//! // SAFETY: the link is in an `Opaque` at `LINK`, initialised by every
//! // constructor below, and this example unlinks every item before freeing it.
//! unsafe impl CListItem for Item {
//!     const LINK: usize = offset_of!(Item, node);
//! }
//!
//! fn new_head() -> impl PinInit<Opaque<list_head>> {
//!     // SAFETY: `INIT_LIST_HEAD()` initialises the head it is given.
//!     Opaque::ffi_init(|h| unsafe { INIT_LIST_HEAD(h) })
//! }
//!
//! #[pin_data]
//! struct Queue {
//!     #[pin]
//!     lock: scx_rs::sync::RawSpinLockIrq<()>,
//!     #[pin]
//!     head: Opaque<list_head>,
//! }
//!
//! let queues = PerCpu::pin_init(GFP_KERNEL, |_cpu| {
//!     pin_init!(Queue { lock <- new_raw_spinlock_irq!(()), head <- new_head() })
//! })?;
//! let items = PerCpu::pin_init(GFP_KERNEL, |cpu| {
//!     pin_init!(Item { node <- new_head(), value: cpu.as_u32() })
//! })?;
//!
//! for q in queues.iter() {
//!     let guard = q.lock.lock();
//!     // SAFETY: `q.head` is `q.cpu()`'s list, changed only under `q.lock`;
//!     // its entries are slots of `items`, which outlive `list`.
//!     let list = unsafe { CpuList::<Item>::with_lock(q.head.get(), q.cpu(), &guard) };
//!     let mine = items.get(q.cpu());
//!     // SAFETY: `items` outlives the lists; every item is unlinked below.
//!     assert!(unsafe { list.push_back(mine) });
//!     // SAFETY: as above.
//!     assert!(!unsafe { list.push_back(mine) }); // already linked
//!     let first = list.pop_front().expect("an entry");
//!     assert_eq!(first.value, q.cpu().as_u32());
//!     assert!(list.is_empty());
//! }
//! # Ok::<(), Error>(())
//! ```

use super::{
    percpu::{CpuSlot, PossibleCpu},
    IrqsOff,
};
use crate::bindings;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    sync::lock::{Backend, Guard},
    types::NotThreadSafe,
    warn_on,
};

/// A type whose values C code links on lists through an embedded
/// `struct list_head`, its link.
///
/// `ID` tells the links of a type apart when it has several.
///
/// # Safety
///
/// - the link lies in an `UnsafeCell` (an [`Opaque`](kernel::types::Opaque),
///   say, or C data wrapped in one), so it may be changed while shared
///   references to `Self` exist;
/// - every `Self` holds an initialised `struct list_head` at byte offset
///   `LINK`: empty, or linked on a list of `Self`s through the links at the
///   same offset;
/// - a `Self` is not freed, moved or reinitialised while its link is on a
///   list: its owner unlinks it first, under the list's protection (the
///   callers of [`CpuList::push_back`] promise it for what they link).
pub unsafe trait CListItem<const ID: u64 = 0> {
    /// The byte offset of the link in `Self`.
    const LINK: usize;
}

/// The right to read and change one CPU's C list of `T`s for `'a`.
///
/// # Invariants
///
/// - `head` is an initialised list head, the head of `cpu`'s list, valid for
///   `'a`;
/// - the entries are `T`s linked through their `ID` link, each the slot of
///   `cpu` of a per-CPU object, valid for `'a`;
/// - for `'a` this context holds what protects the list: nothing else
///   changes the head or the link of a `cpu` slot of a `T` (C may read them
///   locklessly with `READ_ONCE()`, as `list_empty()` does);
/// - the value is not sent to another task.
pub struct CpuList<'a, T: CListItem<ID>, const ID: u64 = 0> {
    head: NonNull<bindings::list_head>,
    cpu: PossibleCpu,
    _list: PhantomData<&'a T>,
    _not_send: NotThreadSafe,
}

impl<'a, T: CListItem<ID>, const ID: u64> CpuList<'a, T, ID> {
    /// The list at `head`, which the lock of `guard` protects.
    ///
    /// # Safety
    ///
    /// `head` is the initialised head of `cpu`'s list of `T`s (linked through
    /// their `ID` link), valid for `'a`, whose entries are `cpu` slots of
    /// per-CPU objects valid for `'a`; the list, and the link of every `cpu`
    /// slot of a `T`, are changed only under the lock `guard` holds.
    #[inline]
    pub unsafe fn with_lock<U: ?Sized, B: Backend>(
        head: *mut bindings::list_head,
        cpu: PossibleCpu,
        guard: &'a Guard<'_, U, B>,
    ) -> Self {
        let _ = guard;
        // INVARIANT: by the safety requirements; the guard, which outlives
        // `'a`, holds the lock.
        Self {
            // SAFETY: `head` is valid, hence not null.
            head: unsafe { NonNull::new_unchecked(head) },
            cpu,
            _list: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// The current CPU's list at `head`, which only this CPU changes, with
    /// interrupts disabled; `cpu` is that CPU, as the caller has it already
    /// (reading it again would be a second `smp_processor_id()`, which the
    /// compiler cannot tell is the same value).
    ///
    /// # Safety
    ///
    /// `cpu` is the current CPU. `head` is the initialised head of the
    /// current CPU's list of `T`s
    /// (linked through their `ID` link), valid for `'a`, whose entries are
    /// this CPU's slots of per-CPU objects valid for `'a`; the list, and the
    /// link of every slot of this CPU of a `T`, are changed only on this CPU
    /// with interrupts disabled (not from NMI).
    #[inline]
    pub unsafe fn local(
        head: *mut bindings::list_head,
        cpu: PossibleCpu,
        irqs_off: &'a IrqsOff,
    ) -> Self {
        let _ = irqs_off;
        // INVARIANT: by the safety requirements; interrupts stay off, and
        // the task on `cpu`, for `'a`, so nothing else changes the list.
        Self {
            // SAFETY: `head` is valid, hence not null.
            head: unsafe { NonNull::new_unchecked(head) },
            cpu,
            _list: PhantomData,
            _not_send: NotThreadSafe,
        }
    }

    /// The CPU whose list this is.
    #[inline]
    pub fn cpu(&self) -> PossibleCpu {
        self.cpu
    }

    /// Whether the list is empty (`list_empty()`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        // SAFETY: `head` is an initialised list head that this context may
        // read (type invariants).
        unsafe { bindings::list_empty(self.head.as_ptr()) }
    }

    /// The link of `item`, if it is a slot of this list's CPU.
    #[inline]
    fn link(&self, item: &CpuSlot<'_, T>) -> Option<*mut bindings::list_head> {
        // A slot of another CPU is protected by that CPU's list: refuse it.
        if warn_on!(item.cpu() != self.cpu) {
            return None;
        }
        let item: *const T = &**item;
        // SAFETY: `T::LINK` is the offset of the link inside `T`
        // (`CListItem`); only an address is computed.
        Some(unsafe { item.byte_add(T::LINK) }.cast_mut().cast())
    }

    /// Whether `item`, a slot of this list's CPU, is linked, that is on this
    /// list (`!list_empty(&item->link)`).
    ///
    /// `false`, with a warning, for a slot of another CPU.
    #[inline]
    pub fn is_linked(&self, item: &CpuSlot<'_, T>) -> bool {
        let Some(link) = self.link(item) else {
            return false;
        };
        // SAFETY: `link` is the initialised link of a `cpu` slot of a `T`,
        // which this context may read (type invariants).
        !unsafe { bindings::list_empty(link) }
    }

    /// Links `item` at the end of the list, unless it is linked already
    /// (`list_add_tail()`); returns whether it was linked now.
    ///
    /// `false`, with a warning, for a slot of another CPU.
    ///
    /// Safe code cannot link anything:
    ///
    /// ```compile_fail,E0133
    /// use scx_rs::sync::{list::{CListItem, CpuList}, percpu::CpuSlot};
    ///
    /// fn link<T: CListItem>(list: &CpuList<'_, T>, slot: CpuSlot<'_, T>) -> bool {
    ///     list.push_back(slot)
    /// }
    /// ```
    ///
    /// # Safety
    ///
    /// `item` stays valid, and is neither moved nor reinitialised, for as
    /// long as it is linked: whoever frees it unlinks it first, under the
    /// list's protection. (Nothing in the type of a [`CpuSlot`] says how long
    /// its memory outlives the borrow; the owner of the list does.)
    #[inline]
    pub unsafe fn push_back(&self, item: CpuSlot<'_, T>) -> bool {
        let Some(link) = self.link(&item) else {
            return false;
        };
        // SAFETY: as in `is_linked`.
        if !unsafe { bindings::list_empty(link) } {
            return false;
        }
        // SAFETY: `link` is an initialised, unlinked link and `head` an
        // initialised head, both of this CPU's list, which this context may
        // change (type invariants). `item` stays valid while linked (safety
        // requirements), and it is a `cpu` slot, as the list's entries must
        // be.
        unsafe { bindings::list_add_tail(link, self.head.as_ptr()) };
        true
    }

    /// Unlinks and returns the first entry (`list_first_entry()` and
    /// `list_del_init()`).
    #[inline]
    pub fn pop_front(&self) -> Option<CpuSlot<'a, T>> {
        if self.is_empty() {
            return None;
        }
        // SAFETY: the list is not empty, so `head->next` is the link of its
        // first entry.
        let link = unsafe { (*self.head.as_ptr()).next };
        // SAFETY: `list_del_init()` needs a linked entry of a list this
        // context may change: `link` is one (type invariants).
        unsafe { bindings::list_del_init(link) };
        // SAFETY: entries are `T`s linked through the link at `T::LINK`, so
        // stepping back by it stays in the entry.
        let item = unsafe { link.byte_sub(T::LINK) }.cast::<T>();
        // SAFETY: the entry is the `cpu` slot of a per-CPU object valid for
        // `'a` (type invariants); a `CpuSlot` is one slot's worth of that
        // object, borrowed for `'a`.
        Some(unsafe { CpuSlot::from_raw(NonNull::new_unchecked(item), self.cpu) })
    }

    /// Unlinks `item` if it is linked (`list_del_init()`); returns whether
    /// it was.
    ///
    /// `false`, with a warning, for a slot of another CPU.
    #[inline]
    pub fn remove(&self, item: &CpuSlot<'_, T>) -> bool {
        let Some(link) = self.link(item) else {
            return false;
        };
        // SAFETY: as in `is_linked`.
        if unsafe { bindings::list_empty(link) } {
            return false;
        }
        // SAFETY: `link` is linked on this CPU's list (a `cpu` slot can only
        // be on it), which this context may change.
        unsafe { bindings::list_del_init(link) };
        true
    }
}

#[cfg(not(scx_rs_sample))]
#[kernel::prelude::kunit_tests(scx_rs_list)]
mod tests {
    use super::*;
    use crate::sync::{
        new_raw_spinlock_irq,
        percpu::{possible_cpus, PerCpu},
        testing::count_warnings,
        RawSpinLockIrq,
    };
    use core::mem::offset_of;
    use kernel::{prelude::*, types::Opaque};

    #[repr(C)]
    struct CItem {
        value: u32,
        node: bindings::list_head,
        other: bindings::list_head,
    }

    #[repr(transparent)]
    struct Item(Opaque<CItem>);

    impl Item {
        fn value(&self) -> u32 {
            // SAFETY: `value` is written once at initialisation.
            unsafe { (*self.0.get()).value }
        }
    }

    // SAFETY: `Item` wraps C data in an `Opaque`; `node` is initialised in
    // `items()`, and every test unlinks its items before freeing them.
    unsafe impl CListItem for Item {
        const LINK: usize = offset_of!(CItem, node);
    }

    // SAFETY: as above, for the second link.
    unsafe impl CListItem<1> for Item {
        const LINK: usize = offset_of!(CItem, other);
    }

    #[pin_data]
    struct Queue {
        #[pin]
        lock: RawSpinLockIrq<()>,
        #[pin]
        head: Opaque<bindings::list_head>,
    }

    fn init_head() -> impl PinInit<Opaque<bindings::list_head>> {
        // SAFETY: `INIT_LIST_HEAD()` initialises the head it is given.
        Opaque::ffi_init(|h| unsafe { bindings::INIT_LIST_HEAD(h) })
    }

    fn queues() -> Result<PerCpu<Queue>> {
        PerCpu::pin_init(GFP_KERNEL, |_| {
            pin_init!(Queue {
                lock <- new_raw_spinlock_irq!(()),
                head <- init_head(),
            })
        })
    }

    /// Per-CPU items `value = base + cpu`, both links empty.
    fn items(base: u32) -> Result<PerCpu<Item>> {
        PerCpu::pin_init(GFP_KERNEL, move |cpu| {
            // SAFETY: `Opaque::ffi_init` hands a slot valid for writes.
            let init = Opaque::ffi_init(move |it: *mut CItem| unsafe {
                (&raw mut (*it).value).write(base + cpu.as_u32());
                bindings::INIT_LIST_HEAD(&raw mut (*it).node);
                bindings::INIT_LIST_HEAD(&raw mut (*it).other);
            });
            // SAFETY: `Item` is a transparent wrapper of `Opaque<CItem>`.
            unsafe {
                pin_init::pin_init_from_closure(move |slot: *mut Item| {
                    pin_init::raw_try_init(slot.cast(), init)
                })
            }
        })
    }

    /// Locked per-CPU lists keep FIFO order and unlink what they return.
    #[test]
    fn locked_list_fifo() -> Result {
        let q = queues()?;
        let a = items(100)?;
        let b = items(200)?;
        for qs in q.iter() {
            let cpu = qs.cpu();
            let guard = qs.lock.lock();
            // SAFETY: `qs.head` is `cpu`'s list, changed only under
            // `qs.lock`; its entries are `a` and `b` slots of `cpu`, which
            // outlive `list`.
            let list = unsafe { CpuList::<Item>::with_lock(qs.head.get(), cpu, &guard) };
            assert_eq!(list.cpu(), cpu);
            assert!(list.is_empty());
            // SAFETY: `a` and `b` outlive the list, and the test unlinks
            // every item before the end of this iteration.
            unsafe {
                assert!(list.push_back(a.get(cpu)));
                assert!(list.push_back(b.get(cpu)));
                assert!(!list.push_back(a.get(cpu)));
            }
            assert!(list.is_linked(&a.get(cpu)));
            let first = list.pop_front().expect("a");
            assert_eq!(first.value(), 100 + cpu.as_u32());
            assert_eq!(first.cpu(), cpu);
            assert!(!list.is_linked(&a.get(cpu)));
            assert!(list.remove(&b.get(cpu)));
            assert!(!list.remove(&b.get(cpu)));
            assert!(list.pop_front().is_none());
            assert!(list.is_empty());
        }
        Ok(())
    }

    /// A slot of another CPU is refused: its link is another list's.
    #[test]
    fn other_cpu_slot_refused() -> Result {
        let mut cpus = possible_cpus();
        let (Some(c0), Some(c1)) = (cpus.next(), cpus.next()) else {
            return Ok(());
        };
        let q = queues()?;
        let a = items(0)?;
        let qs = q.get(c0);
        // Each is a bug of the caller: warned about, and nothing done.
        // (Counting allocates, so it starts before the lock is taken.)
        let counted = count_warnings(|| {
            let guard = qs.lock.lock();
            // SAFETY: as in `locked_list_fifo`.
            let list = unsafe { CpuList::<Item>::with_lock(qs.head.get(), c0, &guard) };
            let done = [
                // SAFETY: refused, so not linked.
                unsafe { list.push_back(a.get(c1)) },
                list.is_linked(&a.get(c1)),
                list.remove(&a.get(c1)),
            ];
            (done, list.is_empty())
        });
        assert!(counted.is_some());
        if let Some(((done, empty), warnings)) = counted {
            assert_eq!(done, [false; 3]);
            assert_eq!(warnings, 3);
            assert!(empty);
        }
        Ok(())
    }

    /// The CPU-local form, and a second link of the same items.
    #[test]
    fn local_list_and_second_link() -> Result {
        let q = queues()?;
        let a = items(7)?;
        let irqs_off = IrqsOff::new().expect("not in NMI");
        let here = q.this_cpu(&irqs_off);
        // SAFETY: `here` is this CPU's slot and `here.head` its list,
        // changed only here with IRQs off while this test runs; its entries
        // are this CPU's `a` slots.
        let list = unsafe { CpuList::<Item>::local(here.head.get(), here.cpu(), &irqs_off) };
        let mine = a.this_cpu(&irqs_off);
        // SAFETY: `a` outlives the list; the item is popped below.
        assert!(unsafe { list.push_back(mine) });
        assert_eq!(
            list.pop_front().map(|i| i.value()),
            Some(7 + mine.cpu().as_u32())
        );
        // SAFETY: as above, for the second link; the list is empty.
        let other = unsafe { CpuList::<Item, 1>::local(here.head.get(), here.cpu(), &irqs_off) };
        // SAFETY: as above; removed below.
        assert!(unsafe { other.push_back(mine) });
        // The first link is untouched.
        assert!(!list.is_linked(&mine));
        assert!(other.is_linked(&mine));
        assert!(other.remove(&mine));
        assert!(other.is_empty());
        Ok(())
    }
}
