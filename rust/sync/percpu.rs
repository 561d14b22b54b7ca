// SPDX-License-Identifier: GPL-2.0

//! Dynamic per-CPU data.
//!
//! [`PerCpu<T>`] owns one `T` for every possible CPU, allocated with
//! `alloc_percpu()` and freed with `free_percpu()`. Every slot is
//! initialised in place through pin-init, so slots may hold pinned members
//! (locks, irq_work items, list heads) and point to themselves; per-CPU
//! memory never moves. Dropping a [`PerCpu`] drops every slot's contents,
//! then frees the allocation.
//!
//! [`PerCpuRef<'a, T>`] is the borrowed form: a per-CPU `T` that something
//! else owns (C code, or a [`PerCpu`] whose pointer was handed to C), valid
//! for `'a`. Both give shared access (`Pin<&T>`), so mutation goes through
//! interior mutability (atomics, locks) chosen by `T`:
//!
//! - any CPU's slot by id: [`PerCpuRef::get`], which takes a
//!   [`PossibleCpu`]: per-CPU memory exists for possible CPUs only, and a
//!   [`CpuId`] is merely below `nr_cpu_ids`;
//! - the current CPU's slot: [`PerCpuRef::this_cpu`], which takes a
//!   [`CpuPinned`] proof (a [`PreemptGuard`] or an
//!   [`IrqsOff`](super::IrqsOff)) whose lifetime bounds the returned
//!   reference, so "this CPU" cannot go stale while it is used;
//! - every possible CPU: [`PerCpuRef::iter`].
//!
//! Slots come as [`CpuSlot`]s, a reference that knows the CPU it belongs
//! to, so that code relying on "the slot of CPU `c`" (per-CPU lists, see
//! [`super::list`]) can trust the pairing.
//!
//! For objects whose per-CPU slots must find their owner (a sched_ext DSQ's
//! `scx_dsq_pcpu` points back to its DSQ), [`PerCpuOwner`] pairs a pinned
//! head with per-CPU slots that each hold a back-pointer to it.
//!
//! Address arithmetic goes through `per_cpu_ptr()`/`this_cpu_ptr()`, so
//! nothing here is specific to an architecture.
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)
//!
//! # Examples
//!
//! ```
//! use kernel::sync::atomic::{Atomic, Relaxed};
//! use scx_rs::sync::percpu::{PerCpu, PossibleCpu, PreemptGuard};
//!
//! let hits = PerCpu::new(GFP_KERNEL, |_cpu: PossibleCpu| Atomic::new(0u64))?;
//! {
//!     let guard = PreemptGuard::new();
//!     hits.this_cpu(&guard).add(1, Relaxed);
//! }
//! let total: u64 = hits.iter().map(|slot| slot.load(Relaxed)).sum();
//! assert_eq!(total, 1);
//! # Ok::<(), Error>(())
//! ```
//!
//! Per-CPU memory exists only for possible CPUs, so a slot is found by a
//! [`PossibleCpu`], not by a bare [`CpuId`]:
//!
//! ```compile_fail,E0308
//! use kernel::cpu::CpuId;
//! use scx_rs::sync::percpu::PerCpu;
//!
//! let pcpu = PerCpu::new(GFP_KERNEL, |_| 0u32)?;
//! let _ = pcpu.get(CpuId::current());
//! # Ok::<(), Error>(())
//! ```

use super::field::{CObject, Field};
use crate::bindings;
use core::{
    marker::{PhantomData, PhantomPinned},
    ops::Deref,
    pin::Pin,
    ptr::NonNull,
};
use kernel::{
    alloc::{AllocError, Flags},
    cpu::{nr_cpu_ids, CpuId},
    prelude::*,
    types::NotThreadSafe,
};

/// The largest per-CPU allocation `alloc_percpu()` accepts (`PCPU_MIN_UNIT_SIZE`).
const PCPU_MIN_UNIT_SIZE: usize = 32 << 10;

/// A possible CPU: an id set in `cpu_possible_mask`.
///
/// Per-CPU memory, runqueues and irq_work queues exist for the possible
/// CPUs, and the possible mask does not change once the kernel has booted,
/// so a possible CPU stays possible. A [`CpuId`] only says that the id is
/// below `nr_cpu_ids`, which on a sparse CPU map includes ids that are not
/// possible: `per_cpu_ptr()` of those is not memory of the allocation.
///
/// # Invariants
///
/// `self.0` is set in `cpu_possible_mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct PossibleCpu(CpuId);

impl PartialOrd for PossibleCpu {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PossibleCpu {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_u32().cmp(&other.as_u32())
    }
}

impl PossibleCpu {
    /// `cpu`, if it is possible (`cpu_possible()`).
    #[inline]
    pub fn new(cpu: CpuId) -> Option<Self> {
        // SAFETY: `cpu_possible()` only reads `cpu_possible_mask`, and `cpu`
        // is below `nr_cpu_ids`, within the mask.
        let possible = unsafe { bindings::cpu_possible(cpu.as_u32()) };
        // INVARIANT: just checked.
        possible.then_some(Self(cpu))
    }

    /// The CPU `cpu`, if it is a possible CPU's id.
    #[inline]
    pub fn from_i32(cpu: i32) -> Option<Self> {
        Self::from_u32(u32::try_from(cpu).ok()?)
    }

    /// The CPU `cpu`, if it is a possible CPU's id.
    #[inline]
    pub fn from_u32(cpu: u32) -> Option<Self> {
        Self::new(cpu_id(cpu)?)
    }

    /// The CPU `cpu`, which the caller knows to be possible.
    ///
    /// # Safety
    ///
    /// `cpu` is the id of a possible CPU.
    #[inline]
    pub unsafe fn from_i32_unchecked(cpu: i32) -> Self {
        debug_assert!(Self::from_i32(cpu).is_some());
        // INVARIANT: by the safety requirements.
        // SAFETY: a possible CPU's id is below `nr_cpu_ids`.
        Self(unsafe { CpuId::from_i32_unchecked(cpu) })
    }

