// SPDX-License-Identifier: GPL-2.0

//! The nested dispatch step: `scx_dispatch_sched(sch, rq, prev, true)` of
//! kernel/sched/ext/inlines.h, which `scx_bpf_sub_dispatch()` runs for a
//! child scheduler from its parent's `ops.dispatch()`.
//!
//! The step decides, in the order the C code does, whether and how the
//! child gets to run something on the runqueue: its global DSQ first, the
//! bypass rules, then its `ops.dispatch()` in a bounded loop. sched_ext's
//! queue machinery - consuming a DSQ and flushing the dispatch buffer that
//! `ops.dispatch()` filled - stays C, called directly as the C step calls
//! it, through the [`ChildSched`] methods and the child's
//! [`DispatchOp`](crate::ext::sched::DispatchOp), which calls the operation
//! itself as `SCX_CALL_OP()` does. Each of those calls may drop and retake
//! the runqueue lock; nothing read before one is trusted after it.
//!
//! `prev` is `rq->scx.sub_dispatch_prev`, stashed by the outermost,
//! non-nested dispatch, which is always the C one.

use crate::{
    bindings,
    ext::{
        kick,
        rq::{RqLockHolder, RQ},
        sched::{scx_add_event, ChildSched, Sched},
    },
    sync::percpu::PossibleCpu,
};

const SCX_DSP_MAX_LOOPS: u32 = bindings::scx_consts_SCX_DSP_MAX_LOOPS;
const SCX_BYPASS_HOST_NTH: u32 = bindings::scx_consts_SCX_BYPASS_HOST_NTH;
const SCX_RQ_ONLINE: u32 = bindings::scx_rq_flags_SCX_RQ_ONLINE;

/// What a dispatch step concluded (`enum scx_dsp_verdict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to run (`SCX_DSP_NONE`).
    None,
    /// The local DSQ has tasks (`SCX_DSP_LOCAL`).
    Local,
    /// Keep running `prev` (`SCX_DSP_PREV`).
    Prev,
}

/// `scx_dispatch_sched(sch, rq, prev, nested=true)` for the child `sch`.
pub(crate) fn dispatch_nested(sch: &ChildSched<'_>) -> Verdict {
    let ctx = sch.ctx();
    // `cpu_of(rq)` is read where it is used rather than kept: every value
    // held across the child's `ops.dispatch()` takes stack in each level of
    // nesting.
    let prev = ctx.sub_dispatch_prev();

    if sch.consume_global_dsq() {
        return Verdict::Local;
    }

    if sch.bypass_dsp_enabled() {
        // If @sch is bypassing, only the bypass DSQs are active.
        if sch.bypassing(ctx.rq().cpu()) {
            if sch.consume_bypass_dsq() {
                return Verdict::Local;
            }
            return Verdict::None;
        }

        // If @sch isn't bypassing but its children are, @sch is responsible
        // for making forward progress for both its own tasks that aren't
        // bypassing and the bypassing descendants' tasks. The following
        // implements a simple built-in behavior - let each CPU try to run
        // the bypass DSQ every Nth time.
        if sch.next_bypass_host_seq() % SCX_BYPASS_HOST_NTH == 0 && sch.consume_bypass_dsq() {
            scx_add_event!(sch, SCX_EV_SUB_BYPASS_DISPATCH, 1, &ctx);
            return Verdict::Local;
        }
    }

    // scx_rq_online() can't be used. Its cpu_active() test goes false before
    // CPU hotplug waits for an RCU grace period, and rq_offline_scx() moves
    // this CPU's tasks to the local DSQ only after the wait. The grace
    // period can depend on those tasks running.
    let Some(dispatch) = sch.dispatch_op() else {
        return Verdict::None;
    };
    if ctx.get(RQ.scx_flags) & SCX_RQ_ONLINE == 0 {
        return Verdict::None;
    }

    let mut nr_loops = SCX_DSP_MAX_LOOPS;

    // The dispatch loop. Because scx_flush_dispatch_buf() may drop the rq
    // lock, the local DSQ might still end up empty after a successful
    // ops.dispatch(). If the local DSQ is empty even after ops.dispatch()
    // produced some tasks, retry. The BPF scheduler may depend on this
    // looping behavior to simplify its implementation.
    loop {
        let nr_tasks = dispatch.call();

        if prev.is_some_and(|p| p.queued_with_slice()) {
            return Verdict::Prev;
        }
        if ctx.get(RQ.local_dsq_nr) != 0 {
            return Verdict::Local;
        }
        if sch.consume_global_dsq() {
            return Verdict::Local;
        }

        // ops.dispatch() can trap us in this loop by repeatedly dispatching
        // ineligible tasks. Break out once in a while to allow the watchdog
        // to run. As IRQ can't be enabled in dispatch, we want to complete
        // this scheduling cycle and then start a new one. IOW, we want to
        // call resched_curr() on the next, most likely idle, task, not the
        // current one. Use scx_kick_cpu() for deferred kicking.
        nr_loops -= 1;
        if nr_loops == 0 {
            kick_after_max_loops(sch, ctx.rq().cpu());
            break;
        }
        if nr_tasks == 0 {
            break;
        }
    }

    // Prevent the CPU from going idle while bypassed descendants have tasks
    // queued. Without this fallback, bypassed tasks could stall if the host
    // scheduler's ops.dispatch() doesn't yield any tasks.
    if sch.bypass_dsp_enabled() && sch.consume_bypass_dsq() {
        scx_add_event!(sch, SCX_EV_SUB_BYPASS_DISPATCH, 1, &ctx);
        return Verdict::Local;
    }

    Verdict::None
}

/// `scx_kick_cpu(sch, cpu, 0)` once the loop limit is reached.
///
/// Out of line: rare, and the kick's own state would otherwise take stack
/// in the frame of every level of nested dispatch.
#[cold]
#[inline(never)]
fn kick_after_max_loops(sch: &Sched, cpu: PossibleCpu) {
    kick::kick_cpu(sch, cpu, 0);
}
