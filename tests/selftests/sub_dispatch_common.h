/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-space helpers of scx_rs's sub_dispatch_* selftests.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#ifndef __SUB_DISPATCH_COMMON_H
#define __SUB_DISPATCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <scx/common.h>

static inline u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* a struct_ops link detaches on its last close: don't hold copies of it */
static inline void close_inherited_fds(void)
{
	int fd;

#ifdef SYS_close_range
	if (!syscall(SYS_close_range, 3, ~0U, 0))
		return;
#endif
	for (fd = 3; fd < 1024; fd++)
		close(fd);
}

static inline int cg_move(const char *cgrp, pid_t pid)
{
	char path[256], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgrp);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d", pid);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static inline void rmdir_retry(const char *path)
{
	int i;

	/* a reaped task may keep its cgroup populated for a moment */
	for (i = 0; i < 100; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return;
		usleep(10000);
	}
	SCX_ERR("Failed to remove %s (%d)", path, errno);
}

static inline bool uei_ok(const char *who, const struct user_exit_info *uei)
{
	if (uei->kind == EXIT_KIND(SCX_EXIT_NONE))
		return true;
	SCX_ERR("%s exited: kind=%d (%s) %s", who, uei->kind, uei->reason,
		uei->msg);
	return false;
}

#endif /* __SUB_DISPATCH_COMMON_H */
