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
//! Access is shared (`Pin<&T>`), so mutation goes through interior
//! mutability (atomics, locks) chosen by `T`:
//!
//! - any CPU's slot by id: [`PerCpu::get`];
//! - the current CPU's slot: [`PerCpu::this_cpu`], which takes a
//!   [`CpuPinned`] proof (a [`PreemptGuard`] or a
//!   [`LocalInterruptDisabled`](kernel::interrupt::LocalInterruptDisabled))
//!   whose lifetime bounds the returned reference, so "this CPU" cannot go
//!   stale while it is used;
//! - every possible CPU: [`PerCpu::iter`].
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
//! use kernel::{cpu::CpuId, sync::atomic::{Atomic, Relaxed}};
//! use scx_rs::sync::percpu::{PerCpu, PreemptGuard};
//!
//! let hits = PerCpu::new(GFP_KERNEL, |_cpu: CpuId| Atomic::new(0u64))?;
//! {
//!     let guard = PreemptGuard::new();
//!     hits.this_cpu(&guard).add(1, Relaxed);
//! }
//! let total: u64 = hits.iter().map(|(_, h)| h.load(Relaxed)).sum();
//! assert_eq!(total, 1);
//! # Ok::<(), Error>(())
//! ```

use crate::bindings;
use core::{marker::PhantomData, pin::Pin, ptr::NonNull};
use kernel::{
    alloc::{AllocError, Flags},
    cpu::CpuId,
    interrupt::LocalInterruptDisabled,
    prelude::*,
    types::NotThreadSafe,
};

/// The largest per-CPU allocation `alloc_percpu()` accepts (`PCPU_MIN_UNIT_SIZE`).
const PCPU_MIN_UNIT_SIZE: usize = 32 << 10;

/// Proof that the current task stays on its CPU while the proof is borrowed.
///
/// # Safety
///
/// While a value of an implementing type exists, the task that holds it must
/// not migrate to another CPU: preemption (or interrupts, which implies it)
/// must be disabled, and the value must not be sent to another task.
pub unsafe trait CpuPinned {
    /// The CPU the current task is pinned to.
    fn cpu(&self) -> CpuId {
        // SAFETY: `smp_processor_id()` requires that the task cannot migrate,
        // which the implementer guarantees while `self` exists.
        let cpu = unsafe { bindings::scx_rs_smp_processor_id() };
        // SAFETY: `smp_processor_id()` returns an online, hence valid, CPU id.
        unsafe { CpuId::from_u32_unchecked(cpu) }
    }
}

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
        unsafe { bindings::scx_rs_preempt_disable() };
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
        unsafe { bindings::scx_rs_preempt_enable() };
    }
}

// SAFETY: By its invariant, preemption is disabled while a `PreemptGuard`
// exists and the guard cannot leave its task.
unsafe impl CpuPinned for PreemptGuard {}

// SAFETY: `LocalInterruptDisabled` keeps local interrupts disabled on
// preemptible kernels while it exists, which also keeps the task on its
// CPU, and it is not `Send`. On non-preemptible kernels a task migrates
// only when it sleeps, which code holding the token must not do (it stands
// for an atomic context).
unsafe impl CpuPinned for LocalInterruptDisabled {}

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
    type Item = CpuId;

    fn next(&mut self) -> Option<CpuId> {
        // SAFETY: `cpumask_next()` on `cpu_possible_mask` accepts any
        // `n >= -1` and only reads the mask.
        let cpu = unsafe { bindings::scx_rs_next_possible_cpu(self.next) };
        // `cpumask_next()` returns `nr_cpu_ids` (or more) past the last CPU;
        // `from_u32` returns `None` for those.
        let cpu = CpuId::from_u32(cpu)?;
        self.next = cpu.as_u32() as i32;
        Some(cpu)
    }
}

