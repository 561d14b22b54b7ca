// SPDX-License-Identifier: GPL-2.0

//! Sample: a statistics block guarded by a raw spinlock taken with
//! interrupts disabled.
//!
//! The module keeps a histogram of the CPUs it was touched from, bumps it
//! from every online CPU's view of `CpuId::current()`, and prints it.

use kernel::{cpu::CpuId, prelude::*};

#[path = "../rust/bindings.rs"]
mod bindings;
#[path = "../rust/sync/mod.rs"]
pub mod sync;

use sync::RawSpinLockIrq;

module! {
    type: RawSpinLockSample,
    name: "scx_rs_sample_raw_spinlock",
    authors: ["The scx_rs developers"],
    description: "scx_rs sample: raw spinlocks",
    license: "GPL",
}

const SLOTS: usize = 8;

#[pin_data(PinnedDrop)]
struct RawSpinLockSample {
    #[pin]
    hits: RawSpinLockIrq<[u64; SLOTS]>,
}

impl RawSpinLockSample {
    fn touch(&self) {
        let cpu = CpuId::current().as_u32() as usize % SLOTS;
        self.hits.lock()[cpu] += 1;
    }
}

impl kernel::InPlaceModule for RawSpinLockSample {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            hits <- new_raw_spinlock_irq!([0; SLOTS], "scx_rs_sample_hits"),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for RawSpinLockSample {
    fn drop(self: Pin<&mut Self>) {
        for _ in 0..1000 {
            self.touch();
        }
        let hits = *self.hits.lock();
        let total: u64 = hits.iter().sum();
        pr_info!("{} touches, per CPU slot: {:?}\n", total, hits);
        #[cfg(scx_rs_rig_warn)]
        kernel::warn_on!(total != 0);
    }
}
