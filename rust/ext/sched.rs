// SPDX-License-Identifier: GPL-2.0

//! sched_ext schedulers, `struct scx_sched`, and their per-CPU data,
//! `struct scx_sched_pcpu`, as the replaced paths use them.
//!
//! A [`Sched`] is borrowed from sched_ext for the duration of a call into
//! the implementation: kfuncs run under RCU with the scheduler alive, and
//! the kick irq_work runs before a scheduler's per-CPU data is freed. The
//! fields read here are either set when the scheduler is created and never
//! change (`level`, `ancestors`, `pcpu`), or read as sched_ext reads them.

use crate::{
    bindings::{self, scx_sched, scx_sched_pcpu},
    ext::{cpumask::AtomicCpumask, rq::RqGuard},
    sync::{percpu::CpuPinned, rcu},
};
use core::fmt;
use kernel::{
    cpu::CpuId,
    ffi::c_void,
    str::{CStr, CStrExt},
    types::Opaque,
};

/// Baseline access to a CPU (`SCX_CAP_BASE`), which kicks and sub-dispatch
/// need.
pub const SCX_CAP_BASE: u64 = bindings::scx_cap_flags_SCX_CAP_BASE as u64;

/// A sched_ext scheduler instance, `struct scx_sched`.
///
/// # Invariants
///
/// `self` is a live `struct scx_sched` for as long as it is borrowed.
#[repr(transparent)]
pub struct Sched(Opaque<scx_sched>);

// SAFETY: A scheduler is shared by all CPUs by design; `Sched` reads only
// fields that never change after creation, and otherwise calls sched_ext's
// own functions, which synchronise themselves.
unsafe impl Sync for Sched {}

/// Adds `cnt` to the event counter `name` of `sch` (`__scx_add_event()`).
///
/// `name` is a field of `struct scx_event_stats`, e.g. `SCX_EV_SLICE_DENIED`.
macro_rules! scx_add_event {
    ($sch:expr, $name:ident, $cnt:expr) => {
        $sch.add_event(
            core::mem::offset_of!($crate::bindings::scx_event_stats, $name),
            kernel::c_str!(stringify!($name)),
            $cnt,
        )
    };
}
pub(crate) use scx_add_event;

impl Sched {
    /// Borrows the scheduler `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to a `struct scx_sched` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut scx_sched) -> &'a Sched {
        // INVARIANT: alive for `'a`, the lifetime of the reference.
        // SAFETY: by the safety requirements `ptr` is a live `scx_sched` for
        // `'a`; `Sched` is a transparent wrapper of it.
        unsafe { &*ptr.cast::<Sched>() }
    }

    /// The `struct scx_sched` pointer, for C.
    pub(crate) fn as_raw(&self) -> *mut scx_sched {
        self.0.get()
    }

    /// The scheduler the BPF program `prog` belongs to (`scx_prog_sched()`),
    /// `None` if none or if it is dead; alive while `rcu` is held.
    pub fn of_prog<'g>(
        prog: &Opaque<bindings::bpf_prog_aux>,
        rcu: &'g rcu::Guard,
    ) -> Option<&'g Sched> {
        let _ = rcu;
        // SAFETY: `prog` is a BPF program's aux and the RCU read lock is
        // held, as `scx_prog_sched()` requires.
        let sch = unsafe { bindings::scx_impl_prog_sched(prog.get()) };
        // SAFETY: a scheduler found under RCU stays alive until the read
        // lock is dropped, which `'g` bounds.
        (!sch.is_null()).then(|| unsafe { Sched::from_raw(sch) })
    }

    /// The sub-scheduler attached to the cgroup `cgroup_id`
    /// (`scx_find_sub_sched()`); alive while `rcu` is held.
    pub fn find_sub<'g>(cgroup_id: u64, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
        let _ = rcu;
        // SAFETY: the RCU read lock is held, as the lookup requires.
        let sch = unsafe { bindings::scx_impl_find_sub_sched(cgroup_id) };
        // SAFETY: as in `of_prog`.
        (!sch.is_null()).then(|| unsafe { Sched::from_raw(sch) })
    }

    /// Whether `self` is a direct child of `parent`
    /// (`scx_parent(self) == parent`).
    pub fn is_child_of(&self, parent: &Sched) -> bool {
        let sch = self.as_raw();
        // SAFETY: `level` and `ancestors[]` are set when the scheduler is
        // created and never change; `ancestors` has `level` entries, the
        // last being the parent.
        let parent_ptr = unsafe {
            let level = (*sch).level;
            if level == 0 {
                return false;
            }
            *(*sch).ancestors.as_ptr().add(level as usize - 1)
        };
        core::ptr::eq(parent_ptr, parent.as_raw())
    }

    /// Exits the scheduler with `SCX_EXIT_ERROR` and the message `args`
    /// (`scx_error()`). Returns whether this call started the exit.
    pub fn error(&self, args: fmt::Arguments<'_>) -> bool {
        // SAFETY: the format string is NUL-terminated and `%pA` formats the
        // `fmt::Arguments` its argument points to, which lives across the
        // call; `self` is a live scheduler.
        unsafe {
            bindings::scx_impl_error(
                self.as_raw(),
                c"%pA".as_char_ptr(),
                (&raw const args).cast::<c_void>(),
            )
        }
    }

    /// Adds `cnt` to the counter at `offset` of `struct scx_event_stats`;
    /// use [`scx_add_event!`].
    pub(crate) fn add_event(&self, offset: usize, name: &'static CStr, cnt: i64) {
        // SAFETY: `self` is a live scheduler; `name` is NUL-terminated and
        // static (the tracepoint may keep it); the C side rejects an offset
        // that is not one of a counter.
        unsafe { bindings::scx_impl_add_event(self.as_raw(), offset, name.as_char_ptr(), cnt) }
    }

    /// The `SCX_CAP_*` bits of `needed` the scheduler lacks on `cpu`
    /// (`scx_missing_caps()`).
    pub fn missing_caps(&self, cpu: CpuId, needed: u64) -> u64 {
        // SAFETY: `self` is a live scheduler and `cpu` a valid CPU id.
        unsafe { bindings::scx_impl_missing_caps(self.as_raw(), cpu.as_u32() as i32, needed) }
    }

    /// The cap the scheduler needs to preempt the current task of the
    /// locked `rq` (`scx_caps_for_preempt()`).
    pub fn caps_for_preempt(&self, rq: &RqGuard<'_>, enq_flags: u64) -> u64 {
        // SAFETY: `self` is a live scheduler; `rq` is locked, as reading its
        // current task requires.
        unsafe { bindings::scx_impl_caps_for_preempt(self.as_raw(), rq.rq().as_raw(), enq_flags) }
    }

    fn pcpu_ptr(&self, cpu: CpuId) -> *mut scx_sched_pcpu {
        // SAFETY: `pcpu` is set at creation and never changes; it is a
        // per-CPU allocation, and `per_cpu_ptr()` only computes the address
        // of `cpu`'s slot.
        unsafe { bindings::scx_rs_per_cpu_ptr((*self.as_raw()).pcpu.cast(), cpu.as_u32()).cast() }
    }

    /// Whether the scheduler is bypassing on `cpu` (`scx_bypassing()`).
    pub fn bypassing(&self, cpu: CpuId) -> bool {
        let pcpu = self.pcpu_ptr(cpu);
        // SAFETY: `pcpu` is `cpu`'s slot of the scheduler's per-CPU data,
        // alive with it; the flags are changed concurrently and read with a
        // plain load in C, here a volatile one.
        let flags = unsafe { core::ptr::read_volatile(&raw const (*pcpu).flags) };
        flags & u64::from(bindings::scx_sched_pcpu_flags_SCX_SCHED_PCPU_BYPASSING) != 0
    }

    /// The scheduler's per-CPU data on the CPU the caller is pinned to
    /// (`this_cpu_ptr(sch->pcpu)`).
    pub fn this_pcpu<'a>(&'a self, pinned: &'a impl CpuPinned) -> &'a SchedPcpu {
        // SAFETY: the slot of the caller's CPU lives as long as the
        // scheduler; `SchedPcpu` is a transparent wrapper of it.
        unsafe { &*self.pcpu_ptr(pinned.cpu()).cast::<SchedPcpu>() }
    }
}