/// The number of possible CPUs (`num_possible_cpus()`).
pub fn num_possible_cpus() -> u32 {
    // SAFETY: `num_possible_cpus()` only reads `cpu_possible_mask`.
    unsafe { bindings::scx_rs_num_possible_cpus() }
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
    pub fn new(flags: Flags, mut init: impl FnMut(CpuId) -> T) -> Result<Self, AllocError> {
        Self::try_pin_init(flags, |cpu| super::init_value(init(cpu)))
    }

    /// Allocates a per-CPU `T` and initialises every possible CPU's slot in
    /// place with the initialiser `init(cpu)` returns.
    ///
    /// As [`PerCpu::try_pin_init`], with the error converted to [`Error`].
    pub fn pin_init<I, E>(flags: Flags, mut init: impl FnMut(CpuId) -> I) -> Result<Self>
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
    pub fn try_pin_init<I, E>(flags: Flags, mut init: impl FnMut(CpuId) -> I) -> Result<Self, E>
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

    /// Returns the slot of `cpu`.
    #[inline]
    pub fn get(&self, cpu: CpuId) -> Pin<&T> {
        // SAFETY: By the type invariants the slot of every possible CPU, and
        // `CpuId` is below `nr_cpu_ids`, holds an initialised `T` that stays
        // pinned and alive while `self` is borrowed.
        unsafe { Pin::new_unchecked(&*slot_ptr(self.ptr, cpu)) }
    }

    /// Returns the current CPU's slot, for as long as the task is pinned to it.
    #[inline]
    pub fn this_cpu<'a>(&'a self, _pinned: &'a impl CpuPinned) -> Pin<&'a T> {
        // SAFETY: `this_cpu_ptr()` requires that the task cannot migrate
        // during the call, which `_pinned` guarantees.
        let slot = unsafe { bindings::scx_rs_this_cpu_ptr(self.ptr.as_ptr().cast()) };
        // SAFETY: The current CPU is online, hence possible, so by the type
        // invariants its slot holds an initialised, pinned `T`, alive while
        // `self` is borrowed.
        unsafe { Pin::new_unchecked(&*slot.cast::<T>()) }
    }

    /// Returns an iterator over every possible CPU and its slot.
    pub fn iter(&self) -> impl Iterator<Item = (CpuId, Pin<&T>)> + '_ {
        possible_cpus().map(move |cpu| (cpu, self.get(cpu)))
    }

    /// Gives up ownership and returns the per-CPU pointer, as
    /// `alloc_percpu()` returned it, for C code to keep.
    ///
    /// The pointer is a per-CPU address: it is not dereferenceable itself,
    /// only through `per_cpu_ptr()`. [`PerCpu::from_raw`] takes it back.
    pub fn into_raw(self) -> *mut T {
        let ptr = self.ptr.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// Takes back the ownership [`PerCpu::into_raw`] gave up.
    ///
    /// # Safety
    ///
    /// `ptr` must have been returned by [`PerCpu::into_raw`] for a
    /// `PerCpu<T>` and not taken back since, and every possible CPU's slot
    /// must still hold a valid `T`.
    pub unsafe fn from_raw(ptr: *mut T) -> Self {
        // INVARIANT: by the safety requirements, `ptr` is the non-null
        // allocation of a `PerCpu<T>` whose slots hold valid, pinned `T`s.
        Self {
            // SAFETY: `into_raw` returned the non-null pointer of a `PerCpu`.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
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
fn slot_ptr<T>(ptr: NonNull<T>, cpu: CpuId) -> *mut T {
    // SAFETY: `per_cpu_ptr()` only computes an address from a per-CPU
    // pointer and a CPU id below `nr_cpu_ids`, which `CpuId` guarantees.
    unsafe { bindings::scx_rs_per_cpu_ptr(ptr.as_ptr().cast(), cpu.as_u32()) }.cast()
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
    // is a power of two no larger than a page (checked in `pin_init`), as
    // `__alloc_percpu_gfp()` requires.
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

// SAFETY: A slot holds a `T` and a shared pointer to its owner, whose head
// and slots it gives out as shared references.
unsafe impl<H: Sync, T: Send + Sync> Send for PerCpuSlot<H, T> {}

// SAFETY: As for `Send`: through `&PerCpuSlot` other threads reach only
// `&T` and `&PerCpuOwner`, which is `Sync` under these bounds.
unsafe impl<H: Sync, T: Sync> Sync for PerCpuSlot<H, T> {}

impl<H, T> PerCpuSlot<H, T> {
    /// The owner of this slot.
    #[inline]
    pub fn owner(&self) -> Pin<&PerCpuOwner<H, T>> {
        // SAFETY: By the type invariant `owner` points to the pinned owner
        // of this slot; the slot lives inside the owner's allocation, so the
        // owner outlives every borrow of the slot.
        unsafe { Pin::new_unchecked(self.owner.as_ref()) }
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
/// its queue. The owner must be pinned (it is initialised in place); slots
/// are initialised for every possible CPU with a back-pointer to it, and
/// dropping the owner drops every slot and then the head.
///
/// # Examples
///
/// ```
/// use kernel::{cpu::CpuId, sync::atomic::{Atomic, Relaxed}};
/// use scx_rs::sync::percpu::PerCpuOwner;
///
/// let q = KBox::pin_init(
///     PerCpuOwner::new(GFP_KERNEL, 42u64, |_cpu: CpuId| Atomic::new(0u32)),
///     GFP_KERNEL,
/// )?;
/// for (_cpu, slot) in q.slots() {
///     assert_eq!(*slot.owner().head(), 42);
/// }
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct PerCpuOwner<H, T> {
    #[pin]
    head: H,
    pcpu: PerCpu<PerCpuSlot<H, T>>,
}

impl<H, T> PerCpuOwner<H, T> {
    /// An initialiser of the owner with head `head` and slot data `init(cpu)`.
    pub fn new(
        flags: Flags,
        head: H,
        mut init: impl FnMut(CpuId) -> T,
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
        init: impl FnMut(CpuId) -> I,
    ) -> impl PinInit<Self, Error>
    where
        I: PinInit<T, Error>,
    {
        let mut init = init;
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
    pub fn slot(&self, cpu: CpuId) -> Pin<&PerCpuSlot<H, T>> {
        self.pcpu.get(cpu)
    }

    /// The current CPU's slot.
    #[inline]
    pub fn this_cpu_slot<'a>(&'a self, pinned: &'a impl CpuPinned) -> Pin<&'a PerCpuSlot<H, T>> {
        self.pcpu.this_cpu(pinned)
    }

    /// Every possible CPU and its slot.
    pub fn slots(&self) -> impl Iterator<Item = (CpuId, Pin<&PerCpuSlot<H, T>>)> + '_ {
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
    use kernel::sync::atomic::{Atomic, Relaxed};

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
            assert!(last.is_none_or(|l: CpuId| l.as_u32() < cpu.as_u32()));
            last = Some(cpu);
        }
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
        // SAFETY: `raw` comes from `into_raw` and is taken back once.
        let back = unsafe { PerCpu::<(u32, Counted<'_>)>::from_raw(raw) };
        for (cpu, v) in back.iter() {
            assert_eq!(v.0, cpu.as_u32());
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
    fn this_cpu_is_the_pinned_cpu() -> Result {
        let pcpu = PerCpu::new(GFP_KERNEL, |cpu| cpu.as_u32())?;
        for (cpu, v) in pcpu.iter() {
            assert_eq!(*v, cpu.as_u32());
        }
        let g = PreemptGuard::new();
        assert_eq!(*pcpu.this_cpu(&g), g.cpu().as_u32());
        assert!(core::ptr::eq(&*pcpu.this_cpu(&g), &*pcpu.get(g.cpu())));
        Ok(())
    }

    /// Bumps the current CPU's counter from an irq_work.
    struct Bumper<'a> {
        counters: &'a PerCpu<Atomic<u64>>,
        ran_on: Atomic<i32>,
    }

    impl IrqWorkFn for Bumper<'_> {
        fn run(work: Pin<&IrqWork<Self>>) {
            let g = PreemptGuard::new();
            work.counters.this_cpu(&g).add(1, Relaxed);
            work.ran_on.store(g.cpu().as_u32() as i32, Relaxed);
        }
    }

    #[test]
    fn slots_written_on_every_cpu() -> Result {
        let counters = PerCpu::new(GFP_KERNEL, |_| Atomic::new(0u64))?;
        let works = PerCpu::pin_init(GFP_KERNEL, |_| {
            IrqWork::new(
                IrqWorkKind::Hard,
                Bumper {
                    counters: &counters,
                    ran_on: Atomic::new(-1),
                },
            )
        })?;
        let mut online = 0;
        for (cpu, w) in works.iter() {
            if cpu_online(cpu) {
                assert!(w.queue_on(cpu));
                online += 1;
            }
        }
        for (_, w) in works.iter() {
            w.sync();
        }
        for (cpu, w) in works.iter() {
            let expect = u64::from(cpu_online(cpu));
            assert_eq!(counters.get(cpu).load(Relaxed), expect);
            if expect == 1 {
                assert_eq!(w.ran_on.load(Relaxed), cpu.as_u32() as i32);
            }
        }
        let total: u64 = counters.iter().map(|(_, c)| c.load(Relaxed)).sum();
        assert_eq!(total, online);
        Ok(())
    }

    struct Head<'a> {
        tag: u32,
        _drop: Counted<'a>,
    }

    fn head(tag: u32, drops: &Atomic<u32>) -> Head<'_> {
        Head {
            tag,
            _drop: Counted(drops),
        }
    }

    #[test]
    fn owner_back_pointers() -> Result {
        let drops = Atomic::new(0u32);
        let owner = KBox::pin_init(
            PerCpuOwner::new(GFP_KERNEL, head(7, &drops), |cpu| {
                (cpu.as_u32(), Counted(&drops))
            }),
            GFP_KERNEL,
        )?;
        for (cpu, slot) in owner.slots() {
            assert!(core::ptr::eq(&*slot.owner(), &*owner));
            assert_eq!(slot.owner().head().tag, 7);
            assert_eq!(slot.0, cpu.as_u32());
        }
        {
            let g = PreemptGuard::new();
            assert_eq!(owner.this_cpu_slot(&g).0, g.cpu().as_u32());
        }
        drop(owner);
        assert_eq!(drops.load(Relaxed), num_possible_cpus() + 1);
        Ok(())
    }

    #[test]
    fn owner_alloc_failure_drops_head() {
        let drops = Atomic::new(0u32);
        fault::fail_after(0);
        let res = KBox::pin_init(
            PerCpuOwner::new(GFP_KERNEL, head(1, &drops), |_| 0u8),
            GFP_KERNEL,
        );
        assert!(res.is_err());
        assert_eq!(drops.load(Relaxed), 1);
    }
}
