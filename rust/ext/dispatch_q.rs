// SPDX-License-Identifier: GPL-2.0

//! Dispatch queues, `struct scx_dispatch_q`, and their per-CPU data,
//! `struct scx_dsq_pcpu`, as the DSQ lifecycle of [`crate::ext::dsq`] owns
//! them.
//!
//! A DSQ lives in memory sched_ext owns: `kmalloc()`ed by
//! `scx_bpf_create_dsq()` and by scheduler creation, or embedded in a
//! runqueue or a scheduler's per-CPU data. [`Dsq::new`] initialises one in
//! place and gives it per-CPU data, a [`PerCpu`] of [`DsqPcpu`] whose slots
//! point back to the DSQ; C keeps the per-CPU pointer in `dsq->pcpu`. The
//! per-CPU data is owned by the DSQ and freed ([`DsqPcpus`]) when the DSQ is
//! exited: by sched_ext for a DSQ it owns ([`Dsq::exit`]), or when a
//! destroyed user DSQ handed over by sched_ext ([`DestroyedDsqs`]) is
//! dropped, after an RCU grace period, as [`RcuKBox<Dsq>`].
//!
//! Each CPU's slot carries a link, `deferred_reenq_user.node`, that
//! `schedule_dsq_reenq()` puts on that CPU's runqueue list of user DSQs
//! with a reenqueue pending, under the runqueue's `deferred_reenq_lock`
//! ([`crate::ext::rq::DeferredReenqGuard::users`]). A slot is unlinked
//! under that lock before its per-CPU data is freed.
//!
//! This module and [`crate::ext::rq`] and [`crate::ext::sched`] are the
//! boundary with the C structures: the DSQ lifecycle itself is safe code.

use crate::{
    bindings::{self, llist_node, scx_dispatch_q, scx_dsq_pcpu, scx_sched},
    ext::rq::Rq,
    sync::{
        list::CListItem,
        percpu::{PerCpu, PerCpuRef},
        rcu::{HasRcuHead, RcuKBox},
    },
};
use core::{mem::offset_of, pin::Pin, ptr::NonNull};
use kernel::{
    alloc::flags::GFP_KERNEL,
    prelude::*,
    str::CStrExt,
    sync::atomic::{Atomic, Relaxed},
    types::Opaque,
    warn_on,
};

/// The number of DSQs initialised by [`Dsq::new`] and not exited yet, for
/// the leak check at module exit.
static LIVE_DSQS: Atomic<i64> = Atomic::new(0);

/// How many DSQs [`Dsq::new`] initialised that have not been exited.
pub fn live_dsqs() -> i64 {
    LIVE_DSQS.load(Relaxed)
}

/// A dispatch queue, `struct scx_dispatch_q`, initialised by [`Dsq::new`].
///
/// # Invariants
///
/// `self` was initialised by [`Dsq::new`]: its lock and list are
/// initialised, and `pcpu` is null or the per-CPU data of a
/// `PerCpu<DsqPcpu>` given up to it, which it owns until it is exited.
#[pin_data(PinnedDrop)]
#[repr(transparent)]
pub struct Dsq {
    #[pin]
    q: Opaque<scx_dispatch_q>,
}

// SAFETY: A DSQ is shared by all CPUs by design: its queue is protected by
// its lock, which sched_ext takes; `Dsq` only reads fields that are set
// when it is initialised and its per-CPU data, which is `Sync`. Dropping it
// (exiting it) on any thread is what sched_ext does too.
unsafe impl Send for Dsq {}
// SAFETY: as above.
unsafe impl Sync for Dsq {}

// SAFETY: `rcu` is a `struct callback_head` of the C structure, in the
// `Opaque`; sched_ext uses it only to free destroyed user DSQs, which this
// implementation does through `RcuKBox` (`free_dsq_irq_workfn()` is
// replaced).
unsafe impl HasRcuHead for Dsq {
    const RCU_HEAD: usize = offset_of!(scx_dispatch_q, rcu);
}

