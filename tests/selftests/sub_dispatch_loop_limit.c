/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (c) 2026 The scx_rs developers
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <scx/common.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sub_dispatch_loop_limit.bpf.skel.h"
#include "scx_test.h"
#include "sub_dispatch_common.h"

#define CHILD_CGRP	"/sys/fs/cgroup/scx_sdl"

/* cids counted, the same in sub_dispatch_loop_limit.bpf.c */
#define MAX_CIDS	512

/* workers 0 and 1 stay with the root, 2 and 3 go to the child */
#define NR_ROOT		2
#define NR_WORKERS	(NR_ROOT + 2)
#define SLEEPER		NR_WORKERS
#define RUN_S		2
#define MIN_ITERS	10
#define BURST_LOOPS	10000
#define WORKER_MAX_NS	(30ULL * 1000 * 1000 * 1000)

struct sdl_shm {
	volatile int go;
	volatile u64 iters[NR_WORKERS];
};

struct sdl_ctx {
	struct sub_dispatch_loop_limit *skel;
	struct bpf_link *links[2];
	struct sdl_shm *shm;
	pid_t pids[NR_WORKERS + 1];	/* the workers, then the sleeper */
};

static void child_prep(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_inherited_fds();
}

/* a burst of CPU and a sleep, leaving the CPUs idle now and then */
static void __attribute__((noreturn)) worker(struct sdl_shm *shm, int idx)
{
	u64 deadline = now_ns() + WORKER_MAX_NS;
	volatile u64 sum = 0;
	u64 i;

	child_prep();
	while (!shm->go)
		usleep(1000);
	while (now_ns() < deadline) {
		for (i = 0; i < BURST_LOOPS; i++)
			sum += i;
		shm->iters[idx]++;
		usleep(500);
	}
	_exit(0);
}

/* owned by the child and never queued on it */
static void __attribute__((noreturn)) sleeper(void)
{
	child_prep();
	for (;;)
		pause();
}

/* fork worker @idx, or the sleeper, and move it into @cgrp unless NULL */
static int spawn(struct sdl_ctx *c, int idx, const char *cgrp)
{
	pid_t pid;
	int ret;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		if (idx == SLEEPER)
			sleeper();
		worker(c->shm, idx);
	}
	c->pids[idx] = pid;
	if (!cgrp)
		return 0;
	ret = cg_move(cgrp, pid);
	if (ret)
		SCX_ERR("Failed to move task %d into %s (%d)", idx, cgrp, ret);
	return ret;
}

static void stop_workers(struct sdl_ctx *c)
{
	int i;

	for (i = 0; i <= SLEEPER; i++) {
		if (c->pids[i] <= 0)
			continue;
		kill(c->pids[i], SIGKILL);
		waitpid(c->pids[i], NULL, 0);
		c->pids[i] = 0;
	}
}

static enum scx_test_status setup(void **ctx)
{
	struct sdl_ctx *c;
	struct stat child;
	u64 loops;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		return SCX_TEST_SKIP;
	SCX_FAIL_IF(!__COMPAT_read_enum("scx_consts", "SCX_DSP_MAX_LOOPS", &loops),
		    "SCX_DSP_MAX_LOOPS is missing from the kernel's BTF");
	if ((mkdir(CHILD_CGRP, 0755) && errno != EEXIST) ||
	    stat(CHILD_CGRP, &child)) {
		SCX_ERR("Failed to create %s", CHILD_CGRP);
		return SCX_TEST_FAIL;
	}

