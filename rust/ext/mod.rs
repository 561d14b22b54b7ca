// SPDX-License-Identifier: GPL-2.0

//! Layer 2 of scx_rs: sched_ext's paths on top of [`crate::sync`].
//!
//! - [`rq`]: runqueue lookup and locking, through the services of
//!   `<linux/sched/ext_impl.h>`.
//!
//! The sched_ext structures come from [`crate::bindings::sched`], generated
//! from the kernel tree the module is built against.

pub mod rq;