impl Dsq {
    /// `scx_init_dsq()`: initialises a DSQ with id `dsq_id` for the scheduler
    /// `sch` (none while it is being created by `scx_bpf_create_dsq()`).
    ///
    /// `sch` is only stored, in `dsq->sched`, for C: sched_ext initialises
    /// the DSQs of a scheduler it is still creating, whose fields are not
    /// all set yet, so it is not a [`Sched`](crate::ext::sched::Sched).
    ///
    /// Fails with `ENOMEM` if the per-CPU data cannot be allocated; nothing
    /// is left to free then, and sched_ext does not exit a DSQ whose init
    /// failed.
    pub fn new(dsq_id: u64, sch: Option<NonNull<scx_sched>>) -> impl PinInit<Self, Error> {
        let init = move |dsq: *mut scx_dispatch_q| -> Result {
            // The per-CPU data first: if it fails, nothing is written.
            let pcpu = PerCpu::pin_init(GFP_KERNEL, |_cpu| DsqPcpu::init(dsq))?;
            // INVARIANT: the lock and the list are initialised and `pcpu` is
            // the per-CPU data of a `PerCpu<DsqPcpu>` given up to the DSQ.
            // SAFETY: `dsq` is valid for writes of a `scx_dispatch_q` and
            // aligned (the contract of `Opaque::try_ffi_init`), and nothing
            // else uses it:
            // - all-zero is a valid `scx_dispatch_q` (plain C data), the state
            //   `scx_init_dsq()` starts from;
            // - `raw_spin_lock_init()` needs a lock nobody uses, a name and a
            //   class key that outlive it: a static string and a static key,
            //   one class for every DSQ this implementation initialises;
            // - `INIT_LIST_HEAD()` only writes the list head it is given;
            // - C reads `pcpu` as a `struct scx_dsq_pcpu __percpu *`, which
            //   `DsqPcpu` wraps transparently.
            unsafe {
                core::ptr::write_bytes(dsq, 0, 1);
                bindings::scx_rs_raw_spin_lock_init(
                    &raw mut (*dsq).lock,
                    c"&dsq->lock".as_char_ptr(),
                    kernel::static_lock_class!().as_ptr(),
                );
                bindings::INIT_LIST_HEAD(&raw mut (*dsq).list);
                (*dsq).id = dsq_id;
                (*dsq).sched = sch.map_or(core::ptr::null_mut(), |s| s.as_ptr().cast());
                (*dsq).pcpu = pcpu.into_raw().as_ptr().cast();
            }
            LIVE_DSQS.add(1, Relaxed);
            Ok(())
        };
        try_pin_init!(Self {
            q <- Opaque::try_ffi_init(init),
        }? Error)
    }

    /// `exit_dsq()`: frees the per-CPU data of a DSQ sched_ext owns and no
    /// longer uses.
    ///
    /// # Safety
    ///
    /// `ptr` points to a DSQ initialised by [`Dsq::new`], not exited yet,
    /// that nothing uses any more.
    pub(crate) unsafe fn exit(ptr: NonNull<scx_dispatch_q>) {
        // SAFETY: `ptr` is an initialised `Dsq` (a transparent wrapper of
        // `scx_dispatch_q`), pinned where sched_ext keeps it, that nobody
        // uses any more, so it can be borrowed mutably until it is exited
        // here.
        let dsq = unsafe { Pin::new_unchecked(ptr.cast::<Self>().as_mut()) };
        drop(dsq.take_pcpu());
    }

    #[inline]
    fn as_raw(&self) -> *mut scx_dispatch_q {
        self.q.get()
    }

    /// The DSQ's per-CPU data, `None` if its init failed.
    #[inline]
    pub fn pcpu(&self) -> Option<PerCpuRef<'_, DsqPcpu>> {
        // SAFETY: `pcpu` is set at init and changed only by `take_pcpu`,
        // which needs `&mut self`. A non-null one is the per-CPU data of a
        // `DsqPcpus` the DSQ owns (type invariant), with an initialised
        // `DsqPcpu` per possible CPU, freed only by `take_pcpu`, which
        // `&self` excludes for the borrow, as `PerCpuRef::from_raw` requires.
        unsafe { NonNull::new((*self.as_raw()).pcpu).map(|p| PerCpuRef::from_raw(p.cast())) }
    }

    /// Takes back the per-CPU data from `dsq->pcpu`, leaving it null.
    fn take_pcpu(self: Pin<&mut Self>) -> Option<DsqPcpus> {
        // SAFETY: `&mut self` is the only access to the DSQ. A non-null
        // `pcpu` came from `PerCpu::<DsqPcpu>::into_raw` (type invariant) and
        // is given back once, as it is cleared here.
        let pcpus = unsafe {
            let field = &mut (*self.as_raw()).pcpu;
            NonNull::new(core::mem::take(field)).map(|p| DsqPcpus(PerCpu::from_raw(p.cast())))
        }?;
        LIVE_DSQS.add(-1, Relaxed);
        Some(pcpus)
    }
}

