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
    bindings::{self, cpumask_var_t, scx_sched, scx_sched_pcpu},
    ext::rq::{Rq, RqLockHolder},
    sync::{
        cpumask::{AtomicCpumask, AtomicMask},
        field::{CObject, Const, Field, Marked, Pointee, RacyWord},
        list::CListItem,
        percpu::{CpuPinned, PerCpuRef, PerCpuShared, PossibleCpu},
        rcu,
    },
};
use core::{
    fmt,
    mem::{offset_of, size_of},
    ops::Deref,
    ptr::NonNull,
};
use kernel::{
    ffi::{c_ulong, c_void},
    ptr::project,
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
// fields that never change after creation or that C changes with marked
// accesses (`SCHED`), and otherwise calls sched_ext's own functions, which
// synchronise themselves.
unsafe impl Sync for Sched {}

// SAFETY: `Sched` is a transparent wrapper of `Opaque<scx_sched>`, and a
// `&Sched` exists only while the scheduler is live (type invariant).
unsafe impl CObject for Sched {
    type Raw = scx_sched;
}

/// The index of `ops.dispatch()` in `has_op` (`SCX_OP_IDX(dispatch)`).
const SCX_OPI_DISPATCH: usize = offset_of!(bindings::sched_ext_ops, dispatch) / size_of::<usize>();

/// `scx_has_subs()`: whether any sub-scheduler exists.
///
/// C tests the static key `__scx_has_subs` with `static_branch_unlikely()`;
/// this reads its count (`static_key_enabled()`), the value the branch is
/// patched to follow, which is the same test where the kernel has no jump
/// labels (`CONFIG_JUMP_LABEL=n`) and one load more where it has.
#[cfg(CONFIG_EXT_SUB_SCHED)]
#[inline(always)]
fn scx_has_subs() -> bool {
    // SAFETY: `__scx_has_subs` is a static key exported to this module.
    unsafe { static_key_enabled(&raw mut bindings::__scx_has_subs) }
}

/// Whether the static key `key` is enabled (`static_key_enabled()`, the
/// test `static_branch_unlikely()` is patched to follow).
///
/// # Safety
///
/// `key` is the address of a static key defined and initialised at build
/// time, such as those patch 0004 exports to this module.
#[inline(always)]
unsafe fn static_key_enabled(key: *mut bindings::static_key_false) -> bool {
    // SAFETY: `key` is a valid static key for the module's life (safety
    // requirements); `static_key_count()` only reads its count atomically,
    // whatever C does to the key meanwhile.
    unsafe { bindings::static_key_count(&raw mut (*key).key) > 0 }
}

/// The fields of `struct scx_sched` these paths read, with their
/// protection.
pub struct SchedFields {
    /// `level`, the depth in the hierarchy of schedulers (0 for the root).
    pub level: Field<Sched, i32, Const>,
    /// The word of the `has_op` bitmap that holds `ops.dispatch()`'s bit.
    pub has_op_dispatch_word: Field<Sched, c_ulong, Marked>,
    /// `pcpu`, the scheduler's per-CPU data.
    pub pcpu: Field<Sched, *mut SchedPcpu, PerCpuShared>,
    /// `bypass_dsp_enable_depth`, an `atomic_t`: how many bypassing
    /// schedulers need the bypass dispatch path of this one.
    pub bypass_dsp_enable_depth: Field<Sched, i32, Marked>,
    /// `dead`, set once `ops.exit()` has run: kfuncs no longer find the
    /// scheduler (`scx_prog_sched()`).
    pub dead: Field<Sched, bool, Marked>,
    /// `ops.dispatch`, the scheduler's `ops.dispatch()` if it has one.
    pub ops_dispatch: Field<Sched, Option<DispatchFn>, Const>,
    /// `pnode`, the scheduler's data of each NUMA node (its global DSQs).
    pub pnode: Field<Sched, *mut *mut bindings::scx_sched_pnode, Const>,
}

/// The fields of `struct scx_sched` these paths read.
pub const SCHED: SchedFields = {
    // Each is protected as its type says, from when the scheduler is
    // created (`scx_alloc_and_add_sched()`) until it is freed:
    // - `level` is set while it is created, before any kfunc can find it,
    //   and never changed;
    // - `has_op` is changed with `set_bit()` (for a sub-scheduler after it
    //   is linked into `scx_sched_hash`, where `find_sub` can see it) and
    //   `bitmap_zero()` (when the root is disabled), read with
    //   `test_bit()`: marked accesses, so a relaxed load of the word is;
    //   every `SCX_OP_IDX()` is below `SCX_OPI_END`, the bitmap's size in
    //   bits;
    // - `pcpu` is allocated then, with `sch` set and the masks allocated in
    //   every possible CPU's slot, and freed by `scx_sched_free_rcu_work()`
    //   after the scheduler's last user is gone; slots are only shared
    //   (`SchedPcpu` allows C's own accesses);
    // - `bypass_dsp_enable_depth` is an `atomic_t`, changed only with
    //   `atomic_inc()`/`atomic_dec()` and read with `atomic_read()`;
    // - `dead` is set with `WRITE_ONCE()` and read with `READ_ONCE()`;
    // - `ops` is copied from the BPF scheduler's when it is created and
    //   its operations are not changed after (the cid form, `ops_cid`,
    //   shares the union, with `dispatch()` taking a cid where the cpu form
    //   takes a CPU, both `s32`);
    // - `pnode` is allocated then, `nr_node_ids` entries with one
    //   allocated for every possible node, and freed with the scheduler.
    // `SchedPcpu` is a transparent wrapper of `struct scx_sched_pcpu`.
    //
    // SAFETY: each projection is `project!` of the field it names, the
    // bitmap word being within `has_op` and `ops` being the union at
    // `__bindgen_anon_1`, every member of which is at its start; each
    // field is protected as argued above, as `Field::new` requires.
    unsafe {
        SchedFields {
            level: Field::<Sched, _, _>::new(|s| project!(mut s, .level)),
            has_op_dispatch_word: Field::<Sched, _, _>::new(|s| {
                project!(mut s, .has_op)
                    .cast::<c_ulong>()
                    .wrapping_add(SCX_OPI_DISPATCH / c_ulong::BITS as usize)
            }),
            pcpu: Field::<Sched, _, _>::new(|s| project!(mut s, .pcpu).cast()),
            bypass_dsp_enable_depth: Field::<Sched, _, _>::new(
                |s| project!(mut s, .bypass_dsp_enable_depth.counter),
            ),
            dead: Field::<Sched, _, _>::new(|s| project!(mut s, .dead)),
            pnode: Field::<Sched, _, _>::new(|s| project!(mut s, .pnode)),
            ops_dispatch: Field::<Sched, _, _>::new(|s| {
                let ops = project!(mut s, .__bindgen_anon_1).cast::<bindings::sched_ext_ops>();
                project!(mut ops, .dispatch)
            }),
        }
    }
};

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
    /// The sub-scheduler attached to the cgroup `cgroup_id`
    /// (`scx_find_sub_sched()`); alive while `rcu` is held.
    #[inline(always)]
    pub fn find_sub<'g>(cgroup_id: u64, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
        let _ = rcu;
        #[cfg(CONFIG_EXT_SUB_SCHED)]
        // SAFETY: the RCU read lock is held, as the lookup requires.
        let sch = unsafe { bindings::scx_find_sub_sched(cgroup_id) };
        // Without sub-schedulers, no cgroup has one.
        #[cfg(not(CONFIG_EXT_SUB_SCHED))]
        let sch = {
            let _ = cgroup_id;
            core::ptr::null_mut()
        };
        // SAFETY: a scheduler found under RCU stays allocated and live until
        // the read lock is dropped, which `'g` bounds, as `from_raw`
        // requires.
        NonNull::new(sch).map(|s| unsafe { Sched::from_raw(s) })
    }

    /// The parent of the scheduler (`scx_parent()`), `None` for the root.
    #[inline(always)]
    fn parent(&self) -> Option<NonNull<scx_sched>> {
        let level = usize::try_from(SCHED.level.get(self))
            .ok()?
            .checked_sub(1)?;
        let ancestors = project!(mut self.as_raw(), .ancestors).cast::<*mut scx_sched>();
        // SAFETY: `ancestors[]` is set when the scheduler is created, like
        // `level`, and never changes; it has `level + 1` entries, all
        // schedulers, the one before the scheduler itself being its parent.
        NonNull::new(unsafe { ancestors.add(level).read() })
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
    #[inline(always)]
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
    #[inline(always)]
    pub fn missing_caps(&self, cpu: PossibleCpu, needed: u64) -> u64 {
        #[cfg(CONFIG_EXT_SUB_SCHED)]
        {
            // no sub-scheds, no missing caps
            if !scx_has_subs() {
                return 0;
            }
            // root holds every cap on every cpu
            if SCHED.level.get(self) == 0 {
                return 0;
            }
            needed & !self.pcpu().get(cpu).ecaps()
        }
        #[cfg(not(CONFIG_EXT_SUB_SCHED))]
        {
            let _ = (cpu, needed);
            0
        }
    }

    /// The cap the scheduler needs to preempt the current task of the
    /// locked `rq` (`scx_caps_for_preempt()`).
    #[inline]
    pub fn caps_for_preempt(&self, rq: &impl RqLockHolder, enq_flags: u64) -> u64 {
        // SAFETY: `self` is a live scheduler; `rq` is locked, as reading its
        // current task requires.
        unsafe {
            bindings::scx_impl_caps_for_preempt(self.as_raw(), rq.locked_rq().as_raw(), enq_flags)
        }
    }

    /// Whether the scheduler has an `ops.dispatch()`
    /// (`SCX_HAS_OP(sch, dispatch)`).
    #[inline(always)]
    pub fn has_dispatch(&self) -> bool {
        let bit = SCX_OPI_DISPATCH % c_ulong::BITS as usize;
        (SCHED.has_op_dispatch_word.load(self) >> bit) & 1 != 0
    }

    /// Whether the bypass dispatch path is enabled
    /// (`scx_bypass_dsp_enabled()`): the scheduler, or a descendant whose
    /// tasks it hosts, is bypassing.
    #[inline(always)]
    pub fn bypass_dsp_enabled(&self) -> bool {
        SCHED.bypass_dsp_enable_depth.load(self) != 0
    }

    /// The scheduler's global DSQ of NUMA node 0
    /// (`&sch->pnode[0]->global_dsq`).
    #[cfg(not(CONFIG_NUMA))]
    #[inline(always)]
    fn global_dsq_of_node0(&self) -> *mut bindings::scx_dispatch_q {
        // SAFETY: `pnode` has an entry for each possible node, allocated
        // with the scheduler and freed with it (`SCHED`); without NUMA,
        // node 0 is the one node, so entry 0 is readable, and valid, while
        // the scheduler is live.
        let node = unsafe { SCHED.pnode.get(self).read() };
        project!(mut node, .global_dsq)
    }

    /// The scheduler's per-CPU data (`sch->pcpu`).
    #[inline(always)]
    pub fn pcpu(&self) -> PerCpuRef<'_, SchedPcpu> {
        SCHED.pcpu.per_cpu(self)
    }

    /// Whether the scheduler is bypassing on `cpu` (`scx_bypassing()`).
    #[inline(always)]
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
// which unlinks every entry when it runs (`kick::kick_cpus`), and
// `scx_sched_free_rcu_work()` syncs every CPU's kick irq_work before
// freeing the data.
unsafe impl CListItem for SchedPcpu {
    const LINK: usize = offset_of!(scx_sched_pcpu, to_kick_node);
}

