// SPDX-License-Identifier: GPL-2.0

//! CPU kicks: `scx_kick_cpu()` and the body of `kick_cpus_irq_workfn()`
//! with `kick_one_cpu()`, `kick_one_cpu_if_idle()` and
//! `can_skip_idle_kick()` of kernel/sched/ext/ext.c.
//!
//! A kick is recorded in the kicking scheduler's per-CPU masks on the
//! kicking CPU and carried out by that CPU's `kick_cpus_irq_work`, which
//! locks each target runqueue in turn: kicks are bounced to the irq_work so
//! that runqueue locks never nest, as scx ops may hold one. The masks
//! belong to the scheduler so that a preempting kick is attributed to it
//! (capability checks, event counters). The schedulers with pending kicks
//! on a CPU are linked on that CPU's `rq->scx.sched_pcpus_to_kick`; the
//! list and the links are changed only by their own CPU with IRQs disabled
//! ([`kick_cpu`] and [`kick_cpus`]), so they need no lock.

use crate::{
    bindings::{self, scx_sched_pcpu},
    ext::{
        rq::{ClassOrder, Rq, RqGuard},
        sched::{scx_add_event, Sched, SchedPcpu, SCX_CAP_BASE},
    },
    sync::cpu_online,
};
use core::mem::offset_of;
use kernel::{
    cpu::CpuId,
    ffi::c_ulong,
    interrupt::{local_interrupt_disable, LocalInterruptDisabled},
};

const SCX_KICK_IDLE: u64 = bindings::scx_kick_flags_SCX_KICK_IDLE as u64;
const SCX_KICK_PREEMPT: u64 = bindings::scx_kick_flags_SCX_KICK_PREEMPT as u64;
const SCX_KICK_WAIT: u64 = bindings::scx_kick_flags_SCX_KICK_WAIT as u64;

/// `can_skip_idle_kick()`.
fn can_skip_idle_kick(rq: &RqGuard<'_>) -> bool {
    // We can skip idle kicking if the rq is going to go through at least
    // one full SCX scheduling cycle before going idle. Just checking whether
    // curr is not idle is insufficient because we could be racing
    // dispatch_one() trying to pull the next task from a remote rq, which
    // may fail, and the rq may become idle afterwards.
    //
    // The race window is small and we don't and can't guarantee that the rq
    // is only kicked while idle anyway. Skip only when sure.
    !rq.curr_is_idle() && !rq.in_dispatch()
}

/// `scx_kick_cpu()`: records a kick of `cpu` with `SCX_KICK_*` `flags` for
/// `sch` and queues this CPU's kick irq_work.
pub(crate) fn kick_cpu(sch: &Sched, cpu: CpuId, flags: u64) {
    // The per-CPU kick list is guarded only by disabling IRQs, which does
    // not mask NMIs, so kicking from NMI could corrupt it and is unsupported.
    if in_nmi() {
        sch.error(format_args!("scx_bpf_kick_cpu() called from NMI"));
        return;
    }

    let irqs_off = local_interrupt_disable();
    let this_rq = Rq::this(&irqs_off);
    let pcpu = sch.this_pcpu(&irqs_off);

    // While bypassing for PM ops, IRQ handling may not be online which can
    // lead to irq_work_queue() malfunction such as infinite busy wait for
    // IRQ status update. Suppress kicking.
    if sch.bypassing(this_rq.cpu()) {
        return;
    }

    if flags & SCX_KICK_IDLE != 0 {
        if flags & (SCX_KICK_PREEMPT | SCX_KICK_WAIT) != 0 {
            sch.error(format_args!(
                "PREEMPT/WAIT cannot be used with SCX_KICK_IDLE"
            ));
        }
        if let Some(target) = Rq::of(cpu) {
            if let Some(guard) = target.try_lock(&irqs_off) {
                if can_skip_idle_kick(&guard) {
                    return;
                }
            }
        }
        pcpu.cpus_to_kick_if_idle().set(cpu);
    } else {
        pcpu.cpus_to_kick().set(cpu);
        if flags & SCX_KICK_PREEMPT != 0 {
            pcpu.cpus_to_preempt().set(cpu);
        }
        if flags & SCX_KICK_WAIT != 0 {
            pcpu.cpus_to_wait().set(cpu);
        }
    }

    queue_kicks(this_rq, pcpu, &irqs_off);
}