#[pinned_drop]
impl PinnedDrop for Dsq {
    /// A destroyed user DSQ, dropped after its grace period
    /// ([`DestroyedDsqs`]): the exit of `free_dsq_rcufn()`.
    fn drop(self: Pin<&mut Self>) {
        drop(self.take_pcpu());
    }
}

/// One CPU's data of a DSQ, `struct scx_dsq_pcpu`.
///
/// # Invariants
///
/// `self` is a slot of a DSQ's per-CPU data made by `DsqPcpu::init`.
#[pin_data]
#[repr(transparent)]
pub struct DsqPcpu {
    #[pin]
    inner: Opaque<scx_dsq_pcpu>,
}

// SAFETY: C changes the slot's reenqueue state under the runqueue's
// `deferred_reenq_lock`; Rust reads only the back-pointer, set at init, and
// changes the link only through a `CpuList` made under that lock.
unsafe impl Send for DsqPcpu {}
// SAFETY: as above.
unsafe impl Sync for DsqPcpu {}

// SAFETY: the link is a `struct list_head` inside the `Opaque`, initialised
// empty by `DsqPcpu::init`; it is linked only on its CPU's runqueue list of
// `scx_dsq_pcpu`s, through the same field, and `DsqPcpus::drop` unlinks every
// slot under that list's lock before the data is freed.
unsafe impl CListItem for DsqPcpu {
    const LINK: usize = offset_of!(scx_dsq_pcpu, deferred_reenq_user.node);
}

impl DsqPcpu {
    /// Initialises one CPU's slot for the DSQ at `dsq`: the back-pointer,
    /// and an empty user reenqueue link.
    fn init(dsq: *mut scx_dispatch_q) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- Opaque::ffi_init(move |slot: *mut scx_dsq_pcpu| {
                // SAFETY: `slot` is valid for writes of a `scx_dsq_pcpu` (the
                // contract of `ffi_init`); writing through raw field pointers
                // reads nothing uninitialised; `INIT_LIST_HEAD()` only writes
                // the node. The other fields are plain C data, left as they
                // are.
                unsafe {
                    (&raw mut (*slot).dsq).write(dsq);
                    (&raw mut (*slot).deferred_reenq_user.flags).write(0);
                    bindings::INIT_LIST_HEAD(&raw mut (*slot).deferred_reenq_user.node);
                }
            }),
        })
    }
}

/// The per-CPU data of a DSQ taken back from it ([`Dsq::take_pcpu`]);
/// [`Drop`] unlinks any slot still on a runqueue's reenqueue list, with a
/// warning (nothing should be), and frees it (`free_percpu()`).
pub struct DsqPcpus(PerCpu<DsqPcpu>);

impl Drop for DsqPcpus {
    fn drop(&mut self) {
        // `free_dsqs()` cancelled the reenqueues of a destroyed DSQ before
        // its grace period and `schedule_dsq_reenq()` queues nothing after
        // that; a built-in DSQ is never a user DSQ. A slot still linked
        // would be left dangling on the runqueue's list: unlink it.
        for slot in self.0.iter() {
            let reenq = Rq::of(slot.cpu()).lock_deferred_reenq();
            let users = reenq.users();
            if warn_on!(users.is_linked(&slot)) {
                users.remove(&slot);
            }
        }
    }
}

/// The destroyed user DSQs sched_ext hands over to be freed after an RCU
/// grace period: the llist `free_dsq_irq_workfn()` takes off
/// `dsqs_to_free`. Iterating yields each DSQ as an [`RcuKBox`], whose drop
/// frees it after a grace period; dropping the list drops the DSQs not
/// taken.
///
/// # Invariants
///
/// `next` is null or the `free_node` of the first of a list of DSQs
/// initialised by [`Dsq::new`], destroyed by sched_ext (unhashed, so no new
/// user can find them), `kmalloc()`ed, owned by this value.
pub struct DestroyedDsqs {
    next: *mut llist_node,
}

