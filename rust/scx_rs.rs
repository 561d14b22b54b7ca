// SPDX-License-Identifier: GPL-2.0

//! scx_rs: parts of sched_ext in safe Rust.
//!
//! The crate has two layers:
//!
//! - [`sync`]: safe abstractions over kernel primitives (raw spinlocks,
//!   dynamic per-CPU data, irq_work, RCU) that the sched_ext code needs and
//!   the kernel crate does not have yet;
//! - [`ext`]: the sched_ext paths reimplemented on top of them (DSQ
//!   lifecycle, CPU kicks, sub-scheduler dispatch); so far the runqueue
//!   access they share.
//!
//! All FFI goes through [`bindings`], the one boundary module.

use kernel::prelude::*;

pub(crate) mod bindings;
pub mod ext;
pub mod sync;

// The examples in the documentation, run as KUnit tests.
include!("doctests_generated.rs");

module! {
    type: ScxRs,
    name: "scx_rs",
    authors: ["The scx_rs developers"],
    description: "sched_ext paths in safe Rust",
    license: "GPL",
    params: {
        dsq_init_delay_us: u32 {
            default: 0,
            description: "Test only: sleep this long in scx_init_dsq(), to widen the window \
                          in which a task runs module code (the impl_churn scenario)",
        },
    },
}

struct ScxRs {
    registration: Option<ext::ops::Registration>,
}

impl kernel::Module for ScxRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: called once, before any allocation of the module; undone
        // by `scx_rs_fault_exit()` in `drop`, or below on failure.
        unsafe { bindings::scx_rs_fault_init() };
        // Refused with EBUSY while a sched_ext scheduler exists.
        // SAFETY: `ScxRs::drop` drops the registration; the module's exit
        // runs it before the module's code goes.
        let registration = match unsafe { ext::ops::Registration::new(module) } {
            Ok(r) => r,
            Err(e) => {
                // SAFETY: undoes the `scx_rs_fault_init()` above.
                unsafe { bindings::scx_rs_fault_exit() };
                return Err(e);
            }
        };
        pr_info!("loaded: sched_ext's DSQs, kicks and sub-dispatch run in Rust\n");
        Ok(ScxRs {
            registration: Some(registration),
        })
    }
}

impl Drop for ScxRs {
    fn drop(&mut self) {
        // Unregistering waits until no call into this module runs and the
        // work it queued (irq_works, RCU callbacks freeing DSQs) has run.
        drop(self.registration.take());
        // RCU callbacks that free our own `RcuBox`es are code of this module.
        sync::rcu::rcu_barrier();
        // Every DSQ initialised here belongs to a scheduler, all of which
        // are gone, or was exited by `scx_bpf_create_dsq()`.
        let live = ext::dispatch_q::live_dsqs();
        if kernel::warn_on!(live != 0) {
            pr_err!("{live} DSQs initialised by scx_rs were never exited\n");
        }
        // SAFETY: undoes the `scx_rs_fault_init()` of `init`; no allocation
        // of the module runs any more.
        unsafe { bindings::scx_rs_fault_exit() };
        pr_info!("unloaded; the Rust paths ran: {}\n", ext::stats::StatsTotal);
    }
}