// SAFETY: `SchedPcpu` is a transparent wrapper of `Opaque<scx_sched_pcpu>`,
// and a `&SchedPcpu` exists only while the slot is live (type invariant).
unsafe impl CObject for SchedPcpu {
    type Raw = scx_sched_pcpu;
}

/// The fields of `struct scx_sched_pcpu` these paths read, with their
/// protection.
pub struct SchedPcpuFields {
    /// `sch`, the scheduler the data belongs to.
    pub sch: Field<SchedPcpu, *mut Sched, Pointee>,
    /// `flags`, the `SCX_SCHED_PCPU_*` flags.
    pub flags: Field<SchedPcpu, u64, RacyWord>,
    /// `ecaps`, the capabilities the scheduler holds on the CPU.
    #[cfg(CONFIG_EXT_SUB_SCHED)]
    pub ecaps: Field<SchedPcpu, u64, Marked>,
    /// `cpus_to_kick`: CPUs to kick.
    pub cpus_to_kick: Field<SchedPcpu, cpumask_var_t, AtomicMask>,
    /// `cpus_to_kick_if_idle`: CPUs to kick if idle.
    pub cpus_to_kick_if_idle: Field<SchedPcpu, cpumask_var_t, AtomicMask>,
    /// `cpus_to_preempt`: CPUs whose current task to preempt.
    pub cpus_to_preempt: Field<SchedPcpu, cpumask_var_t, AtomicMask>,
    /// `cpus_to_wait`: CPUs to wait for (`SCX_KICK_WAIT`).
    pub cpus_to_wait: Field<SchedPcpu, cpumask_var_t, AtomicMask>,
}

