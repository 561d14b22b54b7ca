// SPDX-License-Identifier: GPL-2.0

//! A CPU mask that C code owns, changed with atomic bit operations.
//!
//! sched_ext's kick masks (`scx_sched_pcpu::cpus_to_kick` and its
//! siblings, `scx_rq::cpus_to_sync`) are `cpumask_var_t` fields of C
//! structures, set and cleared with `cpumask_set_cpu()` and
//! `cpumask_clear_cpu()`, which are atomic. [`AtomicCpumask`] gives the same
//! operations through a shared reference, so no `&mut` to memory C also
//! reads is ever formed.

use crate::{bindings, sync::percpu::PossibleCpu};
use kernel::{bitmap::Bitmap, cpu::nr_cpu_ids, cpumask::CpumaskVar, types::Opaque};

/// A `struct cpumask` changed only with atomic bit operations.
///
/// # Invariants
///
/// `self` is a valid `struct cpumask` of `nr_cpu_ids` bits, changed only with
/// atomic bit operations (`cpumask_set_cpu()`, `cpumask_clear_cpu()`) while
/// it is shared.
#[repr(transparent)]
pub struct AtomicCpumask(Opaque<bindings::cpumask>);

// SAFETY: Every access is an atomic bit operation or a read of bits, which
// C does concurrently too; no reference to the bits is handed out.
unsafe impl Sync for AtomicCpumask {}

impl AtomicCpumask {
    /// The mask a `cpumask_var_t` field holds.
    ///
    /// # Safety
    ///
    /// `var` points to an allocated (for `CONFIG_CPUMASK_OFFSTACK`)
    /// `cpumask_var_t` that stays valid for `'a`, whose mask is changed only
    /// with atomic bit operations meanwhile.
    pub(crate) unsafe fn from_var<'a>(var: *mut bindings::cpumask_var_t) -> &'a Self {
        // INVARIANT: by the safety requirements.
        // SAFETY: by the safety requirements `var` is a valid, allocated
        // `cpumask_var_t` for `'a`, as `CpumaskVar::from_raw` requires; its
        // `struct cpumask` is valid for `'a` and `AtomicCpumask` is a
        // transparent wrapper of it.
        unsafe { &*CpumaskVar::from_raw(var).as_raw().cast::<Self>() }
    }

    /// The mask as a bitmap of `nr_cpu_ids` bits.
    fn bits(&self) -> &Bitmap {
        // SAFETY: a `struct cpumask` is an array of `unsigned long` with at
        // least `nr_cpu_ids` (below `i32::MAX`) bits, valid while `self` is
        // borrowed, and changed only with atomic operations (type invariant).
        unsafe { Bitmap::from_raw(self.0.get().cast::<usize>(), nr_cpu_ids() as usize) }
    }

    /// Sets `cpu` (`cpumask_set_cpu()`).
    #[inline]
    pub fn set(&self, cpu: PossibleCpu) {
        self.bits().set_bit_atomic(cpu.as_u32() as usize);
    }

    /// Clears `cpu` (`cpumask_clear_cpu()`).
    #[inline]
    pub fn clear(&self, cpu: PossibleCpu) {
        self.bits().clear_bit_atomic(cpu.as_u32() as usize);
    }

    /// Whether `cpu` is set (`cpumask_test_cpu()`).
    #[inline]
    pub fn test(&self, cpu: PossibleCpu) -> bool {
        let i = cpu.as_u32() as usize;
        self.bits().next_bit(i) == Some(i)
    }

    /// The set CPUs, in increasing order (`for_each_cpu()`): each step looks
    /// for the next set bit, so bits changed meanwhile are seen or not as
    /// with the C iterator. Bits of CPUs that are not possible, which
    /// nothing should set, are skipped.
    pub fn iter(&self) -> impl Iterator<Item = PossibleCpu> + '_ {
        let bits = self.bits();
        let mut start = 0;
        core::iter::from_fn(move || loop {
            if start >= bits.len() {
                return None;
            }
            let next = bits.next_bit(start)?;
            start = next + 1;
            if let Some(cpu) = PossibleCpu::from_u32(next as u32) {
                return Some(cpu);
            }
        })
    }
}
