// SPDX-License-Identifier: GPL-2.0

//! The DSQ lifecycle: `scx_init_dsq()`, `exit_dsq()`, the body of
//! `free_dsq_irq_workfn()` and `free_dsq_rcufn()` of
//! kernel/sched/ext/ext.c.
//!
//! A `struct scx_dispatch_q` lives in memory sched_ext owns: allocated by
//! `create_dsq()` and by scheduler creation, or embedded in a runqueue or a
//! scheduler's per-CPU data. The implementation initialises it in place and
//! gives it per-CPU data, a [`PerCpu`] of `struct scx_dsq_pcpu` whose slots
//! point back to the DSQ; C keeps the per-CPU pointer in `dsq->pcpu` and
//! [`exit_dsq`] takes it back. A destroyed user DSQ is handed to
//! [`free_dsqs`] from an irq_work (sched_ext's `free_dsq_irq_work`, with the
//! DSQs on an llist), which cancels its pending user reenqueues and frees it
//! after an RCU grace period, as readers may still hold it.

use crate::{
    bindings::{self, callback_head, llist_node, scx_dispatch_q, scx_dsq_pcpu, scx_sched},
    ext::rq::Rq,
    sync::percpu::PerCpu,
};
use core::mem::{offset_of, ManuallyDrop};
use kernel::{alloc::flags::GFP_KERNEL, prelude::*, str::CStrExt, types::Opaque, warn_on};

/// The per-CPU data of a DSQ, as [`PerCpu`] holds it.
type DsqPcpu = Opaque<scx_dsq_pcpu>;

/// Initialises one CPU's `struct scx_dsq_pcpu` of `dsq`: the back-pointer,
/// and an empty user reenqueue node.
fn dsq_pcpu_init(dsq: *mut scx_dispatch_q) -> impl PinInit<DsqPcpu> {
    Opaque::ffi_init(move |slot: *mut scx_dsq_pcpu| {
        // SAFETY: `slot` is valid for writes of a `scx_dsq_pcpu` (the
        // contract of `ffi_init`); writing through raw field pointers reads
        // nothing uninitialised; `INIT_LIST_HEAD()` only writes the node.
        unsafe {
            (&raw mut (*slot).dsq).write(dsq);
            (&raw mut (*slot).deferred_reenq_user.flags).write(0);
            bindings::INIT_LIST_HEAD(&raw mut (*slot).deferred_reenq_user.node);
        }
    })
}

/// `scx_init_dsq()`: initialises `*dsq` as DSQ `dsq_id` of `sch`.
///
/// Fails with `ENOMEM`, leaving `dsq->pcpu` null, if the per-CPU data
/// cannot be allocated.
///
/// # Safety
///
/// `dsq` is valid for writes of a `struct scx_dispatch_q` that nothing else
/// uses until this returns.
pub(crate) unsafe fn init_dsq(
    dsq: *mut scx_dispatch_q,
    dsq_id: u64,
    sch: *mut scx_sched,
) -> Result {
    // SAFETY: `write_bytes` needs `dsq` valid for writes of one
    // `scx_dispatch_q` and aligned, which our caller guarantees; all-zero is
    // a valid `scx_dispatch_q` (plain C data), the state `scx_init_dsq()`
    // starts from.
    unsafe { core::ptr::write_bytes(dsq, 0, 1) };
    // SAFETY: `raw_spin_lock_init()` needs a lock nobody uses, which `dsq`'s
    // is (safety requirements), a name and a class key that outlive it: a
    // static string and a static key, one class for all DSQs as in C.
    unsafe {
        bindings::scx_rs_raw_spin_lock_init(
            &raw mut (*dsq).lock,
            c"&dsq->lock".as_char_ptr(),
            kernel::static_lock_class!().as_ptr(),
        )
    };
    // SAFETY: `INIT_LIST_HEAD()` only writes the list head it is given,
    // which is in `dsq`, valid for writes.
    unsafe { bindings::INIT_LIST_HEAD(&raw mut (*dsq).list) };
    // SAFETY: `dsq` is valid for writes and initialised (zeroed) above.
    unsafe {
        (*dsq).id = dsq_id;
        (*dsq).sched = sch.cast();
    }

    // Test only (the impl_churn scenario): stay in module code a while.
    let delay = crate::module_parameters::dsq_init_delay_us.value();
    if delay > 0 {
        kernel::time::delay::fsleep(kernel::time::Delta::from_micros(delay.into()));
    }

    let pcpu = PerCpu::<DsqPcpu>::pin_init(GFP_KERNEL, |_cpu| dsq_pcpu_init(dsq))?;
    // SAFETY: `dsq` is valid for writes; C reads `pcpu` as a
    // `struct scx_dsq_pcpu __percpu *`, which `DsqPcpu` is transparently.
    unsafe { (*dsq).pcpu = pcpu.into_raw().cast() };
    Ok(())
}