/// The fields of `struct scx_sched_pcpu` these paths read.
pub const SCHED_PCPU: SchedPcpuFields = {
    // Each is protected as its type says while the slot is live:
    // - `sch` is set when the per-CPU data is allocated and never changed;
    //   the scheduler, live, outlives its per-CPU data;
    // - `flags` is changed under the runqueue's lock with plain stores of
    //   the aligned `u64`, and read without it by C itself
    //   (`scx_bypassing()`): a relaxed atomic load races with those stores
    //   only as C's own read does (no tearing, no ordering);
    // - `ecaps` is written with `WRITE_ONCE()` (ecaps syncs under the
    //   runqueue's lock, the clearing of a departing scheduler's) and read
    //   with `READ_ONCE()`: marked accesses;
    // - the four masks are allocated with the per-CPU data, freed after its
    //   last use, and changed only with `cpumask_set_cpu()` and
    //   `cpumask_clear_cpu()`, which are atomic.
    //
    // SAFETY: each projection is `project!` of the field it names (`Sched`
    // is a transparent wrapper of `struct scx_sched`); each field is
    // protected as argued above, as `Field::new` requires.
    unsafe {
        SchedPcpuFields {
            sch: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .sch).cast()),
            flags: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .flags)),
            #[cfg(CONFIG_EXT_SUB_SCHED)]
            ecaps: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .ecaps)),
            cpus_to_kick: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .cpus_to_kick)),
            cpus_to_kick_if_idle: Field::<SchedPcpu, _, _>::new(
                |p| project!(mut p, .cpus_to_kick_if_idle),
            ),
            cpus_to_preempt: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .cpus_to_preempt)),
            cpus_to_wait: Field::<SchedPcpu, _, _>::new(|p| project!(mut p, .cpus_to_wait)),
        }
    }
};

