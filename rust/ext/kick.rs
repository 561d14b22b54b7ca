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
    bindings,
    ext::{
        rq::{ClassOrder, KickIrqWork, KickSyncs, Rq, RqGuard, RqLockHolder, ThisRq},
        sched::{scx_add_event, Sched, SchedPcpu, SCX_CAP_BASE},
        stats::stats,
    },
    sync::{cpu_online, percpu::PossibleCpu, IrqsOff, IrqsOffSection},
};
use kernel::sync::atomic::Relaxed;

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
    !rq.curr().is_idle() && !rq.in_dispatch()
}

/// `scx_kick_cpu()`: records a kick of `cpu` with `SCX_KICK_*` `flags` for
/// `sch` and queues this CPU's kick irq_work.
pub(crate) fn kick_cpu(sch: &Sched, cpu: PossibleCpu, flags: u64) {
    // The per-CPU kick list is guarded only by disabling IRQs, which does
    // not mask NMIs, so kicking from NMI could corrupt it and is unsupported.
    if IrqsOff::run(RecordKick { sch, cpu, flags }).is_none() {
        sch.error(format_args!("scx_bpf_kick_cpu() called from NMI"));
    }
}

/// The body of `scx_kick_cpu()`, run with interrupts disabled.
struct RecordKick<'a> {
    sch: &'a Sched,
    cpu: PossibleCpu,
    flags: u64,
}

impl IrqsOffSection for RecordKick<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self, irqs_off: &IrqsOff) {
        record_kick(self.sch, self.cpu, self.flags, irqs_off)
    }
}

#[inline(always)]
fn record_kick(sch: &Sched, cpu: PossibleCpu, flags: u64, irqs_off: &IrqsOff) {
    stats(irqs_off).kick_cpu.add(1, Relaxed);
    let this_rq = Rq::this(irqs_off);
    // This CPU's slot, by the CPU `this_rq` has: one `smp_processor_id()`
    // for both, so `queue_kicks()` sees that the slot is this CPU's.
    let pcpu = sch.pcpu().get(this_rq.cpu());

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
        if let Some(guard) = Rq::of(cpu).try_lock(irqs_off) {
            if can_skip_idle_kick(&guard) {
                return;
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

    // Link the scheduler's data of this CPU on this CPU's list of
    // schedulers with pending kicks, unless it is already, and queue the
    // irq_work that carries them out.
    this_rq.queue_kicks(pcpu);
}

/// `kick_one_cpu()`: carries out the kick of `cpu` recorded in `pcpu`;
/// returns whether this CPU must wait for `cpu` (`SCX_KICK_WAIT`).
fn kick_one_cpu(
    cpu: PossibleCpu,
    pcpu: &SchedPcpu,
    this_rq: &ThisRq<'_>,
    ksyncs: &KickSyncs<'_>,
) -> bool {
    let irqs_off = this_rq.irqs_off();
    let sch = pcpu.sched();
    let guard = Rq::of(cpu).lock(irqs_off);
    let class = guard.curr().class();
    let mut should_wait = false;

    // During CPU hotplug, a CPU may depend on kicking itself to make forward
    // progress. Allow kicking self regardless of online state. If `cpu` is
    // running a higher class task, we have no control over `cpu`. Skip
    // kicking. A sub-sched lacking baseline access on `cpu` has no business
    // forcing a reschedule there - skip. This is the authoritative cap
    // check: ecaps is read here under `rq`'s lock.
    let kickable = (cpu_online(cpu.id()) || cpu == this_rq.cpu()) && class != ClassOrder::Above;

    if kickable && sch.missing_caps(cpu, SCX_CAP_BASE) == 0 {
        if pcpu.cpus_to_preempt().test(cpu) {
            if class == ClassOrder::Ext {
                let caps = sch.caps_for_preempt(&guard, 0);
                if sch.missing_caps(cpu, caps) != 0 {
                    scx_add_event!(sch, SCX_EV_SUB_PREEMPT_DENIED, 1, irqs_off);
                } else if !guard.curr().set_slice(0) {
                    scx_add_event!(sch, SCX_EV_SLICE_DENIED, 1, irqs_off);
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
            scx_add_event!(sch, SCX_EV_SUB_KICK_DENIED, 1, irqs_off);
        }
        pcpu.cpus_to_preempt().clear(cpu);
        pcpu.cpus_to_wait().clear(cpu);
    }

    should_wait
}

/// `kick_one_cpu_if_idle()`.
fn kick_one_cpu_if_idle(cpu: PossibleCpu, pcpu: &SchedPcpu, this_rq: &ThisRq<'_>) {
    let irqs_off = this_rq.irqs_off();
    let sch = pcpu.sched();
    let guard = Rq::of(cpu).lock(irqs_off);

    // Idle kicks need baseline access too, see `kick_one_cpu()`.
    if !can_skip_idle_kick(&guard) && (cpu_online(cpu.id()) || cpu == this_rq.cpu()) {
        if sch.missing_caps(cpu, SCX_CAP_BASE) == 0 {
            guard.resched_curr();
        } else {
            scx_add_event!(sch, SCX_EV_SUB_KICK_DENIED, 1, irqs_off);
        }
    }
}

/// The body of `kick_cpus_irq_workfn()`: carries out the kicks every
/// scheduler recorded on this CPU.
pub(crate) fn kick_cpus(ctx: &KickIrqWork) {
    let this_rq = ctx.this_rq();
    let to_kick = ctx.sched_pcpus_to_kick(&this_rq);

    // Can race with free_kick_syncs() during scheduler disable. Unlike C,
    // unlink what is pending all the same: kicks are suppressed then (every
    // scheduler bypasses), and a scheduler's per-CPU data must not stay
    // linked once this irq_work has run, whoever linked it.
    let Some(ksyncs) = ctx.kick_syncs() else {
        while to_kick.pop_front().is_some() {}
        return;
    };
    let mut should_wait = false;

    while let Some(pcpu) = to_kick.pop_front() {
        for cpu in pcpu.cpus_to_kick().iter() {
            should_wait |= kick_one_cpu(cpu, &pcpu, &this_rq, &ksyncs);
            pcpu.cpus_to_kick().clear(cpu);
            pcpu.cpus_to_kick_if_idle().clear(cpu);
        }

        for cpu in pcpu.cpus_to_kick_if_idle().iter() {
            kick_one_cpu_if_idle(cpu, &pcpu, &this_rq);
            pcpu.cpus_to_kick_if_idle().clear(cpu);
        }
    }

    // Can't wait in hardirq: kick_sync can't advance, deadlocking if CPUs
    // wait for each other. Defer to kick_sync_wait_bal_cb().
    if should_wait {
        let guard = this_rq.lock(this_rq.irqs_off());
        guard.set_kick_sync_pending();
        guard.resched_curr();
    }
}
