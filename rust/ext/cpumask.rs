// SPDX-License-Identifier: GPL-2.0

//! A CPU mask that C code owns, changed with atomic bit operations.
//!
//! sched_ext's kick masks (`scx_sched_pcpu::cpus_to_kick` and its
//! siblings, `scx_rq::cpus_to_sync`) are `cpumask_var_t` fields of C
//! structures, set and cleared with `cpumask_set_cpu()` and
//! `cpumask_clear_cpu()`, which are atomic. [`AtomicCpumask`] gives the same
//! operations through a shared reference, so no `&mut` to memory C also
//! reads is ever formed.

use crate::bindings;
use kernel::{cpu::CpuId, cpumask::CpumaskVar, types::Opaque};

/// A `struct cpumask` changed only with atomic bit operations.
///
/// # Invariants
///
/// `self` is a valid `struct cpumask` of `nr_cpu_ids` bits.
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
    /// `cpumask_var_t` that stays valid for `'a`.
    pub(crate) unsafe fn from_var<'a>(var: *mut bindings::cpumask_var_t) -> &'a Self {
        // SAFETY: by the safety requirements `var` is a valid, allocated
        // `cpumask_var_t` for `'a`, as `CpumaskVar::from_raw` requires.
        let mask = unsafe { CpumaskVar::from_raw(var) }.as_raw();
        // INVARIANT: `mask` is a valid `struct cpumask`.
        // SAFETY: `mask` is the `struct cpumask` of `var`, valid for `'a`;
        // `AtomicCpumask` is a transparent wrapper of it.
        unsafe { &*mask.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::cpumask {
        self.0.get()
    }

    /// Sets `cpu` (`cpumask_set_cpu()`).
    pub fn set(&self, cpu: CpuId) {
        // SAFETY: `self` is a valid mask (type invariant) and `cpu` is below
        // `nr_cpu_ids`; `set_bit()` is atomic.
        unsafe { bindings::cpumask_set_cpu(cpu.as_u32(), self.as_raw()) }
    }

    /// Clears `cpu` (`cpumask_clear_cpu()`).
    pub fn clear(&self, cpu: CpuId) {
        // SAFETY: as in `set`; `clear_bit()` is atomic.
        unsafe { bindings::cpumask_clear_cpu(cpu.as_u32() as i32, self.as_raw()) }
    }

    /// Whether `cpu` is set (`cpumask_test_cpu()`).
    pub fn test(&self, cpu: CpuId) -> bool {
        // SAFETY: as in `set`; `test_bit()` reads one word.
        unsafe { bindings::cpumask_test_cpu(cpu.as_u32() as i32, self.as_raw()) }
    }

    /// The set CPUs, in increasing order (`for_each_cpu()`): each step looks
    /// for the next set bit, so bits changed meanwhile are seen or not as
    /// with the C iterator.
    pub fn iter(&self) -> impl Iterator<Item = CpuId> + '_ {
        let mut n: i32 = -1;
        core::iter::from_fn(move || {
            // SAFETY: `self` is a valid mask and `n` is -1 or a CPU id
            // returned by the previous step, as `cpumask_next()` accepts.
            let next = unsafe { bindings::scx_rs_cpumask_next(n, self.as_raw()) };
            // `cpumask_next()` returns `nr_cpu_ids` or more when done.
            let cpu = CpuId::from_u32(next)?;
            n = next as i32;
            Some(cpu)
        })
    }
}