impl SchedPcpu {
    /// The scheduler this data belongs to (`pcpu->sch`).
    #[inline]
    pub fn sched(&self) -> &Sched {
        SCHED_PCPU.sch.deref(self)
    }

    /// The flags (`SCX_SCHED_PCPU_*`).
    #[inline(always)]
    fn flags(&self) -> u64 {
        SCHED_PCPU.flags.load(self)
    }

    /// The caps the scheduler holds on this CPU (`ecaps`, read with
    /// `READ_ONCE()`).
    #[cfg(CONFIG_EXT_SUB_SCHED)]
    #[inline(always)]
    fn ecaps(&self) -> u64 {
        SCHED_PCPU.ecaps.load(self)
    }

    /// The scheduler's bypass DSQ of this CPU (`scx_bypass_dsq()`).
    #[inline(always)]
    fn bypass_dsq(&self) -> *mut bindings::scx_dispatch_q {
        project!(mut self.as_raw(), .bypass_dsq)
    }

    /// CPUs to kick.
    #[inline]
    pub fn cpus_to_kick(&self) -> &AtomicCpumask {
        SCHED_PCPU.cpus_to_kick.mask(self)
    }

    /// CPUs to kick if idle.
    #[inline]
    pub fn cpus_to_kick_if_idle(&self) -> &AtomicCpumask {
        SCHED_PCPU.cpus_to_kick_if_idle.mask(self)
    }

    /// CPUs whose current task to preempt.
    #[inline]
    pub fn cpus_to_preempt(&self) -> &AtomicCpumask {
        SCHED_PCPU.cpus_to_preempt.mask(self)
    }

    /// CPUs to wait for (`SCX_KICK_WAIT`).
    #[inline]
    pub fn cpus_to_wait(&self) -> &AtomicCpumask {
        SCHED_PCPU.cpus_to_wait.mask(self)
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
    ///
    /// With sub-schedulers, the program of a scheduler's operation is
    /// associated with the scheduler's struct_ops map, whose `priv` is the
    /// scheduler: that is read here, as `scx_prog_sched()` does inline. A
    /// program with no association (older schedulers' non-struct_ops
    /// programs, which stand for the root), and every program without
    /// sub-schedulers (the root is the only scheduler), take
    /// `scx_prog_sched()` itself.
    #[inline(always)]
    pub fn sched<'g>(&self, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
        let Some(ops) = self.assoc_ops(rcu) else {
            return self.sched_unassociated(rcu);
        };
        // SAFETY: `ops` is the kernel data of the struct_ops map the program
        // is associated with, found under the RCU read lock (`rcu`): the
        // map's free disassociates its programs, then waits for an RCU
        // grace period (`synchronize_rcu_mult()` in
        // `bpf_struct_ops_map_free()`) before freeing it, so the data is
        // valid while `rcu` is held. In it, sched_ext sets `priv` (at the
        // same offset in the cpu and the cid forms) to the scheduler with
        // `rcu_assign_pointer()` and clears it with `RCU_INIT_POINTER()`; an
        // atomic load of the aligned pointer is `rcu_dereference_all()`.
        let sch = unsafe { Atomic::from_ptr(project!(mut ops.as_ptr(), .priv_)) }.load(Relaxed);
        // SAFETY: a scheduler found under RCU, which `rcu` holds, stays
        // allocated and live until the read lock is dropped, which `'g`
        // bounds, as `from_raw` requires.
        let sch = unsafe { Sched::from_raw(NonNull::new(sch.cast::<scx_sched>())?) };
        (!SCHED.dead.load(sch)).then_some(sch)
    }

