// SPDX-License-Identifier: GPL-2.0

//! The implementation table registered with sched_ext.
//!
//! [`Registration::new`] fills a `struct scx_impl_ops` with the C entry
//! points below and registers it with `scx_impl_register()`; from then on
//! sched_ext's DSQ lifecycle, kicks and sub-scheduler dispatch run here.
//! Dropping the [`Registration`] unregisters it, which waits until no call
//! into the module can be running or pending. sched_ext refuses the
//! registration with `EBUSY` while any scheduler exists, and each scheduler
//! holds a reference on this module, so the table never changes under a
//! scheduler.
//!
//! The entry points are the module's FFI boundary with sched_ext: each
//! turns the raw pointers sched_ext passes into the types of [`crate::ext`]
//! on the strength of the contract of the C function it replaces.

use crate::{
    bindings::{self, bpf_prog_aux, llist_node, rq, scx_dispatch_q, scx_impl_ops, scx_sched},
    ext::{
        dispatch_q::{DestroyedDsqs, Dsq},
        dsq, kick,
        rq::KickIrqWork,
        sched::{Sched, SubDispatch},
        stats::stats,
        sub,
    },
    sync::{
        field::CObject,
        percpu::{PossibleCpu, PreemptGuard},
    },
};
use core::ptr::NonNull;
use kernel::{error::to_result, prelude::*, str::CStrExt, sync::atomic::Relaxed};