	c = calloc(1, sizeof(*c));
	SCX_FAIL_IF(!c, "Failed to allocate");
	c->shm = mmap(NULL, sizeof(*c->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SCX_FAIL_IF(c->shm == MAP_FAILED, "Failed to mmap");
	c->skel = sub_dispatch_loop_limit__open();
	SCX_FAIL_IF(!c->skel, "Failed to open");
	SCX_ENUM_INIT(c->skel);
	c->skel->struct_ops.sdl_child_ops->sub_cgroup_id = child.st_ino;
	c->skel->rodata->child_cgid = child.st_ino;
	c->skel->rodata->max_loops = loops;
	SCX_FAIL_IF(sub_dispatch_loop_limit__load(c->skel), "Failed to load skel");

	*ctx = c;

	return SCX_TEST_PASS;
}

static enum scx_test_status run(void *ctx)
{
	struct sdl_ctx *c = ctx;
	struct sub_dispatch_loop_limit *skel = c->skel;
	u64 iters[NR_WORKERS], steps = 0, hits = 0, found = 0;
	u32 max = 0;
	int i;

	c->links[0] = bpf_map__attach_struct_ops(skel->maps.sdl_root_ops);
	SCX_FAIL_IF(!c->links[0], "Failed to attach the root");
	c->links[1] = bpf_map__attach_struct_ops(skel->maps.sdl_child_ops);
	SCX_FAIL_IF(!c->links[1], "Failed to attach the child");

	SCX_FAIL_IF(spawn(c, SLEEPER, CHILD_CGRP), "Failed to start the sleeper");
	for (i = 0; i < NR_WORKERS; i++)
		SCX_FAIL_IF(spawn(c, i, i < NR_ROOT ? NULL : CHILD_CGRP),
			    "Failed to start worker %d", i);
	c->shm->go = 1;
	skel->bss->sleeper_pid = c->pids[SLEEPER];

	sleep(RUN_S);

	skel->bss->sleeper_pid = 0;
	for (i = 0; i < NR_WORKERS; i++)
		iters[i] = c->shm->iters[i];
	for (i = 0; i < MAX_CIDS; i++) {
		if (skel->arena->max_calls[i] > max)
			max = skel->arena->max_calls[i];
		steps += skel->arena->nr_steps[i];
		hits += skel->arena->nr_limit_hits[i];
		found += skel->arena->nr_found[i];
	}

	printf("iterations:");
	for (i = 0; i < NR_WORKERS; i++)
		printf(" %lu", (unsigned long)iters[i]);
	printf("\n");
	printf("nested steps %lu, found %lu, at the limit %lu, most calls %u (limit %u)\n",
	       (unsigned long)steps, (unsigned long)found, (unsigned long)hits,
	       max, skel->rodata->max_loops);
	printf("child: dispatched %lu moved %lu spurious %lu\n",
	       (unsigned long)skel->arena->nr_child_dispatched,
	       (unsigned long)skel->arena->nr_child_moved,
	       (unsigned long)skel->arena->nr_spurious);

	SCX_ASSERT(uei_ok("root", &skel->data->uei));
	SCX_ASSERT(uei_ok("child", &skel->data->uei_child));
	SCX_EQ(skel->arena->nr_attached, 1);
	SCX_EQ(skel->arena->nr_grant_failed, 0);

	/* scx_bpf_dsq_insert() took the sleeper: it is the child's */
	SCX_GT(skel->arena->nr_spurious, 0);
	/* a nested step calls the child SCX_DSP_MAX_LOOPS times at most */
	SCX_EQ(max, skel->rodata->max_loops);
	SCX_GT(hits, 0);
	/* and the child's own tasks still run through nested steps */
	SCX_GT(found, 0);
	SCX_GT(skel->arena->nr_child_moved, 0);

	for (i = 0; i < NR_WORKERS; i++)
		SCX_FAIL_IF(iters[i] < MIN_ITERS,
			    "Worker %d (%s) made %lu < %d iterations", i,
			    i < NR_ROOT ? "root" : "child", (unsigned long)iters[i],
			    MIN_ITERS);

	return SCX_TEST_PASS;
}

static void cleanup(void *ctx)
{
	struct sdl_ctx *c = ctx;

	c->skel->bss->sleeper_pid = 0;
	stop_workers(c);
	if (c->links[1])
		bpf_link__destroy(c->links[1]);
	if (c->links[0])
		bpf_link__destroy(c->links[0]);
	sub_dispatch_loop_limit__destroy(c->skel);
	munmap(c->shm, sizeof(*c->shm));
	free(c);
	rmdir_retry(CHILD_CGRP);
}

struct scx_test sub_dispatch_loop_limit = {
	.name = "sub_dispatch_loop_limit",
	.description = "Verify that a child which keeps inserting an ineligible "
		       "task ends each nested dispatch step after "
		       "SCX_DSP_MAX_LOOPS calls and that everyone still runs",
	.setup = setup,
	.run = run,
	.cleanup = cleanup,
};
REGISTER_SCX_TEST(&sub_dispatch_loop_limit)