// SAFETY: the value owns the DSQs on its list, which are `Send`.
unsafe impl Send for DestroyedDsqs {}

impl DestroyedDsqs {
    /// Takes over the list starting at `first`.
    ///
    /// # Safety
    ///
    /// `first` is null or the first node of a list of DSQs (linked through
    /// `free_node`) initialised by [`Dsq::new`], destroyed by sched_ext,
    /// `kmalloc()`ed, which the caller gives up; readers that found them
    /// before they were destroyed hold the RCU read lock.
    pub(crate) unsafe fn from_raw(first: *mut llist_node) -> Self {
        // INVARIANT: by the safety requirements.
        Self { next: first }
    }
}

impl Iterator for DestroyedDsqs {
    type Item = RcuKBox<Dsq>;

    fn next(&mut self) -> Option<RcuKBox<Dsq>> {
        let node = NonNull::new(self.next)?;
        // SAFETY: `node` is the `free_node` of an owned DSQ on the list (type
        // invariant): the next one is read before the DSQ is handed out, and
        // stepping back by the offset of `free_node` stays in the DSQ. The
        // DSQ is an initialised, `kmalloc()`ed `Dsq` that this value owned
        // and gives up, as `RcuKBox::from_raw` requires; readers that found
        // it hold the RCU read lock, which the drop of the box waits for.
        // INVARIANT: the DSQ is no longer on the list this value owns.
        unsafe {
            self.next = (*node.as_ptr()).next;
            let dsq = node.byte_sub(offset_of!(scx_dispatch_q, free_node));
            Some(RcuKBox::from_raw(dsq.cast()))
        }
    }
}

impl Drop for DestroyedDsqs {
    fn drop(&mut self) {
        self.for_each(drop);
    }
}

#[cfg(CONFIG_KUNIT)]
#[kernel::prelude::kunit_tests(scx_rs_dispatch_q)]
mod tests {
    use super::*;
    use crate::sync::percpu::possible_cpus;

    /// `dsq->id`.
    fn id(dsq: &Dsq) -> u64 {
        // SAFETY: set at init, never changed.
        unsafe { (*dsq.as_raw()).id }
    }

    #[test]
    fn init_sets_up_every_cpu() -> Result {
        let live = live_dsqs();
        let dsq = KBox::pin_init(Dsq::new(42, None), GFP_KERNEL)?;
        assert_eq!(id(&dsq), 42);
        assert_eq!(live_dsqs(), live + 1);
        let pcpu = dsq.pcpu().expect("per-CPU data");
        let mut n = 0;
        for slot in pcpu.iter() {
            // SAFETY: `pcpu->dsq` is set at init, never changed.
            let back = unsafe { (*slot.inner.get()).dsq };
            assert!(core::ptr::eq(back, dsq.as_raw()));
            let reenq = Rq::of(slot.cpu()).lock_deferred_reenq();
            assert!(!reenq.users().is_linked(&slot));
            n += 1;
        }
        assert_eq!(n, possible_cpus().count());
        drop(dsq);
        assert_eq!(live_dsqs(), live);
        Ok(())
    }

    /// As sched_ext calls them: init in memory it owns, then exit.
    #[test]
    fn in_place_init_and_exit() -> Result {
        let live = live_dsqs();
        let mut mem = KBox::<scx_dispatch_q>::new_uninit(GFP_KERNEL)?;
        let ptr = NonNull::from(&mut *mem).cast::<scx_dispatch_q>();
        // SAFETY: `ptr` is valid for writes of a DSQ and stays in place
        // until the exit below.
        unsafe { pin_init::raw_try_init(ptr.as_ptr().cast::<Dsq>(), Dsq::new(11, None)) }?;
        // SAFETY: initialised above, not exited.
        assert_eq!(unsafe { (*ptr.as_ptr()).id }, 11);
        assert_eq!(live_dsqs(), live + 1);
        // SAFETY: initialised, and nothing uses it any more.
        unsafe { Dsq::exit(ptr) };
        assert_eq!(live_dsqs(), live);
        Ok(())
    }
}