/// `scx_init_dsq()`.
///
/// # Safety
///
/// Called by sched_ext with memory for a DSQ that nothing uses until this
/// returns and that stays in place until it is exited (sched_ext never exits
/// a DSQ whose init failed), and a scheduler that is live or being created,
/// or null.
unsafe extern "C" fn scx_rs_init_dsq(
    dsq: *mut scx_dispatch_q,
    dsq_id: u64,
    sch: *mut scx_sched,
) -> i32 {
    stats(&PreemptGuard::new()).init_dsq.add(1, Relaxed);
    // Test only (the impl_churn scenario): stay in module code a while.
    // `scx_init_dsq()` is called where it may sleep (GFP_KERNEL).
    let delay = crate::module_parameters::dsq_init_delay_us.value();
    if delay > 0 {
        kernel::time::delay::fsleep(kernel::time::Delta::from_micros(delay.into()));
    }
    // SAFETY: `dsq` is valid for writes of a DSQ and pinned until its exit,
    // as `raw_try_init` requires, and sched_ext frees a DSQ whose init failed
    // without using it (see above).
    let r =
        unsafe { pin_init::raw_try_init(dsq.cast::<Dsq>(), Dsq::new(dsq_id, NonNull::new(sch))) };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `exit_dsq()`.
///
/// # Safety
///
/// Called by sched_ext with a DSQ this implementation initialised (or
/// failed to), not exited yet, that nobody uses any more.
unsafe extern "C" fn scx_rs_exit_dsq(dsq: *mut scx_dispatch_q) {
    stats(&PreemptGuard::new()).exit_dsq.add(1, Relaxed);
    let Some(dsq) = NonNull::new(dsq) else {
        return;
    };
    // SAFETY: the contract of `exit_dsq()`, see above, is that of
    // `Dsq::exit`.
    unsafe { Dsq::exit(dsq) }
}

/// The body of `free_dsq_irq_workfn()`.
///
/// # Safety
///
/// Called by sched_ext's `free_dsq_irq_work` with the llist of destroyed
/// DSQs it takes off `dsqs_to_free`, which it gives up: each was
/// initialised here, `kmalloc()`ed by `scx_bpf_create_dsq()`, and removed
/// from its scheduler's hash table, so only RCU readers that found it
/// before can still use it.
unsafe extern "C" fn scx_rs_free_dsqs(to_free: *mut llist_node) {
    stats(&PreemptGuard::new()).free_dsqs.add(1, Relaxed);
    // SAFETY: the contract of the irq_work, see above, is that of
    // `DestroyedDsqs::from_raw`.
    dsq::free_dsqs(unsafe { DestroyedDsqs::from_raw(to_free) });
}

/// `scx_kick_cpu()`.
///
/// # Safety
///
/// Called by sched_ext with a live scheduler (kfuncs hold the RCU read
/// lock), or null, and a possible CPU: `scx_bpf_kick_cpu()` validates it
/// with `scx_cpu_valid()`, `scx_bpf_kick_cid()` and sub.c map a valid cid
/// to one through the cid tables (which map every possible CPU to one
/// cid), and the other callers pass `cpu_of(rq)`.
unsafe extern "C" fn scx_rs_kick_cpu(sch: *mut scx_sched, cpu: i32, flags: u64) {
    let Some(sch) = NonNull::new(sch) else {
        return;
    };
    // SAFETY: `cpu` is possible, see above.
    let cpu = unsafe { PossibleCpu::from_i32_unchecked(cpu) };
    // SAFETY: `sch` is live for the call, see above.
    kick::kick_cpu(unsafe { Sched::from_raw(sch) }, cpu, flags);
}

/// The body of `kick_cpus_irq_workfn()`.
///
/// # Safety
///
/// Called by this CPU's `kick_cpus_irq_work` (`IRQ_WORK_INIT_HARD`), in
/// hard IRQ context, with this CPU's runqueue.
unsafe extern "C" fn scx_rs_kick_cpus(this_rq: *mut rq) {
    // SAFETY: this is the callback of this CPU's kick irq_work, in hard IRQ
    // context (`IRQ_WORK_INIT_HARD`), called with `this_rq()`, which is not
    // NULL, and `ctx` is dropped before it returns.
    let ctx = unsafe { KickIrqWork::new(NonNull::new_unchecked(this_rq)) };
    stats(ctx.irqs_off()).kick_cpus.add(1, Relaxed);
    kick::kick_cpus(&ctx);
}

/// The body of `scx_bpf_sub_dispatch()`.
///
/// # Safety
///
/// Called by the kfunc with the `bpf_prog_aux` of the calling program,
/// which the verifier supplies and which outlives the call; the kfunc is
/// allowed only in `ops.dispatch()`.
unsafe extern "C" fn scx_rs_sub_dispatch(cgroup_id: u64, aux: *const bpf_prog_aux) -> bool {
    // SAFETY: this is the body of `scx_bpf_sub_dispatch()` called from an
    // sched_ext operation with the calling program's `aux`, valid for the
    // call, and `ctx` is dropped before it returns, as `SubDispatch::new`
    // requires.
    let ctx = unsafe { SubDispatch::new(aux) };
    let Some(ctx) = ctx else {
        return false;
    };
    stats(&ctx).sub_dispatch.add(1, Relaxed);
    sub::sub_dispatch(cgroup_id, &ctx)
}

/// scx_rs installed as sched_ext's implementation of its DSQ lifecycle,
/// kicks and sub-scheduler dispatch, until dropped.
///
/// # Invariants
///
/// `ops` is registered with sched_ext and not changed while registered.
pub struct Registration {
    ops: KBox<scx_impl_ops>,
}

// SAFETY: the table is only read, by sched_ext, and its pointers are to
// static data and functions; `drop` may run on any thread.
unsafe impl Send for Registration {}
// SAFETY: as above; `&Registration` gives no access to the table.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers scx_rs for `module`, which sched_ext pins while a
    /// scheduler exists. Fails with `EBUSY` while a scheduler exists or
    /// another implementation is registered.
    ///
    /// Safe code cannot register, as it could leak the registration:
    ///
    /// ```compile_fail,E0133
    /// use scx_rs::ext::ops::Registration;
    ///
    /// fn register(module: &'static kernel::ThisModule) -> Result<Registration> {
    ///     Registration::new(module)
    /// }
    /// ```
    ///
    /// # Safety
    ///
    /// The registration is dropped before the code of `module` goes away:
    /// sched_ext calls into it until then (leaking it, with
    /// [`core::mem::forget`] say, would leave sched_ext calling into an
    /// unloaded module).
    pub unsafe fn new(module: &'static ThisModule) -> Result<Self> {
        let ops = KBox::new(
            scx_impl_ops {
                name: c"scx_rs".as_char_ptr(),
                owner: module.as_ptr(),
                init_dsq: Some(scx_rs_init_dsq),
                exit_dsq: Some(scx_rs_exit_dsq),
                free_dsqs: Some(scx_rs_free_dsqs),
                kick_cpu: Some(scx_rs_kick_cpu),
                kick_cpus: Some(scx_rs_kick_cpus),
                sub_dispatch: Some(scx_rs_sub_dispatch),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: the table is complete and stays at this address, unchanged,
        // until `drop` unregisters it.
        to_result(unsafe { bindings::scx_impl_register(&*ops) })?;
        // INVARIANT: registered just now.
        Ok(Self { ops })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `ops` is the registered table (type invariant); this waits
        // until no call into it can be running or pending.
        unsafe { bindings::scx_impl_unregister(&*self.ops) }
    }
}