/// Links `pcpu` on `this_rq`'s list of schedulers with pending kicks, if it
/// is not yet, and queues `this_rq`'s kick irq_work.
fn queue_kicks(this_rq: &Rq, pcpu: &SchedPcpu, _irqs_off: &LocalInterruptDisabled) {
    let node = pcpu.to_kick_node();
    // `this_rq` and `pcpu` are this CPU's (both come from the caller's
    // pinned CPU). The list and the link are changed only on this CPU with
    // IRQs disabled, as now, so nothing else touches them meanwhile.
    //
    // SAFETY: `list_empty()` reads an initialised list head: the link is
    // initialised when the scheduler's per-CPU data is allocated.
    if unsafe { bindings::scx_rs_list_empty(node) } {
        // SAFETY: `list_add_tail()` needs an unlinked entry, checked above,
        // an initialised head (set up at boot with the runqueue) and
        // exclusive access to both, see above.
        unsafe { bindings::list_add_tail(node, this_rq.sched_pcpus_to_kick()) };
    }
    // SAFETY: `irq_work_queue()` needs an initialised irq_work that lives
    // until it has run: the runqueue's, set up at boot and never freed.
    unsafe { bindings::irq_work_queue(this_rq.kick_cpus_irq_work()) };
}

/// Unlinks and returns the first scheduler with pending kicks on `this_rq`.
fn pop_kicks<'a>(this_rq: &Rq, _irqs_off: &'a LocalInterruptDisabled) -> Option<&'a SchedPcpu> {
    let head = this_rq.sched_pcpus_to_kick();
    // The list is this CPU's and IRQs are disabled: nothing else touches it
    // (see `queue_kicks`).
    //
    // SAFETY: `list_empty()` reads an initialised list head, set up at boot.
    if unsafe { bindings::scx_rs_list_empty(head) } {
        return None;
    }
    // SAFETY: the list is not empty, so `next` is an entry.
    let node = unsafe { (*head).next };
    // SAFETY: `list_del_init()` needs a linked entry and exclusive access to
    // its list, both given above.
    unsafe { bindings::scx_rs_list_del_init(node) };
    // SAFETY: every entry is the `to_kick_node` of a scheduler's per-CPU
    // data (only `queue_kicks` links them), so stepping back by the field's
    // offset stays in that allocation.
    let pcpu = unsafe { node.byte_sub(offset_of!(scx_sched_pcpu, to_kick_node)) };
    // SAFETY: `from_raw` needs per-CPU data alive for `'a`: a scheduler's
    // per-CPU data is freed only after its kick irq_work has been synced,
    // and `'a` ends with this irq_work (IRQs disabled).
    Some(unsafe { SchedPcpu::from_raw(pcpu.cast()) })
}

/// This CPU's `SCX_KICK_WAIT` sequence array, for the duration of the kick
/// irq_work.
struct KickSyncs<'a> {
    syncs: *mut c_ulong,
    _irqs_off: &'a LocalInterruptDisabled,
}

impl<'a> KickSyncs<'a> {
    /// The array, or `None` while the scheduler is being disabled (it can
    /// race with `free_kick_syncs()`).
    fn this_cpu(irqs_off: &'a LocalInterruptDisabled) -> Option<Self> {
        // SAFETY: `scx_impl_kick_syncs()` reads a per-CPU pointer, which
        // needs preemption disabled, and dereferences it with
        // `rcu_dereference_bh()`, which needs an RCU-bh reader: IRQs
        // disabled (`irqs_off`) is both.
        let syncs = unsafe { bindings::scx_impl_kick_syncs() };
        (!syncs.is_null()).then_some(Self {
            syncs,
            _irqs_off: irqs_off,
        })
    }

    /// Records `seq` as the kick sequence of `cpu` to wait for.
    fn set(&self, cpu: CpuId, seq: c_ulong) {
        // SAFETY: the array has `nr_cpu_ids` entries and `cpu` is below
        // that; it stays allocated while IRQs are disabled (RCU-bh), and
        // only this CPU writes it.
        unsafe { self.syncs.add(cpu.as_u32() as usize).write(seq) }
    }
}