    /// The CPU `cpu`, which the caller knows to be possible.
    ///
    /// # Safety
    ///
    /// `cpu` is the id of a possible CPU.
    #[inline]
    pub unsafe fn from_u32_unchecked(cpu: u32) -> Self {
        debug_assert!(Self::from_u32(cpu).is_some());
        // INVARIANT: by the safety requirements.
        // SAFETY: a possible CPU's id is below `nr_cpu_ids`.
        Self(unsafe { CpuId::from_u32_unchecked(cpu) })
    }

    /// The CPU the caller is pinned to (`smp_processor_id()`).
    ///
    /// It stays the current CPU for as long as `pinned` exists.
    #[inline]
    pub fn current(pinned: &impl CpuPinned) -> Self {
        let _ = pinned;
        // SAFETY: `smp_processor_id()` requires that the task cannot migrate,
        // which `pinned` guarantees while it exists.
        let cpu = unsafe { bindings::smp_processor_id() };
        // INVARIANT: a task runs only on a possible CPU (one being brought
        // up or taken down included).
        // SAFETY: a possible CPU's id is below `nr_cpu_ids`.
        Self(unsafe { CpuId::from_u32_unchecked(cpu) })
    }

    /// The id.
    #[inline]
    pub fn id(self) -> CpuId {
        self.0
    }

    /// The id as a `u32`.
    #[inline]
    pub fn as_u32(self) -> u32 {
        self.0.as_u32()
    }
}

impl From<PossibleCpu> for CpuId {
    #[inline]
    fn from(cpu: PossibleCpu) -> CpuId {
        cpu.0
    }
}

/// Proof that the current task stays on its CPU while the proof is borrowed.
///
/// The trait has no methods, so an implementer cannot change what the
/// current CPU is: [`PossibleCpu::current`] and [`PerCpuRef::this_cpu`]
/// ask the kernel.
///
/// ```compile_fail,E0407
/// use scx_rs::sync::percpu::CpuPinned;
///
/// struct Liar;
/// // SAFETY: (wrong, and rejected anyway: there is no `cpu` to override.)
/// unsafe impl CpuPinned for Liar {
///     fn cpu(&self) -> kernel::cpu::CpuId {
///         kernel::cpu::CpuId::from_u32(0).unwrap()
///     }
/// }
/// ```
///
/// The holder must not sleep while it holds the proof (no `GFP_KERNEL`
/// allocation, no `CondVar::wait`): a task that sleeps may wake up on
/// another CPU. As for an RCU read guard, the type cannot forbid that; the
/// kernel's atomic-sleep debugging (`might_sleep()`) reports it.
///
/// # Safety
///
/// While a value of an implementing type exists, the task that holds it must
/// not migrate to another CPU: preemption (or interrupts, which implies it)
/// must be disabled, and the value must not be sent to another task.
pub unsafe trait CpuPinned {}

/// Preemption disabled on the current CPU (`preempt_disable()`), until drop.
///
/// # Invariants
///
/// Preemption is disabled for as long as the guard exists; the guard is not
/// `Send`, so it is dropped by the task that created it.
pub struct PreemptGuard(NotThreadSafe);

impl PreemptGuard {
    /// Disables preemption; [`Drop`] enables it again.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `preempt_disable()` may be called from any context.
        unsafe { bindings::preempt_disable() };
        // INVARIANT: preemption was just disabled.
        Self(NotThreadSafe)
    }
}

impl Default for PreemptGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PreemptGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariant, this task disabled preemption in
        // `new`; this is the matching enable.
        unsafe { bindings::preempt_enable() };
    }
}

// SAFETY: By its invariant, preemption is disabled while a `PreemptGuard`
// exists and the guard cannot leave its task.
unsafe impl CpuPinned for PreemptGuard {}

// SAFETY: By its invariant interrupts are disabled while an `IrqsOff`
// exists (which disables preemption too), and it is not `Send`: the task
// cannot be preempted or migrate.
unsafe impl CpuPinned for super::IrqsOff {}

/// Iterator over the possible CPUs, in increasing order (`for_each_possible_cpu`).
#[derive(Clone)]
pub struct PossibleCpus {
    next: i32,
}

/// Returns an iterator over the possible CPUs.
///
/// The set of possible CPUs is fixed at boot, so two iterations visit the
/// same CPUs in the same order.
pub fn possible_cpus() -> PossibleCpus {
    PossibleCpus { next: -1 }
}

impl Iterator for PossibleCpus {
    type Item = PossibleCpu;

    #[inline]
    fn next(&mut self) -> Option<PossibleCpu> {
        // SAFETY: `cpumask_next()` on `cpu_possible_mask` accepts any
        // `n >= -1` and only reads the mask.
        let cpu =
            unsafe { bindings::cpumask_next(self.next, &raw const bindings::__cpu_possible_mask) };
        // `cpumask_next()` returns `nr_cpu_ids` (or more) past the last CPU;
        // `from_u32` returns `None` for those.
        let cpu = cpu_id(cpu)?;
        self.next = cpu.as_u32() as i32;
        // INVARIANT: `cpu` is set in `cpu_possible_mask`.
        Some(PossibleCpu(cpu))
    }
}

/// `CpuId::from_u32()`, inlined: that one is not `#[inline]`, so a
/// module would call it out of line on every kick.
#[inline]
pub(crate) fn cpu_id(cpu: u32) -> Option<CpuId> {
    // SAFETY: `cpu` is below `nr_cpu_ids` (checked), a valid CPU id.
    (cpu < nr_cpu_ids()).then(|| unsafe { CpuId::from_u32_unchecked(cpu) })
}

/// The number of possible CPUs (`num_possible_cpus()`).
pub fn num_possible_cpus() -> u32 {
    // SAFETY: `num_possible_cpus()` only reads `cpu_possible_mask`.
    unsafe { bindings::num_possible_cpus() }
}

