// SPDX-License-Identifier: GPL-2.0

//! How many times sched_ext called each entry point of the module, for
//! `make run` and the unload message.
//!
//! One set of counters per CPU, so that no CPU writes counters another
//! writes (a single shared set cost every CPU's kicks a `lock add` on one
//! cache line): a static per-CPU `struct scx_rs_stats` of rust/helpers.c
//! (the kernel crate has no `DEFINE_PER_CPU()` yet), seen as a
//! [`PerCpuRef`]. Each count is a relaxed atomic add to this CPU's set, so
//! that an interrupt counting on the same CPU loses nothing (C would use
//! `this_cpu_inc()`, one unlocked `add` to a `%gs:` address, which Rust
//! cannot emit without inline assembly); [`StatsTotal`] sums them.

use crate::{
    bindings,
    sync::percpu::{CpuPinned, PerCpuRef},
};
use core::{
    mem::{align_of, size_of},
    ptr::NonNull,
};
use kernel::sync::atomic::{Atomic, Relaxed};

/// One CPU's counters, `struct scx_rs_stats` of rust/helpers.c.
#[repr(C)]
pub struct Stats {
    /// `scx_init_dsq()` calls.
    pub init_dsq: Atomic<u64>,
    /// `exit_dsq()` calls by sched_ext (not those of the RCU callback that
    /// frees a destroyed user DSQ, which is scx_rs's own).
    pub exit_dsq: Atomic<u64>,
    /// Runs of the deferred DSQ free (each frees a batch of DSQs).
    pub free_dsqs: Atomic<u64>,
    /// `scx_kick_cpu()` calls with a scheduler, not from NMI (the kicks
    /// recorded or suppressed).
    pub kick_cpu: Atomic<u64>,
    /// Runs of the kick irq_work.
    pub kick_cpus: Atomic<u64>,
    /// `scx_bpf_sub_dispatch()` calls with a runqueue locked.
    pub sub_dispatch: Atomic<u64>,
}

// The layout of `struct scx_rs_stats`, six `u64`s, which rust/helpers.c
// asserts on its side: `Atomic<u64>` has the size and the alignment of a
// `u64` (an `UnsafeCell<i64>` inside), and `Stats` is `repr(C)`.
const _: () = assert!(size_of::<Stats>() == 6 * size_of::<u64>());
const _: () = assert!(align_of::<Stats>() == align_of::<u64>());

/// Every CPU's counters.
#[inline(always)]
fn stats_pcpu() -> PerCpuRef<'static, Stats> {
    let ptr = &raw mut bindings::scx_rs_stats;
    // SAFETY: `scx_rs_stats` is a static per-CPU variable of this module,
    // whose address is a per-CPU pointer, not null. The module loader
    // copies its template, all zeroes, to every possible CPU's slot before
    // the module's init runs, and zeroes are valid `Stats` of the same
    // layout (see above); the slots stay valid and in place until the
    // module is freed, after its exit, so for as long as its code runs
    // (`'static` here), and are only accessed through shared references
    // to atomics.
    unsafe { PerCpuRef::from_raw(NonNull::new_unchecked(ptr)) }
}

/// This CPU's counters.
#[inline(always)]
pub(crate) fn stats(pinned: &impl CpuPinned) -> &Stats {
    stats_pcpu().this_cpu_ref(pinned)
}

/// The counters of every possible CPU, summed, as printed.
pub struct StatsTotal;

impl kernel::fmt::Display for StatsTotal {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        let mut total = [0u64; 6];
        for s in stats_pcpu().iter() {
            let counters = [
                &s.init_dsq,
                &s.exit_dsq,
                &s.free_dsqs,
                &s.kick_cpu,
                &s.kick_cpus,
                &s.sub_dispatch,
            ];
            for (t, c) in total.iter_mut().zip(counters) {
                *t = t.wrapping_add(c.load(Relaxed));
            }
        }
        let [init, exit, free, kick, kick_works, sub] = total;
        write!(
            f,
            "{init} DSQs initialised, {exit} exited, {free} deferred-free runs, {kick} kicks, \
             {kick_works} kick irq_works, {sub} sub-dispatches",
        )
    }
}
