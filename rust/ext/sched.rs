// SPDX-License-Identifier: GPL-2.0

//! sched_ext schedulers, `struct scx_sched`, their per-CPU data,
//! `struct scx_sched_pcpu`, and the context of a sub-scheduler dispatch.
//!
//! A [`Sched`] is borrowed from sched_ext for the duration of a call into
//! the implementation: kfuncs run under RCU with the scheduler alive, and
//! the kick irq_work runs before a scheduler's per-CPU data is freed. The
//! fields read here are either set when the scheduler is created and never
//! change (`level`, `ancestors`, `pcpu`), or read as sched_ext reads them.
//!
//! [`SubDispatch`] is what `scx_bpf_sub_dispatch()` runs in: the calling
//! BPF program of a scheduler's `ops.dispatch()`, and the runqueue that
//! sched_ext locked for it. Only the FFI entry point can make one. From it
//! come the dispatching scheduler ([`DispatchingSched`]) and, checked
//! against it, its direct children ([`ChildSched`]), which are the only
//! schedulers the nested dispatch step accepts.

use crate::{
    bindings::{self, scx_sched, scx_sched_pcpu},
    ext::rq::{Rq, RqGuard},
    sync::{
        cpumask::AtomicCpumask,
        list::CListItem,
        percpu::{CpuPinned, PerCpuRef, PossibleCpu},
        rcu,
    },
};
use core::{fmt, mem::offset_of, ops::Deref, ptr::NonNull};
use kernel::{
    ffi::c_void,
    str::{CStr, CStrExt},
    sync::atomic::{Atomic, Relaxed},
    types::{NotThreadSafe, Opaque},
};

/// Baseline access to a CPU (`SCX_CAP_BASE`), which kicks and sub-dispatch
/// need.
pub const SCX_CAP_BASE: u64 = bindings::scx_cap_flags_SCX_CAP_BASE as u64;

/// A sched_ext scheduler instance, `struct scx_sched`.
///
/// # Invariants
///
/// `self` is a live `struct scx_sched` (fully created, not yet freed) while
/// it is borrowed.
#[repr(transparent)]
pub struct Sched(Opaque<scx_sched>);

// SAFETY: A scheduler is shared by all CPUs by design; `Sched` reads only
// fields that never change after creation, and otherwise calls sched_ext's
// own functions, which synchronise themselves.
unsafe impl Sync for Sched {}

/// Adds `cnt` to the event counter `name` of `sch` (`__scx_add_event()`), on
/// the CPU `pinned` pins the caller to.
///
/// `name` is a field of `struct scx_event_stats`, e.g. `SCX_EV_SLICE_DENIED`.
macro_rules! scx_add_event {
    ($sch:expr, $name:ident, $cnt:expr, $pinned:expr) => {
        $sch.add_event(
            core::mem::offset_of!($crate::bindings::scx_event_stats, $name),
            kernel::c_str!(stringify!($name)),
            $cnt,
            $pinned,
        )
    };
}
pub(crate) use scx_add_event;