/// One CPU's slot of a per-CPU `T`, and that CPU.
///
/// Handed out by [`PerCpuRef`] and [`PerCpu`] only, so the pairing can be
/// trusted: per-CPU lists whose slot of CPU `c` may only be on CPU `c`'s
/// list ([`super::list::CpuList`]) rely on it.
///
/// # Invariants
///
/// `slot` is the slot of `cpu` of a per-CPU allocation of `T`s, valid and
/// pinned for `'a`.
pub struct CpuSlot<'a, T> {
    slot: &'a T,
    cpu: PossibleCpu,
}

impl<T> Clone for CpuSlot<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for CpuSlot<'_, T> {}

impl<'a, T> CpuSlot<'a, T> {
    /// The slot at `slot`, of `cpu`.
    ///
    /// # Safety
    ///
    /// `slot` is the slot of `cpu` of a per-CPU allocation of `T`s, holding a
    /// `T` that stays valid and pinned, and is only shared, for `'a`.
    #[inline]
    pub unsafe fn from_raw(slot: NonNull<T>, cpu: PossibleCpu) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            // SAFETY: valid and only shared for `'a`, as required above.
            slot: unsafe { slot.as_ref() },
            cpu,
        }
    }

    /// The CPU whose slot this is.
    #[inline]
    pub fn cpu(&self) -> PossibleCpu {
        self.cpu
    }

    /// The slot, pinned.
    #[inline]
    pub fn get(&self) -> Pin<&'a T> {
        // SAFETY: per-CPU memory never moves, and slots are dropped in place
        // (type invariant).
        unsafe { Pin::new_unchecked(self.slot) }
    }
}

impl<T> Deref for CpuSlot<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.slot
    }
}

/// A borrowed per-CPU `T`: a `T __percpu *` that something else owns.
///
/// C code owns most per-CPU objects (a scheduler's `sch->pcpu`, say); a
/// [`PerCpu`] whose pointer was handed to C with [`PerCpu::into_raw`] is
/// also seen through this type while C holds it.
///
/// # Examples
///
/// ```
/// use kernel::sync::atomic::{Atomic, Relaxed};
/// use scx_rs::sync::percpu::{possible_cpus, PerCpu, PerCpuRef, PreemptGuard};
///
/// let counters = PerCpu::new(GFP_KERNEL, |_cpu| Atomic::new(0u32))?;
/// let raw = counters.into_raw();
/// // SAFETY: `raw` is the pointer of a `PerCpu` whose slots stay
/// // initialised and only shared until it is taken back below.
/// let view = unsafe { PerCpuRef::<Atomic<u32>>::from_raw(raw) };
/// {
///     let pinned = PreemptGuard::new();
///     view.this_cpu(&pinned).add(1, Relaxed);
/// }
/// let sum: u32 = view.iter().map(|slot| slot.load(Relaxed)).sum();
/// assert_eq!(sum, 1);
/// assert_eq!(view.iter().count(), possible_cpus().count());
/// // SAFETY: `raw` came from `into_raw` and `view` is not used any more.
/// drop(unsafe { PerCpu::<Atomic<u32>>::from_raw(raw) });
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `ptr` is a per-CPU pointer, and for every possible CPU
/// `per_cpu_ptr(ptr, cpu)` points to an initialised, pinned `T` that stays
/// valid, and is only shared (never mutably borrowed), for `'a`.
pub struct PerCpuRef<'a, T> {
    ptr: NonNull<T>,
    _ref: PhantomData<&'a T>,
}

impl<T> Clone for PerCpuRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for PerCpuRef<'_, T> {}

// SAFETY: A `PerCpuRef` hands out `&T` only, like `&T`.
unsafe impl<T: Sync> Send for PerCpuRef<'_, T> {}

// SAFETY: As for `Send`.
unsafe impl<T: Sync> Sync for PerCpuRef<'_, T> {}

impl<'a, T> PerCpuRef<'a, T> {
    /// Borrows the per-CPU `T` at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a per-CPU pointer (as `alloc_percpu()` returns it, or the
    /// address of a static per-CPU variable) whose slot of every possible CPU
    /// holds an initialised `T` that stays valid and pinned, and is not
    /// mutably borrowed, for `'a`.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            ptr,
            _ref: PhantomData,
        }
    }

    /// The per-CPU pointer.
    #[inline]
    pub fn as_raw(self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The slot of `cpu`.
    #[inline]
    pub fn get(self, cpu: PossibleCpu) -> CpuSlot<'a, T> {
        // SAFETY: `per_cpu_ptr()` computes the address of a possible CPU's
        // slot from a per-CPU pointer, which `ptr` is (type invariant).
        let slot = unsafe { bindings::per_cpu_ptr(self.ptr.as_ptr().cast(), cpu.as_u32()) };
        // INVARIANT: `slot` is `cpu`'s slot, valid and pinned for `'a`.
        CpuSlot {
            // SAFETY: By the type invariants a possible CPU's slot holds a
            // `T` that is valid and only shared for `'a`.
            slot: unsafe { &*slot.cast::<T>() },
            cpu,
        }
    }

    /// The current CPU's `T`, for as long as the task is pinned to it: the
    /// slot of [`this_cpu`](Self::this_cpu) without its CPU number, which
    /// costs a read of `cpu_number` that `this_cpu_ptr()` itself does not
    /// need.
    ///
    /// The reference cannot outlive the proof that the task is pinned:
    ///
    /// ```compile_fail,E0515
    /// use kernel::sync::atomic::Atomic;
    /// use scx_rs::sync::percpu::{PerCpuRef, PreemptGuard};
    ///
    /// fn escape(view: PerCpuRef<'static, Atomic<u32>>) -> &'static Atomic<u32> {
    ///     let pinned = PreemptGuard::new();
    ///     view.this_cpu_ref(&pinned)
    /// }
    /// ```
    #[inline]
    pub fn this_cpu_ref<'p>(self, pinned: &'p impl CpuPinned) -> &'p T
    where
        'a: 'p,
    {
        let _ = pinned;
        // SAFETY: `this_cpu_ptr()` requires that the task cannot migrate
        // during the call, which `pinned` guarantees.
        let slot = unsafe { bindings::this_cpu_ptr(self.ptr.as_ptr().cast()) };
        // SAFETY: The current CPU is possible, so by the type invariants its
        // slot holds a `T` valid and only shared for `'a`, which outlives
        // `'p`.
        unsafe { &*slot.cast::<T>() }
    }

    /// The current CPU's slot, for as long as the task is pinned to it.
    #[inline]
    pub fn this_cpu<'p>(self, pinned: &'p impl CpuPinned) -> CpuSlot<'p, T>
    where
        'a: 'p,
    {
        let cpu = PossibleCpu::current(pinned);
        // SAFETY: `this_cpu_ptr()` requires that the task cannot migrate
        // during the call, which `pinned` guarantees.
        let slot = unsafe { bindings::this_cpu_ptr(self.ptr.as_ptr().cast()) };
        // INVARIANT: `slot` is the slot of the current CPU, `cpu`, for as
        // long as `pinned` is borrowed.
        CpuSlot {
            // SAFETY: The current CPU is possible, so by the type invariants
            // its slot holds a `T` valid and only shared for `'a`.
            slot: unsafe { &*slot.cast::<T>() },
            cpu,
        }
    }

    /// Every possible CPU's slot, in CPU order.
    #[inline]
    pub fn iter(self) -> impl Iterator<Item = CpuSlot<'a, T>> {
        possible_cpus().map(move |cpu| self.get(cpu))
    }
}

