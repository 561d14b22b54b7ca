// SPDX-License-Identifier: GPL-2.0

//! Fields of C-owned objects, each read as its protection allows.
//!
//! Rust code that borrows an object C owns (a runqueue, a scheduler, a task)
//! reads some of its fields directly, and what makes each read sound is a
//! property of the C code that writes the field: it is set before the object
//! is shared and never changed, or changed only with atomic operations, or
//! only under some lock. Written out at each read, the same argument is
//! repeated at every use and checked nowhere. Here it is stated once per
//! field, in a table of [`Field`]s built in one `unsafe` block whose
//! `// SAFETY:` comment argues each entry against the C code, and the
//! accessors are safe. The protection is a type parameter of the field, so
//! a field can only be read in the way its protection allows:
//!
//! - [`Const`]: set before the object can be borrowed and not changed while
//!   it is: read with a plain load ([`Field::get`]);
//! - [`Marked`]: changed while the object is shared only with marked
//!   accesses (atomics, `WRITE_ONCE()`, `set_bit()`): read with a relaxed
//!   atomic load ([`Field::load`]), never written;
//! - [`Pointee`]: a constant pointer to an object, wrapped by a Rust type,
//!   that outlives this one ([`Field::deref`]);
//! - [`RacyWord`]: an aligned word changed with plain stores (under a lock
//!   the reader does not hold, or by its owner) that C itself reads
//!   locklessly with a plain load, tolerating the race: read with a relaxed
//!   atomic load ([`Field::load`]), which races with those stores exactly as
//!   C's read does, no less and no more.
//!
//! Other protections are defined where their proof lives: a field of a
//! per-CPU pointer ([`PerCpuShared`](super::percpu::PerCpuShared)), a
//! `cpumask_var_t` changed atomically ([`AtomicMask`](super::cpumask::AtomicMask)),
//! a field protected by a lock whose guard is the proof (the runqueue's, in
//! scx_rs's sched_ext layer). They use [`Field::project`], which only
//! computes the field's address.
//!
//! There is no write of a field of any of these protections: C trusts their values (a pointer, a CPU id), and safe code that
//! could set one could point C anywhere.
//!
//! # Examples
//!
//! ```
//! use core::ptr::NonNull;
//! use kernel::{ptr::project, sync::atomic::{Atomic, Relaxed}, types::Opaque};
//! use scx_rs::sync::field::{CObject, Const, Field, Marked};
//!
//! /// A C structure: an id set at creation, and a counter other CPUs
//! /// increment atomically.
//! #[repr(C)]
//! struct RawObj {
//!     id: u64,
//!     hits: u64,
//! }
//!
//! #[repr(transparent)]
//! struct Obj(Opaque<RawObj>);
//!
//! // SAFETY: `Obj` is a transparent wrapper of `Opaque<RawObj>`; a `&Obj`
//! // is made only from a live `RawObj`, below.
//! unsafe impl CObject for Obj {
//!     type Raw = RawObj;
//! }
//!
//! struct ObjFields {
//!     id: Field<Obj, u64, Const>,
//!     hits: Field<Obj, u64, Marked>,
//! }
//!
//! // SAFETY: each projection is `project!` of the field it names; `id` is
//! // set when the object is made and never changed, `hits` changed only
//! // with atomic operations.
//! const OBJ: ObjFields = unsafe {
//!     ObjFields {
//!         id: Field::<Obj, _, _>::new(|o| project!(mut o, .id)),
//!         hits: Field::<Obj, _, _>::new(|o| project!(mut o, .hits)),
//!     }
//! };
//!
//! let raw = Opaque::new(RawObj { id: 7, hits: 0 });
//! // SAFETY: `raw` is a live `RawObj` for the borrow.
//! let obj = unsafe { Obj::from_raw(NonNull::new(raw.get()).unwrap()) };
//! // What another CPU would do, through C's `atomic64_inc()`:
//! // SAFETY: `hits` is only accessed atomically.
//! unsafe { Atomic::from_ptr(&raw mut (*raw.get()).hits) }.add(1, Relaxed);
//! assert_eq!(OBJ.id.get(obj), 7);
//! assert_eq!(OBJ.hits.load(obj), 1);
//! ```
//!
//! A field is read only as its protection allows: a [`Const`] field cannot
//! be written, nor loaded atomically.
//!
//! ```compile_fail,E0599
//! use core::ptr::NonNull;
//! use kernel::{ptr::project, types::Opaque};
//! use scx_rs::sync::field::{CObject, Const, Field};
//!
//! #[repr(C)]
//! struct RawObj {
//!     cpu: u32,
//! }
//! #[repr(transparent)]
//! struct Obj(Opaque<RawObj>);
//! // SAFETY: as above.
//! unsafe impl CObject for Obj {
//!     type Raw = RawObj;
//! }
//! // SAFETY: `cpu` is set when the object is made and never changed.
//! const CPU: Field<Obj, u32, Const> = unsafe { Field::<Obj, _, _>::new(|o| project!(mut o, .cpu)) };
//!
//! let raw = Opaque::new(RawObj { cpu: 1 });
//! // SAFETY: `raw` is live for the borrow.
//! let obj = unsafe { Obj::from_raw(NonNull::new(raw.get()).unwrap()) };
//! CPU.set(obj, 1000);
//! ```