impl Sched {
    /// Borrows the scheduler `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to a live `struct scx_sched` (fully created) that stays
    /// allocated for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: NonNull<scx_sched>) -> &'a Sched {
        // INVARIANT: by the safety requirements.
        // SAFETY: `Sched` is a transparent wrapper of `struct scx_sched`,
        // which `ptr` points to for `'a`.
        unsafe { ptr.cast::<Sched>().as_ref() }
    }

    /// The `struct scx_sched` pointer, for C.
    #[inline]
    pub(crate) fn as_raw(&self) -> *mut scx_sched {
        self.0.get()
    }

    /// The sub-scheduler attached to the cgroup `cgroup_id`
    /// (`scx_find_sub_sched()`); alive while `rcu` is held.
    #[inline]
    pub fn find_sub<'g>(cgroup_id: u64, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
        let _ = rcu;
        // SAFETY: the RCU read lock is held, as the lookup requires; a
        // scheduler found under RCU stays allocated and live until the read
        // lock is dropped, which `'g` bounds, as `from_raw` requires.
        unsafe {
            NonNull::new(bindings::scx_impl_find_sub_sched(cgroup_id)).map(|s| Sched::from_raw(s))
        }
    }

    /// The parent of the scheduler (`scx_parent()`), `None` for the root.
    #[inline]
    fn parent(&self) -> Option<NonNull<scx_sched>> {
        let sch = self.as_raw();
        // SAFETY: `level` and `ancestors[]` are set when the scheduler is
        // created and never change; `ancestors[]` has `level + 1` entries,
        // the one before the scheduler itself being its parent.
        unsafe {
            let level = (*sch).level;
            if level == 0 {
                return None;
            }
            NonNull::new(*(*sch).ancestors.as_ptr().add(level as usize - 1))
        }
    }

    /// Exits the scheduler with `SCX_EXIT_ERROR` and the message `args`
    /// (`scx_error()`). Returns whether this call started the exit.
    #[inline]
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

    /// Adds `cnt` to the counter at `offset` of `struct scx_event_stats` on
    /// the current CPU; use [`scx_add_event!`].
    #[inline]
    pub(crate) fn add_event(
        &self,
        offset: usize,
        name: &'static CStr,
        cnt: i64,
        pinned: &impl CpuPinned,
    ) {
        let _ = pinned;
        // SAFETY: `self` is a live scheduler; `name` is NUL-terminated and
        // static (the tracepoint may keep it); preemption is disabled
        // (`pinned`), as `__this_cpu_add()` requires; the C side rejects an
        // offset that is not one of a counter.
        unsafe { bindings::scx_impl_add_event(self.as_raw(), offset, name.as_char_ptr(), cnt) }
    }

    /// The `SCX_CAP_*` bits of `needed` the scheduler lacks on `cpu`
    /// (`scx_missing_caps()`).
    #[inline]
    pub fn missing_caps(&self, cpu: PossibleCpu, needed: u64) -> u64 {
        // SAFETY: `self` is a live scheduler and `cpu` a possible CPU, whose
        // slot of its per-CPU data exists.
        unsafe { bindings::scx_impl_missing_caps(self.as_raw(), cpu.as_u32() as i32, needed) }
    }

    /// The cap the scheduler needs to preempt the current task of the
    /// locked `rq` (`scx_caps_for_preempt()`).
    #[inline]
    pub fn caps_for_preempt(&self, rq: &RqGuard<'_>, enq_flags: u64) -> u64 {
        // SAFETY: `self` is a live scheduler; `rq` is locked, as reading its
        // current task requires.
        unsafe { bindings::scx_impl_caps_for_preempt(self.as_raw(), rq.rq().as_raw(), enq_flags) }
    }

    /// The scheduler's per-CPU data (`sch->pcpu`).
    #[inline]
    pub fn pcpu(&self) -> PerCpuRef<'_, SchedPcpu> {
        // SAFETY: `pcpu` is set when a live scheduler is created and never
        // changes. It is a per-CPU allocation with an initialised slot for
        // every possible CPU, freed only after the scheduler's last use
        // (`scx_sched_free_rcu_work()`), as `PerCpuRef::from_raw` requires;
        // `SchedPcpu` is a transparent wrapper of `struct scx_sched_pcpu` and
        // is only shared.
        unsafe { PerCpuRef::from_raw(NonNull::new_unchecked((*self.as_raw()).pcpu.cast())) }
    }

    /// Whether the scheduler is bypassing on `cpu` (`scx_bypassing()`).
    #[inline]
    pub fn bypassing(&self, cpu: PossibleCpu) -> bool {
        let bypassing = u64::from(bindings::scx_sched_pcpu_flags_SCX_SCHED_PCPU_BYPASSING);
        self.pcpu().get(cpu).flags() & bypassing != 0
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

// SAFETY: the masks are changed with atomic operations, the flags read as
// atomics; the list link is changed only by its own CPU with IRQs disabled
// (see `ThisRq::sched_pcpus_to_kick`).
unsafe impl Sync for SchedPcpu {}

// SAFETY: `SchedPcpu` wraps C data in an `Opaque`; `to_kick_node` is
// initialised when the scheduler's per-CPU data is allocated. A slot is
// linked only with its CPU's kick irq_work queued (`ThisRq::queue_kicks`),
// which unlinks every entry when it runs - unless it finds no kick sync
// array, which `free_kick_syncs()` clears only while every scheduler
// bypasses, when no kick is recorded, after syncing every kick irq_work -
// and `scx_sched_free_rcu_work()` syncs every CPU's kick irq_work before
// freeing the data.
unsafe impl CListItem for SchedPcpu {
    const LINK: usize = offset_of!(scx_sched_pcpu, to_kick_node);
}

impl SchedPcpu {
    #[inline]
    fn as_raw(&self) -> *mut scx_sched_pcpu {
        self.0.get()
    }

    /// The scheduler this data belongs to (`pcpu->sch`).
    #[inline]
    pub fn sched(&self) -> &Sched {
        // SAFETY: `sch` is set when the per-CPU data is allocated and never
        // changes; the scheduler outlives its per-CPU data, as `from_raw`
        // requires.
        unsafe { Sched::from_raw(NonNull::new_unchecked((*self.as_raw()).sch)) }
    }

    /// The flags (`SCX_SCHED_PCPU_*`).
    #[inline]
    fn flags(&self) -> u64 {
        // SAFETY: `flags` lives with `self`. C changes it under the
        // runqueue's lock with plain stores and reads it without, as here
        // (`scx_bypassing()`). This read is an atomic one, which still races
        // with those plain stores exactly as C's read does; the word is
        // aligned and word-sized, so it does not tear, and no ordering is
        // implied on either side.
        unsafe { Atomic::from_ptr(&raw mut (*self.as_raw()).flags) }.load(Relaxed)
    }

    /// The mask at byte offset `offset` of the per-CPU data.
    #[inline]
    fn mask(&self, offset: usize) -> &AtomicCpumask {
        let var = self.as_raw().wrapping_byte_add(offset).cast();
        // SAFETY: the callers below pass the offset of one of the
        // `cpumask_var_t` fields of `struct scx_sched_pcpu`, so `var` is that
        // field of `self`; the masks are allocated with the scheduler and
        // freed after its per-CPU data is last used.
        unsafe { AtomicCpumask::from_var(var) }
    }

    /// CPUs to kick.
    #[inline]
    pub fn cpus_to_kick(&self) -> &AtomicCpumask {
        self.mask(offset_of!(scx_sched_pcpu, cpus_to_kick))
    }

    /// CPUs to kick if idle.
    #[inline]
    pub fn cpus_to_kick_if_idle(&self) -> &AtomicCpumask {
        self.mask(offset_of!(scx_sched_pcpu, cpus_to_kick_if_idle))
    }

    /// CPUs whose current task to preempt.
    #[inline]
    pub fn cpus_to_preempt(&self) -> &AtomicCpumask {
        self.mask(offset_of!(scx_sched_pcpu, cpus_to_preempt))
    }

    /// CPUs to wait for (`SCX_KICK_WAIT`).
    #[inline]
    pub fn cpus_to_wait(&self) -> &AtomicCpumask {
        self.mask(offset_of!(scx_sched_pcpu, cpus_to_wait))
    }
}

/// The BPF program calling a kfunc, its `struct bpf_prog_aux`.
///
/// Only [`SubDispatch::new`] makes one, from the implicit argument that
/// the verifier passes to the kfunc: `scx_prog_sched()` trusts it. Safe code
/// cannot make one out of memory of its own:
///
/// ```compile_fail,E0423
/// use kernel::types::Opaque;
/// use scx_rs::ext::sched::BpfProgAux;
///
/// let fake = BpfProgAux(Opaque::zeroed());
/// ```
///
/// # Invariants
///
/// `self` is the `bpf_prog_aux` of a loaded BPF program, valid while
/// borrowed.
#[repr(transparent)]
pub struct BpfProgAux(Opaque<bindings::bpf_prog_aux>);

impl BpfProgAux {
    /// The scheduler the program belongs to (`scx_prog_sched()`), `None` if
    /// none or if it is dead; alive while `rcu` is held.
    #[inline]
    pub fn sched<'g>(&self, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
        let _ = rcu;
        // SAFETY: `self` is a loaded program's aux (type invariant) and the
        // RCU read lock is held, as `scx_prog_sched()` requires; a scheduler
        // found under RCU stays allocated and live until the read lock is
        // dropped, which `'g` bounds, as `from_raw` requires.
        unsafe {
            NonNull::new(bindings::scx_impl_prog_sched(self.0.get())).map(|s| Sched::from_raw(s))
        }
    }
}