/// The protection of a field holding a per-CPU pointer (a
/// [`Field`](super::field::Field) of `*mut T`): set before the object can
/// be borrowed and not changed while it is, non-null, with an initialised
/// `T` in every possible CPU's slot that stays valid, pinned and only
/// shared for as long as the object is borrowed; [`Field::per_cpu`]
/// borrows it.
///
/// [`Field::per_cpu`]: super::field::Field::per_cpu
pub enum PerCpuShared {}

impl<O: CObject, T> Field<O, *mut T, PerCpuShared> {
    /// The per-CPU data the field points to, borrowed with `obj`.
    #[inline(always)]
    pub fn per_cpu(self, obj: &O) -> PerCpuRef<'_, T> {
        // SAFETY: the field of the live object holds a non-null per-CPU
        // pointer, constant while `obj` is borrowed, whose every possible
        // slot holds a `T` valid, pinned and only shared for as long
        // (`PerCpuShared`, type invariant of `Field`), as `from_raw`
        // requires.
        unsafe { PerCpuRef::from_raw(NonNull::new_unchecked(self.project(obj).read())) }
    }
}

/// The protection of a field holding a CPU id (a
/// [`Field`](super::field::Field) of `c_int`) that is the id of a possible
/// CPU, set before the object can be borrowed and not changed while it is
/// (`rq->cpu`, say); [`Field::get`] reads it as a [`PossibleCpu`].
///
/// [`Field::get`]: super::field::Field::get
pub enum PossibleCpuId {}

impl<O: CObject> Field<O, kernel::ffi::c_int, PossibleCpuId> {
    /// The CPU.
    #[inline(always)]
    pub fn get(self, obj: &O) -> PossibleCpu {
        // SAFETY: the field of the live object is an aligned `c_int`,
        // constant while `obj` is borrowed, holding a possible CPU's id
        // (`PossibleCpuId`, type invariant of `Field`), as
        // `from_i32_unchecked` requires.
        unsafe { PossibleCpu::from_i32_unchecked(self.project(obj).read()) }
    }
}

/// A dynamically allocated per-CPU `T`: one value for every possible CPU.
///
/// # Invariants
///
/// - `ptr` is a per-CPU address returned by `alloc_percpu()` for a `T`
///   (size and alignment of `T`, at least one byte), not yet freed;
/// - for every possible CPU, `per_cpu_ptr(ptr, cpu)` points to an
///   initialised, pinned `T` that is dropped only in [`Drop`].
pub struct PerCpu<T> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

// SAFETY: A `PerCpu<T>` owns its `T`s; sending it sends them.
unsafe impl<T: Send> Send for PerCpu<T> {}

// SAFETY: `&PerCpu<T>` gives out `&T` for any CPU's slot to any thread, so
// sharing it requires `T: Sync`.
unsafe impl<T: Sync> Sync for PerCpu<T> {}

impl<T> PerCpu<T> {
    /// Allocates a per-CPU `T` and moves `init(cpu)` into every possible CPU's slot.
    pub fn new(flags: Flags, mut init: impl FnMut(PossibleCpu) -> T) -> Result<Self, AllocError> {
        Self::try_pin_init(flags, |cpu| super::init_value(init(cpu)))
    }

    /// Allocates a per-CPU `T` and initialises every possible CPU's slot in
    /// place with the initialiser `init(cpu)` returns.
    ///
    /// As [`PerCpu::try_pin_init`], with the error converted to [`Error`].
    pub fn pin_init<I, E>(flags: Flags, mut init: impl FnMut(PossibleCpu) -> I) -> Result<Self>
    where
        I: PinInit<T, E>,
        Error: From<E>,
    {
        Self::try_pin_init(flags, |cpu| {
            let slot_init = init(cpu);
            // SAFETY: Our caller gives `slot` what `raw_try_init` needs (valid,
            // uninitialised, pinned); it leaves `slot` initialised on `Ok` and
            // clean on `Err`, as `pin_init_from_closure` requires.
            unsafe {
                pin_init::pin_init_from_closure(move |slot: *mut T| {
                    pin_init::raw_try_init(slot, slot_init).map_err(Error::from)
                })
            }
        })
    }

