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
    _impl: ext::ops::Registration,
}

impl kernel::Module for ScxRs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Refused with EBUSY while a sched_ext scheduler exists.
        let registration = ext::ops::Registration::new(module)?;
        pr_info!("loaded: sched_ext's DSQs, kicks and sub-dispatch run in Rust\n");
        Ok(ScxRs {
            _impl: registration,
        })
    }
}

impl Drop for ScxRs {
    fn drop(&mut self) {
        // RCU callbacks that free our `RcuBox`es are code of this module.
        sync::rcu::rcu_barrier();
        pr_info!("unloaded; the Rust paths ran: {}\n", ext::ops::STATS);
    }
}
