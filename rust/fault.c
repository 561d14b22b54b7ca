// SPDX-License-Identifier: GPL-2.0
/*
 * A fault-injection point in front of scx_rs's per-CPU allocations.
 *
 * The per-CPU allocator has no fault-injection knob of its own: failslab
 * and fail_page_alloc reach it only when it needs a new chunk, which is
 * rare. scx_rs's per-CPU allocations (each DSQ's per-CPU data) go through
 * scx_rs_alloc_percpu(), which asks this point first. With
 * CONFIG_FAULT_INJECTION_DEBUG_FS it is configured like the kernel's own
 * points, in /sys/kernel/debug/fail_scx_rs_percpu/ (probability, interval,
 * times, space, verbose, task-filter; see
 * Documentation/fault-injection/fault-injection.rst); it injects nothing
 * until probability is set. Used by make stress.
 */

#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fault-inject.h>

#include "helpers.h"

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS

static DECLARE_FAULT_ATTR(scx_rs_fail_percpu);
static struct dentry *scx_rs_fail_percpu_dir;

void scx_rs_fault_init(void)
{
	struct dentry *dir;

	dir = fault_create_debugfs_attr("fail_scx_rs_percpu", NULL,
					&scx_rs_fail_percpu);
	scx_rs_fail_percpu_dir = IS_ERR(dir) ? NULL : dir;
}

void scx_rs_fault_exit(void)
{
	debugfs_remove_recursive(scx_rs_fail_percpu_dir);
	scx_rs_fail_percpu_dir = NULL;
}

bool scx_rs_should_fail_percpu(size_t size)
{
	return should_fail(&scx_rs_fail_percpu, size);
}

#else

void scx_rs_fault_init(void)
{
}

void scx_rs_fault_exit(void)
{
}

bool scx_rs_should_fail_percpu(size_t size)
{
	return false;
}

#endif