/// `kick_one_cpu()`: carries out the kick of `cpu` recorded in `pcpu`;
/// returns whether this CPU must wait for `cpu` (`SCX_KICK_WAIT`).
fn kick_one_cpu(
    cpu: CpuId,
    pcpu: &SchedPcpu,
    this_rq: &Rq,
    ksyncs: &KickSyncs<'_>,
    irqs_off: &LocalInterruptDisabled,
) -> bool {
    let Some(rq) = Rq::of(cpu) else {
        return false;
    };
    let sch = pcpu.sched();
    let guard = rq.lock(irqs_off);
    let class = guard.curr_class();
    let mut should_wait = false;

    // During CPU hotplug, a CPU may depend on kicking itself to make forward
    // progress. Allow kicking self regardless of online state. If `cpu` is
    // running a higher class task, we have no control over `cpu`. Skip
    // kicking. A sub-sched lacking baseline access on `cpu` has no business
    // forcing a reschedule there - skip. This is the authoritative cap
    // check: ecaps is read here under `rq`'s lock.
    let kickable = (cpu_online(cpu) || cpu == this_rq.cpu()) && class != ClassOrder::Above;

    if kickable && sch.missing_caps(cpu, SCX_CAP_BASE) == 0 {
        if pcpu.cpus_to_preempt().test(cpu) {
            if class == ClassOrder::Ext {
                let caps = sch.caps_for_preempt(&guard, 0);
                if sch.missing_caps(cpu, caps) != 0 {
                    scx_add_event!(sch, SCX_EV_SUB_PREEMPT_DENIED, 1);
                } else if !guard.set_curr_slice(0) {
                    scx_add_event!(sch, SCX_EV_SLICE_DENIED, 1);
                }
            }
            pcpu.cpus_to_preempt().clear(cpu);
        }

        if pcpu.cpus_to_wait().test(cpu) {
            if class == ClassOrder::Ext {
                this_rq.cpus_to_sync().set(cpu);
                ksyncs.set(cpu, guard.kick_sync());
                should_wait = true;
            }
            pcpu.cpus_to_wait().clear(cpu);
        }

        guard.resched_curr();
    } else {
        // A kickable CPU was skipped solely for the missing caps.
        if kickable {
            scx_add_event!(sch, SCX_EV_SUB_KICK_DENIED, 1);
        }
        pcpu.cpus_to_preempt().clear(cpu);
        pcpu.cpus_to_wait().clear(cpu);
    }

    should_wait
}

/// `kick_one_cpu_if_idle()`.
fn kick_one_cpu_if_idle(
    cpu: CpuId,
    pcpu: &SchedPcpu,
    this_rq: &Rq,
    irqs_off: &LocalInterruptDisabled,
) {
    let Some(rq) = Rq::of(cpu) else {
        return;
    };
    let sch = pcpu.sched();
    let guard = rq.lock(irqs_off);

    // Idle kicks need baseline access too, see `kick_one_cpu()`.
    if !can_skip_idle_kick(&guard) && (cpu_online(cpu) || cpu == this_rq.cpu()) {
        if sch.missing_caps(cpu, SCX_CAP_BASE) == 0 {
            guard.resched_curr();
        } else {
            scx_add_event!(sch, SCX_EV_SUB_KICK_DENIED, 1);
        }
    }
}

/// The body of `kick_cpus_irq_workfn()` on `this_rq`'s CPU: carries out the
/// kicks every scheduler recorded on this CPU.
pub(crate) fn kick_cpus(this_rq: &Rq, irqs_off: &LocalInterruptDisabled) {
    // Can race with free_kick_syncs() during scheduler disable.
    let Some(ksyncs) = KickSyncs::this_cpu(irqs_off) else {
        return;
    };
    let mut should_wait = false;

    while let Some(pcpu) = pop_kicks(this_rq, irqs_off) {
        for cpu in pcpu.cpus_to_kick().iter() {
            should_wait |= kick_one_cpu(cpu, pcpu, this_rq, &ksyncs, irqs_off);
            pcpu.cpus_to_kick().clear(cpu);
            pcpu.cpus_to_kick_if_idle().clear(cpu);
        }

        for cpu in pcpu.cpus_to_kick_if_idle().iter() {
            kick_one_cpu_if_idle(cpu, pcpu, this_rq, irqs_off);
            pcpu.cpus_to_kick_if_idle().clear(cpu);
        }
    }

    // Can't wait in hardirq: kick_sync can't advance, deadlocking if CPUs
    // wait for each other. Defer to kick_sync_wait_bal_cb().
    if should_wait {
        let guard = this_rq.lock(irqs_off);
        guard.set_kick_sync_pending();
        guard.resched_curr();
    }
}

/// `in_nmi()`.
fn in_nmi() -> bool {
    // SAFETY: `in_nmi()` reads this CPU's preempt count.
    unsafe { bindings::scx_rs_in_nmi() }
}