/// The context of `scx_bpf_sub_dispatch()`: a scheduler's `ops.dispatch()`
/// calling it from BPF, with the runqueue being dispatched locked by
/// sched_ext.
///
/// Only the kfunc's FFI entry point can make one; elsewhere the runqueue
/// would not be locked for the caller:
///
/// ```compile_fail,E0133
/// use scx_rs::ext::sched::SubDispatch;
///
/// fn mint() -> bool {
///     SubDispatch::new(core::ptr::null()).is_some()
/// }
/// ```
///
/// # Invariants
///
/// For `'a`, the code runs inside an sched_ext operation called with `rq`
/// locked (so preemption is off), on behalf of the BPF program `prog`; the
/// value is not sent to another task.
pub struct SubDispatch<'a> {
    rq: &'a Rq,
    prog: &'a BpfProgAux,
    _not_send: NotThreadSafe,
}

impl<'a> SubDispatch<'a> {
    /// The context of the current `scx_bpf_sub_dispatch()` call of the BPF
    /// program whose `bpf_prog_aux` is `aux`; `None` if no runqueue is
    /// locked.
    ///
    /// # Safety
    ///
    /// The caller is the body of `scx_bpf_sub_dispatch()` called from an
    /// sched_ext operation, `aux` is its implicit argument (the calling
    /// program's, valid for the call), and `'a` ends before it returns.
    #[inline]
    pub(crate) unsafe fn new(aux: *const bindings::bpf_prog_aux) -> Option<Self> {
        // INVARIANT: `prog` is the calling program's aux, valid for `'a`.
        // SAFETY: `aux` is valid for `'a` (safety requirements) and
        // `BpfProgAux` is a transparent wrapper of it. Kfuncs run with
        // preemption disabled (BPF programs are non-preemptible), as
        // `scx_locked_rq()` requires; the runqueue it returns is a possible
        // CPU's, as `Rq::from_raw` requires.
        let (prog, rq) = unsafe {
            let prog = &*aux.cast::<BpfProgAux>();
            let rq = NonNull::new(bindings::scx_impl_locked_rq()).map(|rq| Rq::from_raw(rq));
            (prog, rq)
        };
        let rq = rq?;
        // INVARIANT: sched_ext holds `rq`'s lock across the operation the
        // caller runs in, which outlasts `'a`.
        Some(Self {
            rq,
            prog,
            _not_send: NotThreadSafe,
        })
    }