/// A scheduler's data on one CPU, `struct scx_sched_pcpu`: the kick masks
/// and the link on the runqueue's list of schedulers with pending kicks.
///
/// # Invariants
///
/// `self` is a slot of a live scheduler's per-CPU data.
#[repr(transparent)]
pub struct SchedPcpu(Opaque<scx_sched_pcpu>);

// SAFETY: the masks are changed with atomic operations; the list link is
// changed only by its own CPU with IRQs disabled (see `ext::kick`).
unsafe impl Sync for SchedPcpu {}

impl SchedPcpu {
    /// Borrows the per-CPU data `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` is a slot of a scheduler's per-CPU data alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut scx_sched_pcpu) -> &'a SchedPcpu {
        // SAFETY: by the safety requirements; transparent wrapper.
        unsafe { &*ptr.cast::<SchedPcpu>() }
    }

    pub(crate) fn as_raw(&self) -> *mut scx_sched_pcpu {
        self.0.get()
    }

    /// The scheduler this data belongs to (`pcpu->sch`).
    pub fn sched(&self) -> &Sched {
        // SAFETY: `sch` is set when the per-CPU data is allocated and never
        // changes; the scheduler outlives its per-CPU data.
        unsafe { Sched::from_raw((*self.as_raw()).sch) }
    }

    fn mask(&self, field: *mut bindings::cpumask_var_t) -> &AtomicCpumask {
        // SAFETY: `field` is one of the masks of `self`, allocated with the
        // scheduler and freed after its per-CPU data is last used.
        unsafe { AtomicCpumask::from_var(field) }
    }

    /// The link on the runqueue's list of schedulers with pending kicks
    /// (`to_kick_node`), for `ext::kick`.
    pub(crate) fn to_kick_node(&self) -> *mut bindings::list_head {
        // SAFETY: only the address of a field is computed.
        unsafe { &raw mut (*self.as_raw()).to_kick_node }
    }

    /// CPUs to kick.
    pub fn cpus_to_kick(&self) -> &AtomicCpumask {
        // SAFETY: only the address of a field of `self` is computed.
        self.mask(unsafe { &raw mut (*self.as_raw()).cpus_to_kick })
    }

    /// CPUs to kick if idle.
    pub fn cpus_to_kick_if_idle(&self) -> &AtomicCpumask {
        // SAFETY: only the address of a field of `self` is computed.
        self.mask(unsafe { &raw mut (*self.as_raw()).cpus_to_kick_if_idle })
    }

    /// CPUs whose current task to preempt.
    pub fn cpus_to_preempt(&self) -> &AtomicCpumask {
        // SAFETY: only the address of a field of `self` is computed.
        self.mask(unsafe { &raw mut (*self.as_raw()).cpus_to_preempt })
    }

    /// CPUs to wait for (`SCX_KICK_WAIT`).
    pub fn cpus_to_wait(&self) -> &AtomicCpumask {
        // SAFETY: only the address of a field of `self` is computed.
        self.mask(unsafe { &raw mut (*self.as_raw()).cpus_to_wait })
    }
}
