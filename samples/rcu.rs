// SPDX-License-Identifier: GPL-2.0

//! Sample: an RCU-swapped configuration object.
//!
//! Readers, irq_work callbacks on every online CPU, read the current
//! configuration under an RCU read guard; the writer publishes a new
//! generation a number of times and drops the old ones, whose freeing RCU
//! defers until the readers are done. The module's exit waits for the
//! callbacks with `rcu_barrier()`.

use core::pin::Pin;
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

#[path = "../rust/bindings.rs"]
mod bindings;
#[path = "../rust/sync/mod.rs"]
pub mod sync;

use sync::{
    cpu_online,
    irq_work::{IrqWork, IrqWorkFn, IrqWorkKind},
    percpu::PerCpu,
    rcu::{self, RcuBox, RcuPtr},
};

module! {
    type: RcuSample,
    name: "scx_rs_sample_rcu",
    authors: ["The scx_rs developers"],
    description: "scx_rs sample: RCU-swapped configuration",
    license: "GPL",
}

const GENERATIONS: u64 = 20;

/// The configuration readers see.
struct Config {
    generation: u64,
    slice_ns: u64,
}

/// Counts configurations freed, to show the deferred drops happen.
static FREED: Atomic<u64> = Atomic::new(0);

impl Drop for Config {
    fn drop(&mut self) {
        FREED.add(1, Relaxed);
    }
}

/// A reader on one CPU: the newest generation it saw.
///
/// It shares the configuration pointer (an irq_work's data is `'static`:
/// an item that were leaked could run at any later time).
struct Reader {
    config: Arc<RcuPtr<Config>>,
    newest_seen: Atomic<u64>,
}

impl IrqWorkFn for Reader {
    fn run(work: Pin<&IrqWork<Self>>) {
        let guard = rcu::read_lock();
        if let Some(cfg) = work.config.dereference(&guard) {
            // The writer only moves forward.
            if cfg.generation >= work.newest_seen.load(Relaxed) {
                work.newest_seen.store(cfg.generation, Relaxed);
            }
            let _ = cfg.slice_ns;
        }
    }
}

struct RcuSample;

fn config(generation: u64) -> Result<RcuBox<Config>> {
    Ok(RcuBox::new(
        Config {
            generation,
            slice_ns: 20_000_000 / (generation + 1),
        },
        GFP_KERNEL,
    )?)
}

impl kernel::Module for RcuSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let config = Arc::new(RcuPtr::new(Some(self::config(0)?)), GFP_KERNEL)?;
        let readers = PerCpu::pin_init(GFP_KERNEL, |_| {
            IrqWork::new(
                IrqWorkKind::Hard,
                Reader {
                    config: config.clone(),
                    newest_seen: Atomic::new(0),
                },
            )
        })?;
        for generation in 1..=GENERATIONS {
            for r in readers.iter().filter(|r| cpu_online(r.cpu().id())) {
                r.get().queue_on(r.cpu());
            }
            // Readers may still hold the old generation: dropping it only
            // queues its freeing behind a grace period.
            drop(config.replace(Some(self::config(generation)?)));
        }
        for r in readers.iter() {
            r.sync();
        }
        let newest = readers.iter().map(|r| r.newest_seen.load(Relaxed)).max();
        drop(readers);
        drop(config);
        rcu::rcu_barrier();
        pr_info!(
            "published {} generations, readers saw up to {:?}, {} configurations freed after grace periods\n",
            GENERATIONS,
            newest,
            FREED.load(Relaxed)
        );
        if FREED.load(Relaxed) != GENERATIONS + 1 {
            pr_err!("configurations leaked or freed twice\n");
            return Err(EINVAL);
        }
        Ok(RcuSample)
    }
}

impl Drop for RcuSample {
    fn drop(&mut self) {
        // Nothing of ours is left in RCU's queues, but a module that drops
        // `RcuBox`es waits for their callbacks before its code goes away.
        rcu::rcu_barrier();
    }
}