    /// The runqueue being dispatched, which sched_ext holds locked.
    #[inline]
    pub fn rq(&self) -> &'a Rq {
        self.rq
    }

    /// The scheduler whose `ops.dispatch()` called (`scx_prog_sched()`),
    /// the one dispatching on [`rq`](Self::rq); `None` if it is dead.
    #[inline]
    pub fn dispatching<'c>(&'c self, rcu: &'c rcu::Guard) -> Option<DispatchingSched<'c>> {
        Some(DispatchingSched {
            sch: self.prog.sched(rcu)?,
            ctx: self,
        })
    }
}

// SAFETY: preemption is disabled while the context exists, as a runqueue is
// locked (type invariant), and it is not `Send`.
unsafe impl CpuPinned for SubDispatch<'_> {}

/// The scheduler dispatching in a [`SubDispatch`].
pub struct DispatchingSched<'c> {
    sch: &'c Sched,
    ctx: &'c SubDispatch<'c>,
}

impl<'c> DispatchingSched<'c> {
    /// `child` as a direct child of the dispatching scheduler
    /// (`scx_parent(child) == parent`), or `None` if it is not one.
    #[inline]
    pub fn direct_child(&self, child: &'c Sched) -> Option<ChildSched<'c>> {
        (child.parent() == NonNull::new(self.sch.as_raw())).then_some(ChildSched {
            child,
            ctx: self.ctx,
        })
    }
}

impl Deref for DispatchingSched<'_> {
    type Target = Sched;

    #[inline]
    fn deref(&self) -> &Sched {
        self.sch
    }
}

/// A direct child of the scheduler dispatching in a [`SubDispatch`].
///
/// # Invariants
///
/// `child`'s parent is the scheduler of `ctx`'s calling program.
pub struct ChildSched<'c> {
    child: &'c Sched,
    ctx: &'c SubDispatch<'c>,
}

impl ChildSched<'_> {
    /// Runs the nested dispatch step of the child on the runqueue
    /// (`scx_dispatch_sched(child, rq, rq->scx.sub_dispatch_prev, true)`);
    /// returns whether it found something to run.
    ///
    /// This calls the child's `ops.dispatch()`, which may drop and retake
    /// the runqueue lock; sched_ext still holds it on return.
    #[inline]
    pub fn dispatch(&self) -> bool {
        let rq = self.ctx.rq.as_raw();
        // SAFETY: the runqueue is locked by the sched_ext operation this
        // context runs in, and `child` is a direct child of the scheduler
        // dispatching on it (type invariants), which is what the nested step
        // requires; `sub_dispatch_prev`, the task that was running when
        // sched_ext started dispatching, is written under that lock.
        unsafe {
            bindings::scx_impl_dispatch_sched(self.child.as_raw(), rq, (*rq).scx.sub_dispatch_prev)
        }
    }
}

impl Deref for ChildSched<'_> {
    type Target = Sched;

    #[inline]
    fn deref(&self) -> &Sched {
        self.child
    }
}
