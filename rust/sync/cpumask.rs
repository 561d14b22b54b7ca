// SPDX-License-Identifier: GPL-2.0

//! CPU masks that C code owns and changes with atomic bit operations.
//!
//! Many per-CPU bookkeeping masks of the kernel (sched_ext's kick masks,
//! say) are `cpumask_var_t` fields of C structures that several CPUs set
//! and clear concurrently with `cpumask_set_cpu()` and
//! `cpumask_clear_cpu()`, which are atomic, and read with
//! `cpumask_test_cpu()` and `for_each_cpu()`. The kernel crate's
//! [`Cpumask`](kernel::cpumask::Cpumask) changes bits through `&mut`, which
//! such a shared mask cannot give; [`AtomicCpumask`] offers the same
//! operations through a shared reference, so no `&mut` to memory other
//! CPUs also change is ever formed. Its bits are [`PossibleCpu`]s, so no
//! bit beyond the possible CPUs is ever touched.
//!
//! C header: [`include/linux/cpumask.h`](srctree/include/linux/cpumask.h)
//!
//! # Examples
//!
//! ```
//! use kernel::cpumask::CpumaskVar;
//! use scx_rs::sync::{cpumask::AtomicCpumask, percpu::possible_cpus};
//!
//! let var = CpumaskVar::new_zero(GFP_KERNEL)?;
//! // SAFETY: `var` is an allocated mask, which outlives `mask` and is
//! // changed only through it.
//! let mask = unsafe { AtomicCpumask::from_raw(var.as_raw()) };
//! let cpu = possible_cpus().last().expect("a possible CPU");
//! mask.set(cpu);
//! assert!(mask.test(cpu));
//! assert!(mask.iter().eq([cpu]));
//! mask.clear(cpu);
//! assert_eq!(mask.iter().count(), 0);
//! # Ok::<(), Error>(())
//! ```

use super::{
    field::{CObject, Field},
    percpu::PossibleCpu,
};
use crate::bindings;
use kernel::{
    cpu::nr_cpu_ids,
    sync::atomic::{Atomic, Relaxed},
    types::Opaque,
};

/// A `struct cpumask` changed only with atomic bit operations.
///
/// # Invariants
///
/// `self` is a valid `struct cpumask` of `nr_cpu_ids` bits, changed only with
/// atomic bit operations (`cpumask_set_cpu()`, `cpumask_clear_cpu()`) while
/// it is shared.
#[repr(transparent)]
pub struct AtomicCpumask(Opaque<bindings::cpumask>);

// SAFETY: Every access is an atomic bit operation or a read of bits, which
// C does concurrently too; no reference to the bits is handed out.
unsafe impl Sync for AtomicCpumask {}

impl AtomicCpumask {
    /// The mask at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a `struct cpumask` of at least `nr_cpu_ids` bits that
    /// stays valid for `'a` and is changed only with atomic bit operations
    /// meanwhile.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::cpumask) -> &'a Self {
        // INVARIANT: by the safety requirements.
        // SAFETY: `ptr` is valid for `'a` and `AtomicCpumask` is a transparent
        // wrapper of `struct cpumask`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The mask a `cpumask_var_t` holds.
    ///
    /// # Safety
    ///
    /// `var` points to a `cpumask_var_t` that is allocated (with
    /// `CONFIG_CPUMASK_OFFSTACK`) and stays valid for `'a`, whose mask is
    /// changed only with atomic bit operations meanwhile.
    #[inline]
    pub unsafe fn from_var<'a>(var: *mut bindings::cpumask_var_t) -> &'a Self {
        // Without `CONFIG_CPUMASK_OFFSTACK`, a `cpumask_var_t` is a
        // `struct cpumask[1]`; with it, a pointer to an allocated one.
        #[cfg(not(CONFIG_CPUMASK_OFFSTACK))]
        let mask = var.cast::<bindings::cpumask>();
        #[cfg(CONFIG_CPUMASK_OFFSTACK)]
        // SAFETY: `var` is valid for reads, and allocated, for `'a`.
        let mask = unsafe { *var };
        // SAFETY: `mask` is the `struct cpumask` that `var` holds, valid for
        // `'a` and changed only atomically meanwhile, as `from_raw` requires.
        unsafe { Self::from_raw(mask) }
    }

