// SPDX-License-Identifier: GPL-2.0

//! Layer 2 of scx_rs: sched_ext's paths on top of [`crate::sync`].
//!
//! - [`dsq`]: the DSQ lifecycle (init, exit, RCU-deferred free), on the
//!   DSQs of [`dispatch_q`];
//! - [`kick`]: `scx_bpf_kick_cpu()` and the kick irq_work;
//! - [`sub`]: the body of `scx_bpf_sub_dispatch()`, and [`dispatch`]: the
//!   nested dispatch step it runs for the child;
//! - [`ops`]: the implementation table registered with sched_ext;
//! - [`dispatch_q`], [`rq`], [`sched`]: the DSQs, runqueues and
//!   schedulers of sched_ext as these paths use them, through
//!   the services of `<linux/sched/ext_impl.h>`. These modules are the
//!   boundary with the C structures: each states what protects the fields
//!   it reaches, and hands out only what that protection allows. The paths
//!   themselves ([`dsq`], [`kick`], [`sub`], [`dispatch`]) are safe code; [`ops`] turns
//!   sched_ext's calls into them.
//!
//! The sched_ext structures come from [`crate::bindings::sched`], generated
//! from the kernel tree the module is built against.

pub mod dispatch;
pub mod dispatch_q;
pub mod dsq;
pub mod kick;
pub mod ops;
pub mod rq;
pub mod sched;
pub mod stats;
pub mod sub;
