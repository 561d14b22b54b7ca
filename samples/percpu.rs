// SPDX-License-Identifier: GPL-2.0

//! Sample: per-CPU counters bumped by irq_work on every CPU and summed.
//!
//! Every possible CPU's slot holds a hard irq_work item and a counter. At
//! load, the module queues each online CPU's item on that CPU, a few rounds
//! over, and then sums the counters: each callback bumps the counter of
//! the slot it belongs to and checks that it runs on that slot's CPU.

use core::pin::Pin;
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

#[path = "../rust/bindings.rs"]
mod bindings;
#[path = "../rust/sync/mod.rs"]
pub mod sync;

use sync::{
    cpu_online,
    irq_work::{IrqWork, IrqWorkFn, IrqWorkKind},
    percpu::{PerCpu, PossibleCpu, PreemptGuard},
};

module! {
    type: PerCpuSample,
    name: "scx_rs_sample_percpu",
    authors: ["The scx_rs developers"],
    description: "scx_rs sample: per-CPU counters bumped by irq_work",
    license: "GPL",
}

const ROUNDS: u64 = 10;

/// One CPU's counter; its irq_work bumps it on that CPU.
struct Counter {
    cpu: PossibleCpu,
    hits: Atomic<u64>,
    misplaced: Atomic<u64>,
}

impl IrqWorkFn for Counter {
    fn run(work: Pin<&IrqWork<Self>>) {
        work.hits.add(1, Relaxed);
        if PossibleCpu::current(&PreemptGuard::new()) != work.cpu {
            work.misplaced.add(1, Relaxed);
        }
    }
}

struct PerCpuSample {
    counters: PerCpu<IrqWork<Counter>>,
}

impl kernel::Module for PerCpuSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let counters = PerCpu::pin_init(GFP_KERNEL, |cpu| {
            IrqWork::new(
                IrqWorkKind::Hard,
                Counter {
                    cpu,
                    hits: Atomic::new(0),
                    misplaced: Atomic::new(0),
                },
            )
        })?;
        let online = counters.iter().filter(|c| cpu_online(c.cpu().id())).count() as u64;
        for _ in 0..ROUNDS {
            for work in counters.iter().filter(|w| cpu_online(w.cpu().id())) {
                work.get().queue_on(work.cpu());
            }
            for work in counters.iter() {
                work.sync();
            }
        }
        let sum: u64 = counters.iter().map(|c| c.hits.load(Relaxed)).sum();
        let misplaced: u64 = counters.iter().map(|c| c.misplaced.load(Relaxed)).sum();
        pr_info!(
            "{} bumps on {} online CPUs over {} rounds (expected {}), {} on the wrong CPU\n",
            sum,
            online,
            ROUNDS,
            online * ROUNDS,
            misplaced
        );
        if sum != online * ROUNDS || misplaced != 0 {
            pr_err!("per-CPU counters do not add up\n");
            return Err(EINVAL);
        }
        Ok(Self { counters })
    }
}

impl Drop for PerCpuSample {
    fn drop(&mut self) {
        for c in self.counters.iter() {
            pr_info!("cpu{}: {} bumps\n", c.cpu().as_u32(), c.hits.load(Relaxed));
        }
    }
}
