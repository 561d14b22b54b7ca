// SPDX-License-Identifier: GPL-2.0

//! Sub-scheduler dispatch: the body of the `scx_bpf_sub_dispatch()` kfunc
//! of kernel/sched/ext/sub.c.
//!
//! A parent scheduler's `ops.dispatch()` may ask one of its direct children
//! to dispatch on the runqueue being dispatched. The child is named by the
//! cgroup it is attached to; a scheduler that is not a direct child is an
//! error of the parent, which exits; a child without baseline access to
//! the CPU is skipped, as its inserts would only be rejected.

use crate::{
    ext::{
        dispatch::{self, Verdict},
        sched::{Sched, SubDispatch, SCX_CAP_BASE},
    },
    sync::rcu,
};

/// The body of `scx_bpf_sub_dispatch()`: dispatches the child scheduler of
/// the calling scheduler attached to `cgroup_id` on the runqueue being
/// dispatched. Returns whether it found something to run.
pub(crate) fn sub_dispatch(cgroup_id: u64, ctx: &SubDispatch<'_>) -> bool {
    let rcu = rcu::read_lock();
    let Some(parent) = ctx.dispatching(&rcu) else {
        return false;
    };
    let Some(sch) = Sched::find_sub(cgroup_id, &rcu) else {
        return false;
    };

    let Some(child) = parent.direct_child(sch) else {
        distant_sub_sched(&parent, cgroup_id);
        return false;
    };

    // Skip a child that does not effectively hold the base cap on this cpu:
    // its inserts would only be rejected. ecaps are synced at the top of
    // dispatch_one() before dispatch, so this reflects the in-effect state.
    if child.missing_caps(ctx.rq().cpu(), SCX_CAP_BASE) != 0 {
        return false;
    }

    dispatch::dispatch_nested(&child) != Verdict::None
}

/// The error exit of a parent naming a scheduler that is not its direct
/// child.
///
/// Out of line, as `scx_error()` is in C: the formatting would otherwise
/// take stack in the frame of every level of nested dispatch.
#[cold]
#[inline(never)]
fn distant_sub_sched(parent: &Sched, cgroup_id: u64) {
    parent.error(format_args!(
        "trying to dispatch a distant sub-sched on cgroup {cgroup_id}"
    ));
}