use core::{marker::PhantomData, ptr::NonNull};
use kernel::sync::atomic::{Atomic, Relaxed};

/// A Rust type that borrows an object C owns: a `&Self` is the C object,
/// alive.
///
/// # Safety
///
/// `Self` is a `#[repr(transparent)]` wrapper of `Opaque<Self::Raw>` (a
/// `&Self` is a pointer to a `Self::Raw`), and the type's own invariants
/// make a `&Self` exist only while the object is live: allocated, and
/// initialised as far as the type's fields need. The wrapper states, in its
/// invariants, what else holds while it is borrowed; the protections of its
/// fields are argued from those. Implementations do not override the
/// provided methods, which [`Field`] relies on.
pub unsafe trait CObject: Sized {
    /// The C structure.
    type Raw;

    /// The C structure's pointer.
    #[inline(always)]
    fn as_raw(&self) -> *mut Self::Raw {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// Borrows the object `ptr` points to.
    ///
    /// # Safety
    ///
    /// `ptr` points to an object for which the invariants of `Self` hold
    /// for `'a`.
    #[inline(always)]
    unsafe fn from_raw<'a>(ptr: NonNull<Self::Raw>) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper of the object (trait
        // contract), which is valid for `'a` (safety requirements).
        unsafe { ptr.cast::<Self>().as_ref() }
    }
}

/// Set before the object can be borrowed and not changed while it is.
pub enum Const {}

/// Changed while the object is shared only with marked accesses (atomic
/// operations, `WRITE_ONCE()`, `smp_store_release()`, `set_bit()`): read
/// with relaxed atomic loads only.
pub enum Marked {}

/// An aligned machine word changed with plain stores that C itself reads
/// locklessly with plain loads, a data race C tolerates as benign (no
/// tearing of an aligned word, no ordering implied): read with relaxed
/// atomic loads only, which race with those stores as C's own reads do.
///
/// This does not meet [`Atomic::from_ptr`]'s contract to the letter (the
/// other side's stores are not marked); it is the C code's own race, made
/// no worse, and is kept apart from [`Marked`] so that each use of it is
/// visible.
pub enum RacyWord {}

/// A pointer, set before the object can be borrowed and not changed while
/// it is, to an object wrapped by the pointee's Rust type, whose invariants
/// hold for as long as the object holding the pointer is borrowed.
pub enum Pointee {}

/// The field of `F` of a C object `O`, protected as `P` says.
///
/// # Invariants
///
/// `project` returns, computed from the pointer to an `O::Raw` it is given,
/// the address of a field of that object, aligned, holding a valid `F` and
/// accessed by C as `P` describes; for [`Pointee`], the
/// invariants of the wrapper type hold as `P` describes.
pub struct Field<O: CObject, F, P> {
    project: fn(*mut O::Raw) -> *mut F,
    _protection: PhantomData<fn() -> P>,
}

impl<O: CObject, F, P> Clone for Field<O, F, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: CObject, F, P> Copy for Field<O, F, P> {}

impl<O: CObject, F, P> Field<O, F, P> {
    /// The field of `F` that `project` finds, protected as `P`.
    ///
    /// # Safety
    ///
    /// `project` is as the type invariant says: for the object it is given,
    /// it returns the address of a field holding a valid `F`, accessed by C
    /// as `P` describes.
    pub const unsafe fn new(project: fn(*mut O::Raw) -> *mut F) -> Self {
        // INVARIANT: by the safety requirements.
        Self {
            project,
            _protection: PhantomData,
        }
    }

    /// The address of the field of `obj`, for protections defined
    /// elsewhere; computing it accesses nothing.
    #[inline(always)]
    pub fn project(self, obj: &O) -> *mut F {
        (self.project)(obj.as_raw())
    }
}

impl<O: CObject, F: Copy> Field<O, F, Const> {
    /// The field's value.
    #[inline(always)]
    pub fn get(self, obj: &O) -> F {
        // SAFETY: the field of the live object holds a valid `F`, aligned,
        // and does not change while `obj` is borrowed (type invariant).
        unsafe { self.project(obj).read() }
    }
}

// `Atomic<T>::load` needs a bound on `T`'s representation that the kernel
// crate does not export, so `load` is implemented for each integer type
// (and `bool`) that has atomic loads.
macro_rules! impl_load {
    ($p:ty: $($t:ty),*) => {
        $(
            impl<O: CObject> Field<O, $t, $p> {
                /// The field's value, loaded as `READ_ONCE()` does (relaxed).
                #[inline(always)]
                pub fn load(self, obj: &O) -> $t {
                    // SAFETY: the field of the live object is an aligned
                    // value, valid while `obj` is borrowed (type invariant),
                    // and C writes it only as the protection says: with
                    // marked accesses (`Marked`: no data race), or with
                    // plain stores of the aligned word that C's own plain
                    // loads race with too (`RacyWord`: this load races with
                    // them no more, without tearing and with no ordering
                    // either way). An atomic load makes no reference to it.
                    unsafe { Atomic::from_ptr(self.project(obj)) }.load(Relaxed)
                }
            }
        )*
    };
}