/// The per-CPU data of an initialised DSQ, still owned by it.
///
/// # Safety
///
/// `dsq` is a DSQ initialised by [`init_dsq`] with its per-CPU data
/// allocated, not exited.
unsafe fn pcpu_of(dsq: *mut scx_dispatch_q) -> ManuallyDrop<PerCpu<DsqPcpu>> {
    // SAFETY: `init_dsq` stored the pointer of a `PerCpu<DsqPcpu>` whose
    // slots C keeps valid; `ManuallyDrop` leaves it owned by the DSQ.
    ManuallyDrop::new(unsafe { PerCpu::from_raw((*dsq).pcpu.cast()) })
}

/// `exit_dsq()`: frees the per-CPU data of `dsq`.
///
/// # Safety
///
/// `dsq` was initialised by [`init_dsq`] and is no longer used by anyone:
/// after [`free_dsqs`] and a grace period for a destroyed user DSQ, or when
/// its scheduler or runqueue goes away for a built-in one.
pub(crate) unsafe fn exit_dsq(dsq: *mut scx_dispatch_q) {
    // SAFETY: `dsq` is valid (safety requirements).
    if unsafe { (*dsq).pcpu }.is_null() {
        // Its initialisation failed; there is nothing to free.
        return;
    }
    // SAFETY: `dsq` is initialised and nobody uses it any more, so its
    // per-CPU data can be taken back and dropped.
    let pcpu = ManuallyDrop::into_inner(unsafe { pcpu_of(dsq) });
    for (cpu, slot) in pcpu.iter() {
        let node = user_reenq_node(&slot);
        // `free_dsqs()` cancelled the reenqueues before the grace period
        // and `schedule_dsq_reenq()` queues nothing after that.
        // SAFETY: `node` was initialised by `dsq_pcpu_init`; only C links it,
        // under the lock taken below.
        let linked = !unsafe { bindings::scx_rs_list_empty(node) };
        if warn_on!(linked) {
            if let Some(rq) = Rq::of(cpu) {
                let _guard = rq.deferred_reenq_lock().lock();
                // SAFETY: the node is linked on `rq`'s list, whose lock is held.
                unsafe { bindings::scx_rs_list_del_init(node) };
            }
        }
    }
    // `free_percpu()`.
    drop(pcpu);
}

/// The user reenqueue node of one CPU's DSQ data.
fn user_reenq_node(slot: &DsqPcpu) -> *mut bindings::list_head {
    // SAFETY: only the address of a field is computed.
    unsafe { &raw mut (*slot.get()).deferred_reenq_user.node }
}

/// The body of `free_dsq_irq_workfn()`: for each destroyed DSQ on the llist
/// `to_free` (linked through `free_node`), cancels the user reenqueues still
/// pending and frees it after an RCU grace period ([`free_dsq_rcufn`]).
///
/// # Safety
///
/// `to_free` is null or the first node of a list of DSQs destroyed by
/// sched_ext (unhashed, so no new user can find them), initialised by
/// [`init_dsq`], allocated with `kmalloc()`, that the caller gives up.
pub(crate) unsafe fn free_dsqs(to_free: *mut llist_node) {
    let mut node = to_free;
    while !node.is_null() {
        // SAFETY: `node` is the `free_node` of a DSQ on the list; the next
        // one is read before the DSQ is handed to RCU.
        let dsq = unsafe { node.byte_sub(offset_of!(scx_dispatch_q, free_node)) }
            .cast::<scx_dispatch_q>();
        // SAFETY: as above.
        node = unsafe { (*node).next };

        // Cancel pending reenqueues. Only a `run_deferred()` that started
        // before the grace period can hold one, and it keeps IRQs off, so
        // the grace period waits for it. After this sweep,
        // `schedule_dsq_reenq()` sees the invalid id under the same lock
        // and queues nothing.
        // SAFETY: the DSQ is initialised and not exited.
        let pcpu = unsafe { pcpu_of(dsq) };
        for (cpu, slot) in pcpu.iter() {
            if let Some(rq) = Rq::of(cpu) {
                let _guard = rq.deferred_reenq_lock().lock();
                // SAFETY: the node is either unlinked (an initialised empty
                // list) or on `rq`'s list, whose lock is held.
                unsafe { bindings::scx_rs_list_del_init(user_reenq_node(&slot)) };
            }
        }

        // SAFETY: `rcu` is the DSQ's unused RCU head; `free_dsq_rcufn`
        // gets it after a grace period and owns the DSQ from then.
        unsafe { bindings::call_rcu(&raw mut (*dsq).rcu, Some(free_dsq_rcufn)) };
    }
}

