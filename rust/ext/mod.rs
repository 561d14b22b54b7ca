// SPDX-License-Identifier: GPL-2.0

//! Layer 2 of scx_rs: sched_ext's paths on top of [`crate::sync`].
//!
//! - [`dsq`]: the DSQ lifecycle (init, exit, RCU-deferred free);
//! - [`kick`]: `scx_bpf_kick_cpu()` and the kick irq_work;
//! - [`sub`]: the body of `scx_bpf_sub_dispatch()`;
//! - [`ops`]: the implementation table registered with sched_ext;
//! - [`rq`], [`sched`], [`cpumask`]: the runqueues, schedulers and CPU
//!   masks of sched_ext as these paths use them, through the services of
//!   `<linux/sched/ext_impl.h>`.
//!
//! The sched_ext structures come from [`crate::bindings::sched`], generated
//! from the kernel tree the module is built against.

pub mod cpumask;
pub mod dsq;
pub mod kick;
pub mod ops;
pub mod rq;
pub mod sched;
pub mod sub;
