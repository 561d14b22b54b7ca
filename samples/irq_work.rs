// SPDX-License-Identifier: GPL-2.0

//! Sample: irq_work items of each kind, queued from interrupts-off context.
//!
//! The module queues a hard, a normal and a lazy item many times with
//! interrupts disabled: while an item is pending, further queueings
//! coalesce into the one run. It then waits for each item and prints how
//! often it was queued and how often it ran. A `static` item, synced in the
//! module's exit, shows the statically allocated form.

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
    irq_work::{IrqWork, IrqWorkFn, IrqWorkKind},
    IrqsOff,
};

module! {
    type: IrqWorkSample,
    name: "scx_rs_sample_irq_work",
    authors: ["The scx_rs developers"],
    description: "scx_rs sample: irq_work",
    license: "GPL",
}

/// Counts the runs of its item.
struct Runs(Atomic<u32>);

impl IrqWorkFn for Runs {
    fn run(work: Pin<&IrqWork<Self>>) {
        work.0.add(1, Relaxed);
    }
}

// SAFETY: `IrqWorkSample::drop`, the module's exit, syncs it after the
// last queueing, which happens in `init`.
static STATIC_ITEM: IrqWork<Runs> =
    unsafe { IrqWork::new_static(IrqWorkKind::Hard, Runs(Atomic::new(0))) };

struct IrqWorkSample {
    items: [Pin<KBox<IrqWork<Runs>>>; 3],
}

impl kernel::Module for IrqWorkSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let item = |kind| KBox::pin_init(IrqWork::new(kind, Runs(Atomic::new(0))), GFP_KERNEL);
        let items = [
            item(IrqWorkKind::Hard)?,
            item(IrqWorkKind::Normal)?,
            item(IrqWorkKind::Lazy)?,
        ];
        let mut queued = [0u32; 3];
        {
            let _irqs_off = IrqsOff::new().expect("not in NMI");
            for _ in 0..100 {
                for (n, w) in items.iter().enumerate() {
                    queued[n] += u32::from(w.as_ref().queue());
                }
            }
            Pin::static_ref(&STATIC_ITEM).queue();
        }
        for (n, (w, name)) in items.iter().zip(["hard", "normal", "lazy"]).enumerate() {
            w.sync();
            pr_info!(
                "{} item: queue() called 100 times, accepted {} times, ran {} times\n",
                name,
                queued[n],
                w.0.load(Relaxed)
            );
        }
        Ok(Self { items })
    }
}

impl Drop for IrqWorkSample {
    fn drop(&mut self) {
        STATIC_ITEM.sync();
        pr_info!(
            "static item ran {} time(s); {} heap items freed after sync\n",
            STATIC_ITEM.0.load(Relaxed),
            self.items.len()
        );
    }
}
