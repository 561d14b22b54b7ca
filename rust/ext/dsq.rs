// SPDX-License-Identifier: GPL-2.0

//! The DSQ lifecycle: `scx_init_dsq()`, `exit_dsq()` and the body of
//! `free_dsq_irq_workfn()` with `free_dsq_rcufn()` of
//! kernel/sched/ext/ext.c.
//!
//! [`Dsq::new`] initialises a DSQ in the memory sched_ext gives it, with
//! per-CPU data that the DSQ owns; [`Dsq::exit`] frees that data when
//! sched_ext is done with a DSQ. A destroyed user DSQ is handed to
//! [`free_dsqs`] from an irq_work (sched_ext's `free_dsq_irq_work`, with the
//! DSQs on an llist, [`DestroyedDsqs`]), which cancels its pending user
//! reenqueues and drops it as an [`RcuKBox`](crate::sync::rcu::RcuKBox):
//! it is exited and freed after an RCU grace period, as readers may still
//! hold it.

use crate::ext::{dispatch_q::DestroyedDsqs, rq::Rq};

pub use crate::ext::dispatch_q::{Dsq, DsqPcpu};

/// The body of `free_dsq_irq_workfn()`: for each destroyed DSQ, cancels the
/// user reenqueues still pending and frees it after an RCU grace period.
pub(crate) fn free_dsqs(to_free: DestroyedDsqs) {
    for dsq in to_free {
        // Cancel pending reenqueues. Only a `run_deferred()` that started
        // before the grace period can hold one, and it keeps IRQs off, so
        // the grace period waits for it. After this sweep,
        // `schedule_dsq_reenq()` sees the invalid id under the same lock
        // and queues nothing.
        if let Some(pcpu) = dsq.pcpu() {
            for slot in pcpu.iter() {
                let reenq = Rq::of(slot.cpu()).lock_deferred_reenq();
                reenq.users().remove(&slot);
            }
        }
        // `call_rcu()`: the DSQ is exited (`free_dsq_rcufn()`) and freed
        // after a grace period.
        drop(dsq);
    }
}

#[cfg(CONFIG_KUNIT)]
#[kernel::prelude::kunit_tests(scx_rs_dsq)]
mod tests {
    use super::*;
    use crate::{
        bindings::scx_dispatch_q,
        ext::dispatch_q::live_dsqs,
        sync::{
            percpu::{fault, possible_cpus, PossibleCpu},
            rcu,
            testing::count_warnings,
        },
    };
    use core::ptr::NonNull;
    use kernel::{error::code::ENOMEM, prelude::*};

    fn first_cpu() -> PossibleCpu {
        possible_cpus().next().expect("a possible CPU")
    }

    #[test]
    fn allocation_failure_is_enomem() -> Result {
        let live = live_dsqs();
        fault::fail_after(0);
        let r = KBox::pin_init(Dsq::new(7, None), GFP_KERNEL);
        fault::fail_after(-1);
        assert!(matches!(r, Err(e) if e == ENOMEM));

        // In place, as sched_ext calls it: the memory is only freed then.
        let mut mem = KBox::<scx_dispatch_q>::new_uninit(GFP_KERNEL)?;
        let ptr = NonNull::from(&mut *mem).cast::<Dsq>();
        fault::fail_after(0);
        // SAFETY: `ptr` is valid for writes of a DSQ and stays in place; it
        // is not used after a failure.
        let r = unsafe { pin_init::raw_try_init(ptr.as_ptr(), Dsq::new(8, None)) };
        fault::fail_after(-1);
        assert_eq!(r, Err(ENOMEM));
        assert_eq!(live_dsqs(), live);
        Ok(())
    }

    /// A destroyed DSQ with a user reenqueue pending on a runqueue is taken
    /// off that runqueue's list before it is freed.
    #[test]
    fn free_cancels_pending_reenqueues() -> Result {
        let live = live_dsqs();
        let dsq = KBox::pin_init(Dsq::new(9, None), GFP_KERNEL)?;
        let cpu = first_cpu();
        {
            let pcpu = dsq.pcpu().expect("per-CPU data");
            let reenq = Rq::of(cpu).lock_deferred_reenq();
            // SAFETY: the DSQ is unlinked by `free_dsqs` before it is freed,
            // as the test checks.
            assert!(unsafe { reenq.users().push_back(pcpu.get(cpu)) });
        }

        // Hand it over as sched_ext does: a one-element llist.
        // SAFETY: the box is not moved out of; it is given up below.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(dsq) });
        let c = raw.cast::<scx_dispatch_q>();
        // SAFETY: `raw` is a live `Dsq`, whose `free_node` nothing uses.
        let node = unsafe {
            (*c).free_node.next = core::ptr::null_mut();
            &raw mut (*c).free_node
        };
        // SAFETY: a one-element list of an initialised, `kmalloc()`ed DSQ
        // that this test gives up.
        free_dsqs(unsafe { DestroyedDsqs::from_raw(node) });
        assert!(Rq::of(cpu).lock_deferred_reenq().users().is_empty());

        // The RCU callback exits and frees the DSQ; wait for it.
        rcu::rcu_barrier();
        assert_eq!(live_dsqs(), live);
        Ok(())
    }

    /// Exiting a DSQ whose slot is still linked warns and unlinks it rather
    /// than leave the runqueue's list pointing at freed memory.
    #[test]
    fn exit_unlinks_a_linked_slot_with_a_warning() -> Result {
        let dsq = KBox::pin_init(Dsq::new(10, None), GFP_KERNEL)?;
        let cpu = first_cpu();
        {
            let pcpu = dsq.pcpu().expect("per-CPU data");
            let reenq = Rq::of(cpu).lock_deferred_reenq();
            // SAFETY: the drop of the DSQ unlinks it, as the test checks.
            assert!(unsafe { reenq.users().push_back(pcpu.get(cpu)) });
        }
        let counted = count_warnings(|| drop(dsq));
        assert!(counted.is_some());
        if let Some(((), warnings)) = counted {
            assert_eq!(warnings, 1);
        }
        assert!(Rq::of(cpu).lock_deferred_reenq().users().is_empty());
        Ok(())
    }
}