    /// The word of the mask that holds `cpu`'s bit, and the bit.
    #[inline]
    fn word(&self, cpu: PossibleCpu) -> (*mut usize, usize) {
        let i = cpu.as_u32() as usize;
        let bits = usize::BITS as usize;
        // With one word, `i < nr_cpu_ids <= NR_CPUS` is in it: say so at
        // compile time, as `NR_CPUS` does for C.
        let word = if ONE_WORD { 0 } else { i / bits };
        let bit = i % bits;
        // SAFETY: `cpu` is below `nr_cpu_ids` (`PossibleCpu`), which the
        // mask has at least as many bits as (type invariant), so the word is
        // inside the mask.
        let word = unsafe { self.0.get().cast::<usize>().add(word) };
        (word, bit)
    }

    /// Sets `cpu` (`cpumask_set_cpu()`).
    #[inline]
    pub fn set(&self, cpu: PossibleCpu) {
        // SAFETY: `cpu`'s bit is inside the mask, which is valid while `self`
        // is borrowed; `set_bit()` is atomic, as concurrent changes of the
        // mask are (type invariant).
        unsafe { bindings::set_bit(cpu.as_u32() as usize, self.0.get().cast()) }
    }

    /// Clears `cpu` (`cpumask_clear_cpu()`).
    #[inline]
    pub fn clear(&self, cpu: PossibleCpu) {
        // SAFETY: as in `set`, with `clear_bit()`.
        unsafe { bindings::clear_bit(cpu.as_u32() as usize, self.0.get().cast()) }
    }

    /// The words of the mask, `BITS_TO_LONGS(nr_cpu_ids)` of them, read
    /// as relaxed atomics: other CPUs set and clear bits meanwhile.
    #[inline]
    fn words(&self) -> &[Atomic<usize>] {
        // SAFETY: a `struct cpumask` is an array of at least `nr_words()`
        // `unsigned long`s, valid while `self` is borrowed (type invariant);
        // `Atomic<usize>` has the layout of `usize`, and every concurrent
        // change of the words is an atomic bit operation, so atomic reads
        // race with no plain access.
        unsafe { core::slice::from_raw_parts(self.0.get().cast::<Atomic<usize>>(), nr_words()) }
    }

    /// Whether `cpu` is set (`cpumask_test_cpu()`).
    #[inline]
    pub fn test(&self, cpu: PossibleCpu) -> bool {
        let (word, bit) = self.word(cpu);
        // SAFETY: the word is inside the mask, valid while `self` is
        // borrowed; `Atomic<usize>` has the layout of `usize`, and every
        // concurrent change of the word is an atomic bit operation, so an
        // atomic read races with no plain access.
        let word = unsafe { Atomic::<usize>::from_ptr(word) };
        (word.load(Relaxed) >> bit) & 1 != 0
    }

    /// The set CPUs, in increasing order (`for_each_cpu()`): each word is
    /// read once, the first when the iteration starts and each other one
    /// when the iteration reaches it, so bits changed meanwhile are seen or
    /// not as with the C iterator. Bits of CPUs that are not possible,
    /// which nothing should set, are skipped: each word is masked with the
    /// same word of `cpu_possible_mask` as it is read, so a CPU it yields
    /// needs no further check.
    #[inline]
    pub fn iter(&self) -> CpumaskIter<'_> {
        let words = self.words();
        let possible = possible_words();
        // `nr_words()` is at least 1: the `None` arms are not taken.
        let (rest, words) = match (words.split_first(), possible.first()) {
            (Some((first, others)), Some(p)) => (first.load(Relaxed) & *p, others),
            _ => (0, &[][..]),
        };
        CpumaskIter {
            words: words.iter(),
            possible,
            base: 0,
            rest,
        }
    }
}