    /// The kernel data of the struct_ops map the program is associated with
    /// (`bpf_prog_get_assoc_struct_ops()`), if any; none without
    /// sub-schedulers, where `scx_prog_sched()` does not look.
    #[inline(always)]
    fn assoc_ops(&self, rcu: &rcu::Guard) -> Option<NonNull<bindings::sched_ext_ops>> {
        let _ = rcu;
        #[cfg(CONFIG_EXT_SUB_SCHED)]
        // SAFETY: `self` is a loaded program's aux (type invariant), and the
        // RCU read lock is held (`rcu`), as
        // `bpf_prog_get_assoc_struct_ops()` requires.
        let ops = unsafe { bindings::bpf_prog_get_assoc_struct_ops(self.0.get()) };
        #[cfg(not(CONFIG_EXT_SUB_SCHED))]
        let ops = core::ptr::null_mut::<c_void>();
        NonNull::new(ops.cast())
    }

    /// `scx_prog_sched()` for a program with no associated struct_ops map,
    /// or for every program without sub-schedulers.
    #[cold]
    #[inline(never)]
    fn sched_unassociated<'g>(&self, rcu: &'g rcu::Guard) -> Option<&'g Sched> {
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
#[derive(Clone, Copy)]
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
        // `BpfProgAux` is a transparent wrapper of it. sched_ext allows the
        // kfunc only in `ops.dispatch()` and `ops.sub_ecaps_updated()`
        // (`scx_kf_allow_flags[]`), which it calls through `SCX_CALL_OP()`
        // with a runqueue locked, so with interrupts and preemption
        // disabled, as `locked_rq_state()` requires (`scx_locked_rq()`);
        // the runqueue it holds is a possible CPU's, never freed, for which
        // `Rq`'s invariant holds for `'a`, as `CObject::from_raw` requires.
        let (prog, rq) = unsafe {
            let prog = &*aux.cast::<BpfProgAux>();
            let rq = NonNull::new(locked_rq_state().read()).map(|rq| Rq::from_raw(rq));
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
    #[inline(always)]
    pub fn rq(&self) -> &'a Rq {
        self.rq
    }

    /// The scheduler whose `ops.dispatch()` called (`scx_prog_sched()`),
    /// the one dispatching on [`rq`](Self::rq); `None` if it is dead.
    #[inline]
    pub fn dispatching<'c>(&self, rcu: &'c rcu::Guard) -> Option<DispatchingSched<'c>>
    where
        'a: 'c,
    {
        Some(DispatchingSched {
            sch: self.prog.sched(rcu)?,
            ctx: *self,
        })
    }
}

// SAFETY: preemption is disabled while the context exists, as a runqueue is
// locked (type invariant), and it is not `Send`.
unsafe impl CpuPinned for SubDispatch<'_> {}

// SAFETY: sched_ext holds `rq`'s lock across the operation the context runs
// in (type invariant); it drops it only inside the calls into C this crate
// makes (consuming a DSQ, `ops.dispatch()`, flushing), and retakes it before
// they return.
unsafe impl RqLockHolder for SubDispatch<'_> {
    #[inline(always)]
    fn locked_rq(&self) -> &Rq {
        self.rq
    }
}

/// The scheduler dispatching in a [`SubDispatch`].
pub struct DispatchingSched<'c> {
    sch: &'c Sched,
    ctx: SubDispatch<'c>,
}