/// `free_dsq_rcufn()`: exits and frees a DSQ after its grace period.
///
/// # Safety
///
/// Called by RCU with the `rcu` head [`free_dsqs`] queued.
unsafe extern "C" fn free_dsq_rcufn(rcu: *mut callback_head) {
    // SAFETY: `rcu` is the `rcu` field of a DSQ queued by `free_dsqs`.
    let dsq = unsafe { rcu.byte_sub(offset_of!(scx_dispatch_q, rcu)) }.cast::<scx_dispatch_q>();
    // SAFETY: `exit_dsq` needs a DSQ initialised by `init_dsq` that nobody
    // uses any more: `free_dsqs` only queues such DSQs, and a grace period
    // has passed since it cancelled their reenqueues.
    unsafe { exit_dsq(dsq) };
    // SAFETY: `kfree()` needs memory from `kmalloc()` not freed yet: DSQs
    // handed to `free_dsqs` are `kmalloc()`ed, and each RCU head is queued,
    // hence freed, once.
    unsafe { bindings::kfree(dsq.cast()) };
}

#[cfg(CONFIG_KUNIT)]
#[kernel::prelude::kunit_tests(scx_rs_dsq)]
mod tests {
    use super::*;
    use crate::sync::percpu::{fault, possible_cpus};
    use kernel::error::code::ENOMEM;

    /// A zeroed, `kmalloc()`ed DSQ, as `create_dsq()` makes them.
    fn alloc_dsq() -> *mut scx_dispatch_q {
        let dsq = KBox::<scx_dispatch_q>::new_uninit(GFP_KERNEL).expect("kmalloc");
        KBox::into_raw(dsq).cast()
    }

    #[test]
    fn init_sets_up_every_cpu() {
        let dsq = alloc_dsq();
        // SAFETY: `dsq` is fresh memory of the right size.
        assert!(unsafe { init_dsq(dsq, 42, core::ptr::null_mut()) }.is_ok());
        // SAFETY: `init_dsq` initialised `dsq`.
        let (id, pcpu) = unsafe { ((*dsq).id, pcpu_of(dsq)) };
        assert_eq!(id, 42);
        let mut n = 0;
        for (_cpu, slot) in pcpu.iter() {
            // SAFETY: the slot was initialised by `dsq_pcpu_init`.
            assert!(core::ptr::eq(unsafe { (*slot.get()).dsq }, dsq));
            // SAFETY: as above.
            assert!(unsafe { bindings::scx_rs_list_empty(user_reenq_node(&slot)) });
            n += 1;
        }
        assert_eq!(n, possible_cpus().count());
        // SAFETY: `dsq` is initialised and unused; it was `kmalloc()`ed.
        unsafe {
            exit_dsq(dsq);
            bindings::kfree(dsq.cast());
        }
    }

    #[test]
    fn allocation_failure_is_enomem() {
        let dsq = alloc_dsq();
        fault::fail_after(0);
        // SAFETY: `dsq` is fresh memory of the right size.
        let r = unsafe { init_dsq(dsq, 7, core::ptr::null_mut()) };
        fault::fail_after(-1);
        assert_eq!(r, Err(ENOMEM));
        // SAFETY: `dsq` is valid; exiting a DSQ whose init failed frees
        // nothing and must not crash.
        unsafe {
            assert!((*dsq).pcpu.is_null());
            exit_dsq(dsq);
            bindings::kfree(dsq.cast());
        }
    }

    #[test]
    fn free_cancels_pending_reenqueues() {
        let dsq = alloc_dsq();
        // SAFETY: `dsq` is fresh memory of the right size.
        assert!(unsafe { init_dsq(dsq, 9, core::ptr::null_mut()) }.is_ok());

        // A list standing for a runqueue's `deferred_reenq_users`, with the
        // DSQ's node of the first CPU on it, as `schedule_dsq_reenq()` leaves
        // a pending user reenqueue.
        let head = KBox::pin_init(
            Opaque::ffi_init(|h: *mut bindings::list_head| {
                // SAFETY: `h` is valid for writes.
                unsafe { bindings::INIT_LIST_HEAD(h) }
            }),
            GFP_KERNEL,
        )
        .expect("kmalloc");
        let cpu = possible_cpus().next().expect("a possible CPU");
        // SAFETY: `dsq` is initialised; its per-CPU data stays owned by it.
        let node = user_reenq_node(&unsafe { pcpu_of(dsq) }.get(cpu));
        // SAFETY: both are initialised list heads; nothing else uses them.
        unsafe { bindings::list_add_tail(node, head.get()) };

        // The RCU read lock keeps the DSQ alive past `free_dsqs()`.
        let rcu = crate::sync::rcu::read_lock();
        // SAFETY: `dsq` is initialised, unused and `kmalloc()`ed; as a
        // one-element llist it is given up to `free_dsqs`.
        unsafe {
            (*dsq).free_node.next = core::ptr::null_mut();
            free_dsqs(&raw mut (*dsq).free_node);
        }
        // SAFETY: the DSQ is not freed before `rcu` is dropped.
        assert!(unsafe { bindings::scx_rs_list_empty(node) });
        // SAFETY: `head` is an initialised list head.
        assert!(unsafe { bindings::scx_rs_list_empty(head.get()) });
        drop(rcu);

        // The RCU callback exits and frees the DSQ; wait for it, so the
        // test leaves nothing behind (kmemleak would report a leak).
        crate::sync::rcu::rcu_barrier();
    }
}