/// Whether every CPU's bit is in a mask's first word: `NR_CPUS` is at most
/// a word's bits (the kernels of this project have 8), so
/// `1 <= nr_cpu_ids <= NR_CPUS <= usize::BITS`. C's `small_cpumask_bits`
/// makes the same fact a constant.
const ONE_WORD: bool = bindings::NR_CPUS as usize <= usize::BITS as usize;

/// `BITS_TO_LONGS(nr_cpu_ids)`: the words that hold the bits of CPUs; the
/// constant 1 with [`ONE_WORD`], so that the iterator scans one word known
/// at compile time, as `for_each_cpu()` does.
#[inline(always)]
fn nr_words() -> usize {
    if ONE_WORD {
        1
    } else {
        (nr_cpu_ids() as usize).div_ceil(usize::BITS as usize)
    }
}

/// The first [`nr_words`] words of `cpu_possible_mask`.
#[inline(always)]
fn possible_words() -> &'static [usize] {
    let mask = &raw const bindings::__cpu_possible_mask;
    // SAFETY: `mask` points to the static `struct cpumask` of `NR_CPUS`
    // bits `__cpu_possible_mask`, so a shared reference to it is valid for
    // `'static` as long as it is not written meanwhile: the possible CPUs
    // are fixed at boot, before any module runs
    // (`include/linux/cpumask.h`), so it never is once this code can run.
    let bits = unsafe { &(*mask).bits };
    // `nr_words()` is at most `BITS_TO_LONGS(NR_CPUS)`, since `nr_cpu_ids`
    // is at most `NR_CPUS`: never `None`.
    bits.get(..nr_words()).unwrap_or(&[])
}

/// The iterator of [`AtomicCpumask::iter`].
pub struct CpumaskIter<'a> {
    /// The words of the mask not yet read.
    words: core::slice::Iter<'a, Atomic<usize>>,
    /// The words of `cpu_possible_mask`, as many as the mask has.
    possible: &'static [usize],
    /// The number of the first bit of the word being scanned.
    base: usize,
    /// The bits of the word being scanned not yet returned, all of them
    /// possible CPUs'.
    rest: usize,
}

impl Iterator for CpumaskIter<'_> {
    type Item = PossibleCpu;

    #[inline]
    fn next(&mut self) -> Option<PossibleCpu> {
        // With one word (`NR_CPUS` at most a word's bits), `words` is empty
        // from the start and this loop is compiled out.
        while self.rest == 0 {
            let word = self.words.next()?;
            self.base += usize::BITS as usize;
            // Keep only the bits of possible CPUs; `possible` has a word
            // for each word of the mask, so this is never `None`.
            let possible = *self.possible.get(self.base / usize::BITS as usize)?;
            self.rest = word.load(Relaxed) & possible;
        }
        // Take the lowest set bit; the word is not re-read until the scan
        // moves past it.
        let bit = self.rest.trailing_zeros() as usize;
        self.rest &= self.rest - 1;
        // `base` is a multiple of the word size and `bit` below it.
        let cpu = self.base | bit;
        // SAFETY: `cpu`'s bit is set in `cpu_possible_mask` (`rest` holds
        // only such bits), so it is a possible CPU's id; that is below
        // `nr_cpu_ids`, so the cast keeps it.
        Some(unsafe { PossibleCpu::from_u32_unchecked(cpu as u32) })
    }
}

/// The protection of a `cpumask_var_t` field (a
/// [`Field`](super::field::Field) of one): its mask is allocated before the
/// object can be borrowed, freed after, and changed only with atomic bit
/// operations meanwhile; [`Field::mask`] borrows it.
///
/// [`Field::mask`]: super::field::Field::mask
pub enum AtomicMask {}