impl_load!(Marked: bool, i32, u32, i64, u64, isize, usize);
impl_load!(RacyWord: i32, u32, i64, u64, isize, usize);

impl<O: CObject, W> Field<O, *mut W, Pointee> {
    /// The object the field points to, as its wrapper.
    #[inline(always)]
    pub fn deref(self, obj: &O) -> &W {
        // SAFETY: the field is constant while `obj` is borrowed and points to
        // a `W` whose invariants hold for as long (type invariant).
        unsafe { &*self.project(obj).read() }
    }
}

// The samples include this file too; only scx_rs.ko runs its tests.
#[cfg(not(scx_rs_sample))]
#[kernel::prelude::kunit_tests(scx_rs_field)]
mod tests {
    use super::*;
    use kernel::{ptr::project, types::Opaque};

    /// A C-like structure with one field of each protection.
    #[repr(C)]
    struct RawObj {
        id: u32,
        hits: u64,
        peer: *mut RawObj,
        word: u32,
    }

    #[repr(transparent)]
    struct Obj(Opaque<RawObj>);

    // SAFETY: a transparent wrapper of `Opaque<RawObj>`, borrowed only from
    // objects the tests keep alive.
    unsafe impl CObject for Obj {
        type Raw = RawObj;
    }

    struct ObjFields {
        id: Field<Obj, u32, Const>,
        hits: Field<Obj, u64, Marked>,
        peer: Field<Obj, *mut Obj, Pointee>,
        word: Field<Obj, u32, RacyWord>,
    }

    // SAFETY: each projection is `project!` of the field it names; the tests
    // below keep to the protections: `id` and `peer` are not changed while
    // borrowed, `hits` is changed atomically, `peer` points to a live object, `word` is only read.
    const OBJ: ObjFields = unsafe {
        ObjFields {
            id: Field::<Obj, _, _>::new(|o| project!(mut o, .id)),
            hits: Field::<Obj, _, _>::new(|o| project!(mut o, .hits)),
            peer: Field::<Obj, _, _>::new(|o| project!(mut o, .peer).cast()),
            word: Field::<Obj, _, _>::new(|o| project!(mut o, .word)),
        }
    };

    fn raw_obj(id: u32, peer: *mut RawObj) -> Opaque<RawObj> {
        Opaque::new(RawObj {
            id,
            hits: 0,
            peer,
            word: id + 100,
        })
    }

    /// Borrows `raw`.
    fn obj(raw: &Opaque<RawObj>) -> &Obj {
        // SAFETY: `raw` is a live `RawObj` for the borrow, which `Obj`
        // requires.
        unsafe { Obj::from_raw(NonNull::new(raw.get()).unwrap()) }
    }

    #[test]
    fn each_protection_reads_its_own_field() {
        let peer = raw_obj(1, core::ptr::null_mut());
        let raw = raw_obj(2, peer.get());
        let o = obj(&raw);
        assert_eq!(o.as_raw(), raw.get());
        assert_eq!(OBJ.id.get(o), 2);
        assert_eq!(OBJ.hits.load(o), 0);
        assert_eq!(OBJ.peer.deref(o).as_raw(), peer.get());
        assert_eq!(OBJ.id.get(OBJ.peer.deref(o)), 1);
    }

    /// A `Marked` load sees atomic stores of others, as C's `READ_ONCE()`.
    #[test]
    fn marked_load_sees_atomic_stores() {
        let raw = raw_obj(3, core::ptr::null_mut());
        let o = obj(&raw);
        for i in 1..=5u64 {
            // SAFETY: `hits` is accessed only atomically.
            unsafe { Atomic::from_ptr(&raw mut (*raw.get()).hits) }.add(1, Relaxed);
            assert_eq!(OBJ.hits.load(o), i);
        }
    }

    #[test]
    fn racy_word_loads_the_word() {
        let raw = raw_obj(4, core::ptr::null_mut());
        let o = obj(&raw);
        assert_eq!(OBJ.word.load(o), 104);
        // Only the field was read.
        assert_eq!(OBJ.id.get(o), 4);
    }

    /// `project` computes the address of the field, in the object.
    #[test]
    fn project_is_the_field_address() {
        let raw = raw_obj(5, core::ptr::null_mut());
        let o = obj(&raw);
        let base = raw.get() as usize;
        assert_eq!(
            OBJ.hits.project(o) as usize - base,
            core::mem::offset_of!(RawObj, hits)
        );
        assert_eq!(
            OBJ.word.project(o) as usize - base,
            core::mem::offset_of!(RawObj, word)
        );
    }
}