impl<'c> DispatchingSched<'c> {
    /// `child` as a direct child of the dispatching scheduler
    /// (`scx_parent(child) == parent`), or `None` if it is not one.
    #[inline(always)]
    pub fn direct_child(&self, child: &'c Sched) -> Option<ChildSched<'c>> {
        if child.parent() != NonNull::new(self.sch.as_raw()) {
            return None;
        }
        // `prev_on_sch` of `scx_dispatch_sched()`, which C computes at the
        // step's entry: nothing between here and there drops the lock.
        let prev = self
            .ctx
            .sub_dispatch_prev()
            .filter(|p| p.on_sched(child))
            .map_or(core::ptr::null_mut(), |p| p.as_raw());
        // INVARIANT: `child`'s parent is the dispatching scheduler (just
        // checked); `prev` is null or the task that was running on the
        // runqueue when dispatching started, an ext task of the child,
        // which stays valid while the CPU is in `__schedule()` for it, i.e.
        // for `'c`.
        Some(ChildSched {
            child,
            ctx: self.ctx,
            prev,
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
/// `child`'s parent is the scheduler of `ctx`'s calling program; `prev` is
/// null or the task that was running on `ctx`'s runqueue when dispatching
/// started, an ext task of `child` when the child was accepted, valid for
/// `'c`.
pub struct ChildSched<'c> {
    child: &'c Sched,
    ctx: SubDispatch<'c>,
    prev: *mut bindings::task_struct,
}

impl<'c> ChildSched<'c> {
    /// The context of the dispatch: the runqueue, locked.
    #[inline(always)]
    pub fn ctx(&self) -> SubDispatch<'c> {
        self.ctx
    }

    /// Moves the first task of the child's global DSQ that can run on the
    /// runqueue to its local DSQ (`scx_consume_global_dsq()`); whether it
    /// found one.
    ///
    /// May drop and retake the runqueue lock.
    #[inline(always)]
    ///
    /// Without NUMA, the DSQ is that of node 0, found here as C's inline
    /// `cpu_to_node()` finds it; with NUMA, `scx_consume_global_dsq()`
    /// finds the node of the runqueue's CPU.
    pub fn consume_global_dsq(&self) -> bool {
        #[cfg(not(CONFIG_NUMA))]
        // SAFETY: the child is a live scheduler and the runqueue is locked
        // by the sched_ext operation this context runs in, its parent's
        // `ops.dispatch()` (type invariants): the nested dispatch step, in
        // which sched_ext consumes the child's DSQs into that runqueue; the
        // DSQ is the child's global DSQ of the only node.
        unsafe {
            bindings::scx_consume_dispatch_q(
                self.child.as_raw(),
                self.ctx.rq.as_raw(),
                self.child.global_dsq_of_node0(),
                0,
            )
        }
        #[cfg(CONFIG_NUMA)]
        // SAFETY: as above.
        unsafe {
            bindings::scx_consume_global_dsq(self.child.as_raw(), self.ctx.rq.as_raw())
        }
    }

    /// Moves the first task of the child's bypass DSQ of the runqueue's CPU
    /// that can run there to the local DSQ
    /// (`scx_consume_dispatch_q(sch, rq, scx_bypass_dsq(sch, cpu), 0)`);
    /// whether it found one.
    ///
    /// May drop and retake the runqueue lock.
    #[inline(always)]
    pub fn consume_bypass_dsq(&self) -> bool {
        let dsq = self.child.pcpu().get(self.ctx.rq.cpu()).bypass_dsq();
        // SAFETY: as in `consume_global_dsq`; `dsq` is the child's bypass DSQ
        // of that CPU, initialised with the scheduler.
        unsafe {
            bindings::scx_consume_dispatch_q(self.child.as_raw(), self.ctx.rq.as_raw(), dsq, 0)
        }
    }

    /// The child's `ops.dispatch()`, if it has one
    /// (`SCX_HAS_OP(sch, dispatch)`): only a [`DispatchOp`] can call it.
    ///
    /// The operation's `prev` is the runqueue's `sub_dispatch_prev` if that
    /// was an ext task of the child when the child was accepted
    /// (`prev_on_sch`), else none: no caller can hand the child another
    /// task.
    #[inline(always)]
    pub fn dispatch_op(&self) -> Option<DispatchOp<'c>> {
        if !self.child.has_dispatch() {
            return None;
        }
        // sched_ext sets the bit only for an operation the scheduler has
        // (`ops.dispatch` not null) and then calls it unchecked; a null one
        // here would be a scheduler without it.
        let op = SCHED.ops_dispatch.get(self.child)?;
        // INVARIANT: `op` is the child's `ops.dispatch()`, which it has (just
        // checked); `prev` is as the type invariant of `self` says.
        Some(DispatchOp {
            child: self.child,
            ctx: self.ctx,
            op,
            prev: self.prev,
        })
    }

    /// `pcpu->bypass_host_seq++` of the child's data of the runqueue's CPU:
    /// returns the sequence number before the increment.
    #[inline(always)]
    pub fn next_bypass_host_seq(&self) -> u32 {
        let pcpu = self.child.pcpu().get(self.ctx.rq.cpu());
        let seq = project!(mut pcpu.as_raw(), .bypass_host_seq);
        // SAFETY: `bypass_host_seq` is in the live scheduler's data of the
        // runqueue's CPU, and only `scx_dispatch_sched()` on that runqueue,
        // under its lock, which this context holds, reads or changes it.
        unsafe {
            let old = seq.read();
            seq.write(old.wrapping_add(1));
            old
        }
    }
}

/// The `ops.dispatch()` of a [`ChildSched`], which it has.
///
/// # Invariants
///
/// `child` is a direct child of the scheduler dispatching in `ctx`, on its
/// locked runqueue, for `'c`; `op` is the child's `ops.dispatch()`
/// (`sch->ops.dispatch`, which sched_ext calls for it); `prev` is null or
/// the task that was running on the runqueue when dispatching started, an
/// ext task of `child`, valid for `'c`.
///
/// The task passed as the operation's `prev` is the one fixed when the value
/// was made, so no other task can be handed to the child:
///
/// ```compile_fail,E0061
/// use scx_rs::ext::{rq::RqTask, sched::DispatchOp};
///
/// fn call_with(op: DispatchOp<'_>, task: RqTask<'_>) -> u32 {
///     op.call(Some(task))
/// }
/// ```
#[derive(Clone, Copy)]
pub struct DispatchOp<'c> {
    child: &'c Sched,
    ctx: SubDispatch<'c>,
    op: DispatchFn,
    prev: *mut bindings::task_struct,
}

/// The type of `ops.dispatch()`: `(cpu or cid, prev)`.
type DispatchFn = unsafe extern "C" fn(i32, *mut bindings::task_struct);

impl DispatchOp<'_> {
    /// One round of the dispatch loop of the child (`scx_dispatch_sched()`):
    /// resets this CPU's dispatch context of the child for the runqueue
    /// (`dspc->rq = rq`, `dspc->nr_tasks = 0`), calls its `ops.dispatch()`
    /// for the runqueue's CPU with its `prev`, the runqueue being the locked
    /// one of the operation's kfuncs (`SCX_CALL_OP(sch, dispatch, rq,
    /// scx_cpu_arg(cpu), prev_on_sch ? prev : NULL)`), then carries out the
    /// inserts it buffered (`scx_flush_dispatch_buf()`). Returns how many
    /// tasks that moved (`dspc->nr_tasks`: the tasks the flush inserted and
    /// those `scx_bpf_dsq_move_to_local()` moved during the operation).
    ///
    /// The operation and the flush may drop and retake the runqueue lock,
    /// and the operation may dispatch the child's own children (nesting).
    #[inline(always)]
    pub fn call(&self) -> u32 {
        let child = self.child.as_raw();
        let rq = self.ctx.rq.as_raw();
        let dspc = project!(
            mut self.child.pcpu().this_cpu_ref(&self.ctx).as_raw(),
            .dsp_ctx
        );
        // SAFETY: `dspc` is in this CPU's slot of the live child's per-CPU
        // data (type invariant). Only sched_ext's dispatch of the child on
        // this CPU uses it, with the runqueue locked, so interrupts off:
        // this, and the kfuncs of the operation called below, on this CPU.
        unsafe {
            project!(mut dspc, .rq).write(rq);
            project!(mut dspc, .nr_tasks).write(0);
        }
        // SAFETY: this runs in `ops.dispatch()` or `ops.sub_ecaps_updated()`
        // of the child's parent, the operations that may call
        // `scx_bpf_sub_dispatch()`, which sched_ext calls only once the
        // root's cid tables are published, with the runqueue locked, so
        // preemption disabled.
        let cpu = unsafe { scx_cpu_arg(self.ctx.rq.cpu()) };
        // `update_locked_rq()`'s check, in debug builds, that the runqueue
        // set as the locked one is locked.
        #[cfg(all(CONFIG_LOCKDEP, not(CONFIG_SCHED_CORE)))]
        // SAFETY: without core scheduling, the runqueue's lock is
        // `rq->__lock` (`__rq_lockp()`), initialised at boot; lockdep only
        // reads its state.
        unsafe {
            bindings::scx_rs_raw_spin_assert_held(&raw mut (*rq).__lock)
        };
        // SAFETY: preemption is disabled while the context exists
        // (`CpuPinned`).
        let locked_rq = unsafe { locked_rq_state() };
        // SAFETY: this CPU's `scx_locked_rq_state` is accessed only by this
        // CPU, with plain accesses by sched_ext (`__this_cpu_read()`,
        // `__this_cpu_write()`) in operations and kfuncs, which hold a
        // runqueue lock, so never from an interrupt of code holding one, as
        // this does: the save and restore race with nothing. `op` is the
        // live child's `ops.dispatch()` (type invariant), called as
        // `SCX_CALL_OP()` calls it: with the runqueue it dispatches locked
        // and set as the locked one for its kfuncs, the CPU argument of the
        // runqueue's CPU, and `prev` null or the task that was running
        // there, an ext task of the child, valid (type invariant); the
        // outer operation's locked runqueue is restored after it.
        unsafe {
            let outer = locked_rq.read();
            locked_rq.write(rq);
            (self.op)(cpu, self.prev);
            locked_rq.write(outer);
        }
        // SAFETY: the child is live and the runqueue locked by the sched_ext
        // operation of its parent that this runs in, this CPU's dispatch
        // context of the child holding what its `ops.dispatch()` buffered
        // for it, as `scx_flush_dispatch_buf()` requires.
        unsafe { bindings::scx_flush_dispatch_buf(child, rq) };
        // SAFETY: as for the writes above.
        unsafe { project!(mut dspc, .nr_tasks).read() }
    }
}