    /// Allocates a per-CPU `T` and initialises every possible CPU's slot in
    /// place with the initialiser `init(cpu)` returns.
    ///
    /// CPUs are initialised in increasing order. If the allocation fails,
    /// the error is [`AllocError`] (converted to `E`); if the initialiser of
    /// some CPU fails, the slots already initialised are dropped, the
    /// allocation is freed and that error is returned. Nothing leaks.
    pub fn try_pin_init<I, E>(
        flags: Flags,
        mut init: impl FnMut(PossibleCpu) -> I,
    ) -> Result<Self, E>
    where
        I: PinInit<T, E>,
        E: From<AllocError>,
    {
        const {
            assert!(
                core::mem::size_of::<T>() <= PCPU_MIN_UNIT_SIZE,
                "too large for alloc_percpu()"
            );
            assert!(
                core::mem::align_of::<T>() <= 4096,
                "alignment too large for alloc_percpu()"
            );
        }
        let ptr = alloc::<T>(flags)?;
        for cpu in possible_cpus() {
            let slot = slot_ptr(ptr, cpu);
            // SAFETY: `slot` lies in the allocation made for `T` above and is
            // uninitialised; it is pinned, as per-CPU memory never moves and
            // the slot is dropped (in `Drop`, or below) before it is freed.
            if let Err(e) = unsafe { pin_init::raw_try_init(slot, init(cpu)) } {
                for done in possible_cpus().take_while(|&c| c != cpu) {
                    // SAFETY: The slots of the CPUs before `cpu` were
                    // initialised above, in the same order, and are dropped
                    // once.
                    unsafe { core::ptr::drop_in_place(slot_ptr(ptr, done)) };
                }
                // SAFETY: `ptr` came from `alloc_percpu()` and its slots
                // hold no initialised values any more.
                unsafe { bindings::free_percpu(ptr.as_ptr().cast()) };
                return Err(e);
            }
        }
        // INVARIANT: `ptr` was allocated for a `T` and every possible CPU's
        // slot was initialised above.
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// The borrowed view of the slots.
    #[inline]
    pub fn as_ref(&self) -> PerCpuRef<'_, T> {
        // SAFETY: By the type invariants every possible CPU's slot holds an
        // initialised, pinned `T`, dropped only when `self` is, and `self`
        // hands out shared references only.
        unsafe { PerCpuRef::from_raw(self.ptr) }
    }

