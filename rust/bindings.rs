// SPDX-License-Identifier: GPL-2.0

//! The one FFI boundary of scx_rs.
//!
//! Kernel types and exported functions come from [`kernel::bindings`]; this
//! module adds the declarations of the C shims in `rust/helpers.c`, which
//! wrap APIs that are static inlines or macros in C. Nothing outside the
//! abstractions in [`crate::sync`] uses it.
//!
//! Each shim has exactly the contract of the C API it forwards to; the
//! callers' `// SAFETY:` comments argue from those.

pub(crate) use kernel::bindings::*;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

// `struct irq_work` reaches, through `struct rcuwait` and `task_struct`, a
// bindgen struct with no fields (`its_array`), which `improper_ctypes`
// rejects even behind a pointer; `rust/bindings/lib.rs` in the kernel allows
// the lint for the same reason. Only pointers cross the boundary.

// Exported kernel functions whose header `kernel::bindings` does not include.
#[expect(improper_ctypes)]
extern "C" {
    pub(crate) fn irq_work_queue(work: *mut irq_work) -> bool;
    pub(crate) fn irq_work_queue_on(work: *mut irq_work, cpu: c_int) -> bool;
    pub(crate) fn irq_work_sync(work: *mut irq_work);
}

// The C shims of rust/helpers.c.
#[expect(improper_ctypes)]
extern "C" {
    pub(crate) fn scx_rs_raw_spin_lock_init(
        lock: *mut raw_spinlock_t,
        name: *const c_char,
        key: *mut lock_class_key,
    );
    pub(crate) fn scx_rs_raw_spin_lock(lock: *mut raw_spinlock_t);
    pub(crate) fn scx_rs_raw_spin_unlock(lock: *mut raw_spinlock_t);
    pub(crate) fn scx_rs_raw_spin_trylock(lock: *mut raw_spinlock_t) -> c_int;
    pub(crate) fn scx_rs_raw_spin_lock_irqsave(lock: *mut raw_spinlock_t) -> c_ulong;
    pub(crate) fn scx_rs_raw_spin_unlock_irqrestore(lock: *mut raw_spinlock_t, flags: c_ulong);
    pub(crate) fn scx_rs_raw_spin_trylock_irqsave(
        lock: *mut raw_spinlock_t,
        flags: *mut c_ulong,
    ) -> c_int;
    pub(crate) fn scx_rs_raw_spin_assert_held(lock: *mut raw_spinlock_t);
    pub(crate) fn scx_rs_raw_spin_is_held(lock: *mut raw_spinlock_t) -> c_int;
    pub(crate) fn scx_rs_irqs_disabled() -> bool;

    pub(crate) fn scx_rs_alloc_percpu(size: usize, align: usize, gfp: gfp_t) -> *mut c_void;
    pub(crate) fn scx_rs_per_cpu_ptr(ptr: *mut c_void, cpu: c_uint) -> *mut c_void;
    pub(crate) fn scx_rs_this_cpu_ptr(ptr: *mut c_void) -> *mut c_void;
    pub(crate) fn scx_rs_next_possible_cpu(cpu: c_int) -> c_uint;
    pub(crate) fn scx_rs_num_possible_cpus() -> c_uint;
    pub(crate) fn scx_rs_cpu_online(cpu: c_uint) -> bool;
    pub(crate) fn scx_rs_preempt_disable();
    pub(crate) fn scx_rs_preempt_enable();
    pub(crate) fn scx_rs_smp_processor_id() -> c_uint;

    pub(crate) fn scx_rs_irq_work_flags(work: *mut irq_work) -> c_uint;
}