/// This CPU's `scx_locked_rq_state`: the runqueue locked by the sched_ext
/// operation the CPU is in, null if none (`scx_locked_rq()`).
///
/// # Safety
///
/// Preemption is disabled, and stays disabled while the pointer is used.
#[inline(always)]
unsafe fn locked_rq_state() -> *mut *mut bindings::rq {
    // SAFETY: `scx_locked_rq_state` is a per-CPU variable exported to this
    // module; with preemption disabled (safety requirements),
    // `this_cpu_ptr()` gives this CPU's slot, which stays this CPU's.
    unsafe { bindings::this_cpu_ptr((&raw mut bindings::scx_locked_rq_state).cast()).cast() }
}

/// The CPU argument of an operation for `cpu` (`scx_cpu_arg()`): its cid
/// when the schedulers are cid-form, else the CPU.
///
/// # Safety
///
/// The caller runs, with preemption disabled, in an operation of a live
/// scheduler that sched_ext calls only once the root's cid tables are
/// published, such as `ops.dispatch()` and `ops.sub_ecaps_updated()`
/// (not `ops.init_cids()` or `ops.init()` of the root: the static key is
/// enabled before the tables are published), or in a kfunc it calls.
#[inline(always)]
unsafe fn scx_cpu_arg(cpu: PossibleCpu) -> i32 {
    // SAFETY: `__scx_is_cid_type` is a static key exported to this module.
    if !unsafe { static_key_enabled(&raw mut bindings::__scx_is_cid_type) } {
        return cpu.as_u32() as i32;
    }
    // SAFETY: `scx_cpu_to_cid_tbl` is an aligned pointer exported to this
    // module, changed only with `rcu_assign_pointer()` and
    // `RCU_INIT_POINTER()`; an atomic load is `rcu_dereference_all()`.
    let tbl = unsafe { Atomic::from_ptr(&raw mut bindings::scx_cpu_to_cid_tbl) }.load(Relaxed);
    debug_assert!(!tbl.is_null());
    // SAFETY: the root's enable publishes the tables
    // (`scx_cid_publish_tables()`) before it sets the `has_op` bits of the
    // operations that run with tasks on sched_ext, and its disable clears
    // the key, then retires the tables (freed after a grace period) only
    // once the scheduler is dead and two grace periods have passed. The
    // caller runs in between, with preemption disabled, which is an RCU
    // read-side section (safety requirements), as `__scx_cpu_to_cid()`
    // requires: `tbl` points to `nr_cpu_ids` entries, and `cpu` is below
    // `nr_cpu_ids` (`PossibleCpu`).
    i32::from(unsafe { tbl.add(cpu.as_u32() as usize).read() })
}

impl Deref for ChildSched<'_> {
    type Target = Sched;

    #[inline]
    fn deref(&self) -> &Sched {
        self.child
    }
}