    /// The slot of `cpu`.
    #[inline]
    pub fn get(&self, cpu: PossibleCpu) -> CpuSlot<'_, T> {
        self.as_ref().get(cpu)
    }

    /// The current CPU's slot, for as long as the task is pinned to it.
    #[inline]
    pub fn this_cpu<'a>(&'a self, pinned: &'a impl CpuPinned) -> CpuSlot<'a, T> {
        self.as_ref().this_cpu(pinned)
    }

    /// Every possible CPU's slot, in CPU order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = CpuSlot<'_, T>> {
        self.as_ref().iter()
    }

    /// Gives up ownership and returns the per-CPU pointer, as
    /// `alloc_percpu()` returned it, for C code to keep.
    ///
    /// The pointer is a per-CPU address: it is not dereferenceable itself,
    /// only through `per_cpu_ptr()`. [`PerCpuRef::from_raw`] borrows it while
    /// C holds it and [`PerCpu::from_raw`] takes it back.
    pub fn into_raw(self) -> NonNull<T> {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }

    /// Takes back the ownership [`PerCpu::into_raw`] gave up.
    ///
    /// # Safety
    ///
    /// `ptr` must have been returned by [`PerCpu::into_raw`] for a
    /// `PerCpu<T>` and not taken back since, every possible CPU's slot must
    /// still hold a valid `T`, and no reference to a slot may remain.
    pub unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        // INVARIANT: by the safety requirements, `ptr` is the allocation of a
        // `PerCpu<T>` whose slots hold valid, pinned `T`s, owned again here.
        Self {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for PerCpu<T> {
    fn drop(&mut self) {
        for cpu in possible_cpus() {
            // SAFETY: By the type invariants every possible CPU's slot holds
            // an initialised `T`; it is dropped once, here.
            unsafe { core::ptr::drop_in_place(slot_ptr(self.ptr, cpu)) };
        }
        // SAFETY: `ptr` came from `alloc_percpu()` and is freed once, after
        // every slot's contents were dropped.
        unsafe { bindings::free_percpu(self.ptr.as_ptr().cast()) };
    }
}

/// The address of `cpu`'s slot of the per-CPU allocation `ptr`.
#[inline]
fn slot_ptr<T>(ptr: NonNull<T>, cpu: PossibleCpu) -> *mut T {
    // SAFETY: `per_cpu_ptr()` only computes an address from a per-CPU
    // pointer and a possible CPU.
    unsafe { bindings::per_cpu_ptr(ptr.as_ptr().cast(), cpu.as_u32()) }.cast()
}

/// `alloc_percpu_gfp()` for a `T`, with the test-only failure hook.
fn alloc<T>(flags: Flags) -> Result<NonNull<T>, AllocError> {
    #[cfg(CONFIG_KUNIT)]
    if fault::should_fail() {
        return Err(AllocError);
    }
    let size = core::mem::size_of::<T>().max(1);
    let align = core::mem::align_of::<T>();
    // SAFETY: `size` is non-zero and at most `PCPU_MIN_UNIT_SIZE`, `align`
    // is a power of two no larger than a page (checked in `try_pin_init`),
    // as `__alloc_percpu_gfp()` requires.
    let ptr = unsafe { bindings::scx_rs_alloc_percpu(size, align, flags.as_raw()) };
    NonNull::new(ptr.cast()).ok_or(AllocError)
}

/// Fault injection for the tests: make the next per-CPU allocations fail.
///
/// The per-CPU allocator has no fault-injection knob of its own (failslab
/// and fail_page_alloc reach it only when it needs a new chunk), so KUnit
/// builds have this hook in front of it.
#[cfg(CONFIG_KUNIT)]
pub mod fault {
    use kernel::sync::atomic::{Atomic, Relaxed};

    static FAIL_AFTER: Atomic<i32> = Atomic::new(-1);

    /// Makes the allocation after the next `skip` ones fail; `-1` disarms.
    pub fn fail_after(skip: i32) {
        FAIL_AFTER.store(skip, Relaxed);
    }

    pub(super) fn should_fail() -> bool {
        let mut cur = FAIL_AFTER.load(Relaxed);
        while cur >= 0 {
            match FAIL_AFTER.cmpxchg(cur, cur - 1, Relaxed) {
                Ok(_) => return cur == 0,
                Err(now) => cur = now,
            }
        }
        false
    }
}

/// A slot of a [`PerCpuOwner`]: the per-CPU data and a pointer to its owner.
///
/// # Invariants
///
/// `owner` points to the pinned [`PerCpuOwner`] whose per-CPU allocation
/// holds this slot.
#[pin_data]
pub struct PerCpuSlot<H, T> {
    owner: NonNull<PerCpuOwner<H, T>>,
    #[pin]
    data: T,
}

// SAFETY: A slot holds a `T` and a pointer through which only the owner's
// head is reached, as `&H`.
unsafe impl<H: Sync, T: Send> Send for PerCpuSlot<H, T> {}

// SAFETY: Through `&PerCpuSlot` other threads reach only `&T` and `&H`.
unsafe impl<H: Sync, T: Sync> Sync for PerCpuSlot<H, T> {}

impl<H, T> PerCpuSlot<H, T> {
    /// The head of the owner of this slot.
    ///
    /// Valid also while the slot is being dropped: the owner drops its slots
    /// before its head.
    #[inline]
    pub fn head(&self) -> Pin<&H> {
        let owner = self.owner.as_ptr();
        // SAFETY: By the type invariant `owner` points to the pinned owner of
        // this slot, whose `head` lives until after every slot is dropped (it
        // is declared after `pcpu`). Only the `head` field is borrowed, not
        // the owner, part of which (`pcpu`) may be being dropped; `head` is
        // structurally pinned.
        unsafe { Pin::new_unchecked(&(*owner).head) }
    }

    /// The per-CPU data.
    #[inline]
    pub fn data(self: Pin<&Self>) -> Pin<&T> {
        // SAFETY: `data` is structurally pinned.
        unsafe { self.map_unchecked(|s| &s.data) }
    }
}

impl<H, T> core::ops::Deref for PerCpuSlot<H, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

/// An object made of a head `H` and per-CPU data `T` whose slots point back to it.
///
/// This is the shape of a sched_ext DSQ: the queue (head) owns per-CPU
/// state, and each CPU's state, found from a per-CPU list, must lead back to
/// its queue. The owner is pinned (it is initialised in place and is
/// `!Unpin`, as the slots point to it); slots are initialised for every
/// possible CPU with a back-pointer to it, and dropping the owner drops
/// every slot and then the head, so a slot's drop may still use the head.
///
/// # Examples
///
/// ```
/// use kernel::sync::atomic::{Atomic, Relaxed};
/// use scx_rs::sync::percpu::PerCpuOwner;
///
/// let q = KBox::pin_init(
///     PerCpuOwner::new(GFP_KERNEL, 42u64, |_cpu| Atomic::new(0u32)),
///     GFP_KERNEL,
/// )?;
/// for slot in q.slots() {
///     assert_eq!(*slot.head(), 42);
/// }
/// # Ok::<(), Error>(())
/// ```
///
/// The slots point to the owner, so it cannot be moved out of its pin:
///
/// ```compile_fail,E0277
/// use scx_rs::sync::percpu::PerCpuOwner;
///
/// let q = KBox::pin_init(PerCpuOwner::new(GFP_KERNEL, 1u8, |_| 0u8), GFP_KERNEL)?;
/// let moved = *core::pin::Pin::into_inner(q);
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct PerCpuOwner<H, T> {
    // Declared before `head`: fields drop in declaration order, and a
    // slot's drop may use the head.
    pcpu: PerCpu<PerCpuSlot<H, T>>,
    #[pin]
    head: H,
    #[pin]
    _pin: PhantomPinned,
}

impl<H, T> PerCpuOwner<H, T> {
    /// An initialiser of the owner with head `head` and slot data `init(cpu)`.
    pub fn new(
        flags: Flags,
        head: H,
        mut init: impl FnMut(PossibleCpu) -> T,
    ) -> impl PinInit<Self, Error> {
        Self::pin_init(flags, super::init_value(head), move |cpu| {
            super::init_value(init(cpu))
        })
    }

    /// An initialiser of the owner with head `head` and slots initialised in
    /// place by `init(cpu)`; errors unwind as in [`PerCpu::pin_init`].
    pub fn pin_init<I>(
        flags: Flags,
        head: impl PinInit<H, Error>,
        init: impl FnMut(PossibleCpu) -> I,
    ) -> impl PinInit<Self, Error>
    where
        I: PinInit<T, Error>,
    {
        let mut init = init;
        // The head first: if the per-CPU data cannot be made, the head is
        // dropped again.
        try_pin_init!(&this in Self {
            head <- head,
            pcpu: PerCpu::try_pin_init(flags, |cpu| {
                let data = init(cpu);
                // INVARIANT: `this` is the address of the pinned owner being
                // initialised, whose `pcpu` field will hold these slots.
                try_pin_init!(PerCpuSlot {
                    owner: this,
                    data <- data,
                }? Error)
            })?,
            _pin: PhantomPinned,
        }? Error)
    }

    /// The head.
    #[inline]
    pub fn head(self: Pin<&Self>) -> Pin<&H> {
        // SAFETY: `head` is structurally pinned.
        unsafe { self.map_unchecked(|s| &s.head) }
    }

    /// The slot of `cpu`.
    #[inline]
    pub fn slot(&self, cpu: PossibleCpu) -> CpuSlot<'_, PerCpuSlot<H, T>> {
        self.pcpu.get(cpu)
    }

    /// The current CPU's slot.
    #[inline]
    pub fn this_cpu_slot<'a>(
        &'a self,
        pinned: &'a impl CpuPinned,
    ) -> CpuSlot<'a, PerCpuSlot<H, T>> {
        self.pcpu.this_cpu(pinned)
    }

    /// Every possible CPU's slot.
    pub fn slots(&self) -> impl Iterator<Item = CpuSlot<'_, PerCpuSlot<H, T>>> {
        self.pcpu.iter()
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kunit_tests(scx_rs_percpu)]
mod tests {
    use super::*;
    use crate::sync::{
        cpu_online,
        irq_work::{IrqWork, IrqWorkFn, IrqWorkKind},
    };
    use kernel::sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    };

    /// Counts its drops in a counter shared by a test.
    struct Counted<'a>(&'a Atomic<u32>);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.add(1, Relaxed);
        }
    }

    #[test]
    fn possible_cpus_are_counted() {
        let n = possible_cpus().count() as u32;
        assert_eq!(n, num_possible_cpus());
        assert!(n >= 1);
        let mut last = None;
        for cpu in possible_cpus() {
            assert!(last.is_none_or(|l: PossibleCpu| l < cpu));
            last = Some(cpu);
        }
    }

    /// `PossibleCpu::new` accepts exactly the ids of `cpu_possible_mask`,
    /// not every id below `nr_cpu_ids`.
    #[test]
    fn possible_cpu_checks_the_mask() {
        let mut checked = 0;
        for id in 0..u32::MAX {
            let Some(cpu) = CpuId::from_u32(id) else {
                break;
            };
            let listed = possible_cpus().any(|p| p.id() == cpu);
            assert_eq!(PossibleCpu::new(cpu).is_some(), listed);
            checked += 1;
        }
        assert!(checked >= num_possible_cpus());
        assert!(PossibleCpu::from_i32(-1).is_none());
        assert!(PossibleCpu::from_i32(i32::MIN).is_none());
        assert!(PossibleCpu::from_i32(i32::MAX).is_none());
        assert!(PossibleCpu::from_u32(u32::MAX).is_none());
        assert!(PossibleCpu::from_u32(nr_cpu_ids()).is_none());
        assert!(PossibleCpu::from_u32(checked).is_none());
        let g = PreemptGuard::new();
        assert_eq!(PossibleCpu::current(&g).id(), CpuId::current());
    }

    #[test]
    fn contents_dropped_once() -> Result {
        let drops = Atomic::new(0u32);
        let pcpu = PerCpu::new(GFP_KERNEL, |_| Counted(&drops))?;
        assert_eq!(pcpu.iter().count() as u32, num_possible_cpus());
        assert_eq!(drops.load(Relaxed), 0);
        drop(pcpu);
        assert_eq!(drops.load(Relaxed), num_possible_cpus());
        Ok(())
    }

    #[test]
    fn failed_slot_init_unwinds() {
        let drops = Atomic::new(0u32);
        let calls = Atomic::new(0u32);
        let second = possible_cpus().nth(1);
        let res = PerCpu::pin_init(GFP_KERNEL, |cpu| {
            calls.add(1, Relaxed);
            let value = Counted(&drops);
            let fail = Some(cpu) == second || second.is_none();
            // SAFETY: As `pin_init_from_closure` requires, the closure returns
            // `Ok` only after writing a whole value and `Err` without touching
            // `slot`.
            unsafe {
                pin_init::pin_init_from_closure(move |slot: *mut Counted<'_>| {
                    if fail {
                        // Dropped here: it never became a slot's value.
                        drop(value);
                        return Err(ENOMEM);
                    }
                    slot.write(value);
                    Ok(())
                })
            }
        });
        assert!(matches!(res, Err(e) if e == ENOMEM));
        // Every value made was dropped exactly once: the one that failed and
        // the slots initialised before it.
        assert_eq!(drops.load(Relaxed), calls.load(Relaxed));
        let expected_calls = if second.is_some() { 2 } else { 1 };
        assert_eq!(calls.load(Relaxed), expected_calls);
    }

    #[test]
    fn raw_round_trip_keeps_slots() -> Result {
        let drops = Atomic::new(0u32);
        let pcpu = PerCpu::new(GFP_KERNEL, |cpu| (cpu.as_u32(), Counted(&drops)))?;
        let raw = pcpu.into_raw();
        // Given up: nothing is dropped.
        assert_eq!(drops.load(Relaxed), 0);
        // SAFETY: `raw` comes from `into_raw`; its slots are valid and only
        // shared until `back` takes them back below.
        let borrowed = unsafe { PerCpuRef::from_raw(raw) };
        for slot in borrowed.iter() {
            assert_eq!(slot.0, slot.cpu().as_u32());
        }
        // SAFETY: `raw` comes from `into_raw` and is taken back once; the
        // borrowed view is not used any more.
        let back = unsafe { PerCpu::<(u32, Counted<'_>)>::from_raw(raw) };
        for slot in back.iter() {
            assert_eq!(slot.0, slot.cpu().as_u32());
        }
        drop(back);
        assert_eq!(drops.load(Relaxed), num_possible_cpus());
        Ok(())
    }

    #[test]
    fn injected_alloc_failure() {
        let calls = Atomic::new(0u32);
        fault::fail_after(0);
        let res = PerCpu::new(GFP_KERNEL, |_| calls.add(1, Relaxed));
        assert!(res.is_err());
        assert_eq!(calls.load(Relaxed), 0);
        // One-shot: the next allocation succeeds.
        assert!(PerCpu::new(GFP_KERNEL, |_| 0u8).is_ok());
    }

    #[test]
    fn slots_know_their_cpu() -> Result {
        let pcpu = PerCpu::new(GFP_KERNEL, |cpu| cpu.as_u32())?;
        for slot in pcpu.iter() {
            assert_eq!(*slot, slot.cpu().as_u32());
            assert!(core::ptr::eq(&*slot, &*pcpu.get(slot.cpu())));
        }
        let g = PreemptGuard::new();
        let here = pcpu.this_cpu(&g);
        assert_eq!(here.cpu(), PossibleCpu::current(&g));
        assert_eq!(*here, here.cpu().as_u32());
        assert!(core::ptr::eq(&*here, &*pcpu.get(here.cpu())));
        assert!(core::ptr::eq(pcpu.as_ref().this_cpu_ref(&g), &*here));
        Ok(())
    }

    /// Bumps the current CPU's counter from an irq_work.
    struct Bumper {
        counters: Arc<PerCpu<Atomic<u64>>>,
        ran_on: Atomic<i32>,
    }

    impl IrqWorkFn for Bumper {
        fn run(work: Pin<&IrqWork<Self>>) {
            let g = PreemptGuard::new();
            work.counters.this_cpu(&g).add(1, Relaxed);
            work.ran_on
                .store(PossibleCpu::current(&g).as_u32() as i32, Relaxed);
        }
    }

    #[test]
    fn slots_written_on_every_cpu() -> Result {
        let counters = Arc::new(PerCpu::new(GFP_KERNEL, |_| Atomic::new(0u64))?, GFP_KERNEL)?;
        let works = PerCpu::pin_init(GFP_KERNEL, |_| {
            IrqWork::new(
                IrqWorkKind::Hard,
                Bumper {
                    counters: counters.clone(),
                    ran_on: Atomic::new(-1),
                },
            )
        })?;
        let mut online = 0;
        for w in works.iter() {
            if cpu_online(w.cpu().id()) {
                assert!(w.get().queue_on(w.cpu()));
                online += 1;
            }
        }
        for w in works.iter() {
            w.sync();
        }
        for w in works.iter() {
            let expect = u64::from(cpu_online(w.cpu().id()));
            assert_eq!(counters.get(w.cpu()).load(Relaxed), expect);
            if expect == 1 {
                assert_eq!(w.ran_on.load(Relaxed), w.cpu().as_u32() as i32);
            }
        }
        let total: u64 = counters.iter().map(|c| c.load(Relaxed)).sum();
        assert_eq!(total, online);
        Ok(())
    }

    /// The order in which `Head`s and `Tail`s of a test were dropped.
    struct DropLog {
        next: Atomic<u32>,
        head_at: Atomic<u32>,
        /// The head's tag as each slot saw it in its drop (0: not dropped).
        slot_saw: Atomic<u32>,
        slots_after_head: Atomic<u32>,
    }

    impl DropLog {
        const fn new() -> Self {
            Self {
                next: Atomic::new(0),
                head_at: Atomic::new(u32::MAX),
                slot_saw: Atomic::new(0),
                slots_after_head: Atomic::new(0),
            }
        }
    }

    struct Head<'a> {
        tag: u32,
        log: &'a DropLog,
    }

    impl Drop for Head<'_> {
        fn drop(&mut self) {
            let at = self.log.next.fetch_add(1, Relaxed);
            self.log.head_at.store(at, Relaxed);
            // Poison: a slot dropped after this sees it.
            self.tag = 0;
        }
    }

    /// Slot data that records, when dropped, what it sees of its head.
    struct Tail<'a> {
        log: &'a DropLog,
        /// The head, as `PerCpuSlot::head` gave it, once set.
        seen_head: core::cell::Cell<*const Head<'a>>,
    }

    impl<'a> Tail<'a> {
        fn new(log: &'a DropLog) -> Self {
            Self {
                log,
                seen_head: core::cell::Cell::new(core::ptr::null()),
            }
        }
    }

    impl Drop for Tail<'_> {
        fn drop(&mut self) {
            self.log.next.fetch_add(1, Relaxed);
            if self.log.head_at.load(Relaxed) != u32::MAX {
                self.log.slots_after_head.add(1, Relaxed);
            }
            let head = self.seen_head.get();
            if !head.is_null() {
                // SAFETY: `head` is the head of the owner being dropped, which
                // (the property tested) is still alive while its slots drop.
                self.log.slot_saw.store(unsafe { (*head).tag }, Relaxed);
            }
        }
    }

    #[test]
    fn owner_back_pointers() -> Result {
        let log = DropLog::new();
        let owner = KBox::pin_init(
            PerCpuOwner::new(GFP_KERNEL, Head { tag: 7, log: &log }, |cpu| {
                (cpu.as_u32(), Tail::new(&log))
            }),
            GFP_KERNEL,
        )?;
        for slot in owner.slots() {
            assert_eq!(slot.head().tag, 7);
            assert_eq!(slot.0, slot.cpu().as_u32());
        }
        {
            let g = PreemptGuard::new();
            let here = owner.this_cpu_slot(&g);
            assert_eq!(here.0, PossibleCpu::current(&g).as_u32());
        }
        assert_eq!(owner.as_ref().head().tag, 7);
        drop(owner);
        // Every slot, then the head.
        assert_eq!(log.next.load(Relaxed), num_possible_cpus() + 1);
        assert_eq!(log.head_at.load(Relaxed), num_possible_cpus());
        assert_eq!(log.slots_after_head.load(Relaxed), 0);
        Ok(())
    }

    /// A slot's drop reads the head through its back-pointer: the head must
    /// still be alive, which it is only if the slots drop first.
    #[test]
    fn slots_drop_before_head() -> Result {
        let log = DropLog::new();
        let owner = KBox::pin_init(
            PerCpuOwner::pin_init(
                GFP_KERNEL,
                crate::sync::init_value(Head { tag: 9, log: &log }),
                |_cpu| crate::sync::init_value(Tail::new(&log)),
            ),
            GFP_KERNEL,
        )?;
        for slot in owner.slots() {
            slot.seen_head.set(&*slot.head());
        }
        drop(owner);
        assert_eq!(log.slot_saw.load(Relaxed), 9);
        assert_eq!(log.head_at.load(Relaxed), num_possible_cpus());
        Ok(())
    }

    #[test]
    fn owner_alloc_failure_drops_head() {
        let log = DropLog::new();
        fault::fail_after(0);
        let res = KBox::pin_init(
            PerCpuOwner::new(GFP_KERNEL, Head { tag: 1, log: &log }, |_| 0u8),
            GFP_KERNEL,
        );
        assert!(res.is_err());
        assert_eq!(log.head_at.load(Relaxed), 0);
    }
}