impl<O: CObject> Field<O, bindings::cpumask_var_t, AtomicMask> {
    /// The mask of the field, borrowed with `obj`.
    #[inline(always)]
    pub fn mask(self, obj: &O) -> &AtomicCpumask {
        // SAFETY: the field of the live object is an allocated
        // `cpumask_var_t` valid while `obj` is borrowed, which bounds the
        // reference, and changed only atomically meanwhile (`AtomicMask`,
        // type invariant of `Field`), as `from_var` requires.
        unsafe { AtomicCpumask::from_var(self.project(obj)) }
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kernel::prelude::kunit_tests(scx_rs_cpumask)]
mod tests {
    use super::*;
    use crate::sync::{
        cpu_online,
        irq_work::{IrqWork, IrqWorkFn, IrqWorkKind},
        percpu::{possible_cpus, PerCpu, PreemptGuard},
    };
    use core::pin::Pin;
    use kernel::{cpumask::CpumaskVar, prelude::*, sync::Arc};

    /// A mask shared by the irq_works of a test, each setting its own CPU.
    struct Shared(CpumaskVar);

    // SAFETY: the mask is changed only through `AtomicCpumask`, atomically.
    unsafe impl Send for Shared {}
    // SAFETY: as above.
    unsafe impl Sync for Shared {}

    impl Shared {
        fn mask(&self) -> &AtomicCpumask {
            // SAFETY: the mask is allocated, lives as long as `self` and is
            // changed only through this view.
            unsafe { AtomicCpumask::from_raw(self.0.as_raw()) }
        }
    }

    struct SetMine(Arc<Shared>);

    impl IrqWorkFn for SetMine {
        fn run(work: Pin<&IrqWork<Self>>) {
            let g = PreemptGuard::new();
            work.0.mask().set(PossibleCpu::current(&g));
        }
    }

    #[test]
    fn set_clear_test_iter() -> Result {
        let shared = Shared(CpumaskVar::new_zero(GFP_KERNEL)?);
        let mask = shared.mask();
        assert_eq!(mask.iter().count(), 0);
        for cpu in possible_cpus() {
            assert!(!mask.test(cpu));
            mask.set(cpu);
            assert!(mask.test(cpu));
        }
        // Every possible CPU, in order, and nothing else.
        assert!(mask.iter().eq(possible_cpus()));
        for cpu in possible_cpus().step_by(2) {
            mask.clear(cpu);
        }
        assert!(mask.iter().eq(possible_cpus().skip(1).step_by(2)));
        // The kernel crate's reading of the same bits agrees.
        for cpu in possible_cpus() {
            assert_eq!(shared.0.test(cpu.id()), mask.test(cpu));
        }
        Ok(())
    }

    /// Bits that are not possible CPUs' (here: every bit of the first word
    /// past the possible CPUs, written by hand as C code could) are not
    /// yielded: the iterator yields exactly the possible CPUs.
    #[test]
    fn iter_skips_bits_of_impossible_cpus() -> Result {
        let var = CpumaskVar::new_zero(GFP_KERNEL)?;
        // SAFETY: `var` is an allocated mask of at least one word, not
        // shared: a plain write of its first word races with nothing.
        unsafe { var.as_raw().cast::<usize>().write(usize::MAX) };
        // SAFETY: `var` outlives `mask`, and is changed only through it.
        let mask = unsafe { AtomicCpumask::from_raw(var.as_raw()) };
        let first_word = possible_cpus().take_while(|c| c.as_u32() < usize::BITS);
        assert!(mask.iter().eq(first_word));
        Ok(())
    }

    /// Every online CPU sets its own bit from hard IRQ context at the same
    /// time; no bit is lost.
    #[test]
    fn concurrent_sets_from_every_cpu() -> Result {
        let shared = Arc::new(Shared(CpumaskVar::new_zero(GFP_KERNEL)?), GFP_KERNEL)?;
        let works = PerCpu::pin_init(GFP_KERNEL, |_| {
            IrqWork::new(IrqWorkKind::Hard, SetMine(shared.clone()))
        })?;
        for w in works.iter().filter(|w| cpu_online(w.cpu().id())) {
            assert!(w.get().queue_on(w.cpu()));
        }
        for w in works.iter() {
            w.sync();
        }
        let online = possible_cpus().filter(|c| cpu_online(c.id()));
        assert!(shared.mask().iter().eq(online));
        Ok(())
    }
}
