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
#include "sub_dispatch_nested.bpf.skel.h"
#include "scx_test.h"
#include "sub_dispatch_common.h"

#define CHILD_CGRP	"/sys/fs/cgroup/scx_sdn"
#define LEAF_CGRP	CHILD_CGRP "/leaf"

#define NR_PER_LEVEL	3
#define NR_WORKERS	(3 * NR_PER_LEVEL)
#define RUN_S		2
#define MIN_ITERS	10
#define BURST_LOOPS	10000
#define WORKER_MAX_NS	(30ULL * 1000 * 1000 * 1000)

struct sdn_shm {
	volatile int go;
	volatile u64 iters[NR_WORKERS];
};

struct sdn_ctx {
	struct sub_dispatch_nested *skel;
	struct bpf_link *links[3];
	struct sdn_shm *shm;
	pid_t pids[NR_WORKERS];
};

/* a burst of CPU, then a short sleep or a yield, counting the rounds */
static void __attribute__((noreturn)) worker(struct sdn_shm *shm, int idx)
{
	u64 deadline = now_ns() + WORKER_MAX_NS;
	volatile u64 sum = 0;
	u64 i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_inherited_fds();
	while (!shm->go)
		usleep(1000);
	while (now_ns() < deadline) {
		for (i = 0; i < BURST_LOOPS; i++)
			sum += i;
		shm->iters[idx]++;
		if (idx & 1)
			usleep(200);
		else
			sched_yield();
	}
	_exit(0);
}

/* fork worker @idx and, unless @cgrp is NULL, move it into @cgrp */
static int spawn(struct sdn_ctx *c, int idx, const char *cgrp)
{
	pid_t pid;
	int ret;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		worker(c->shm, idx);
	c->pids[idx] = pid;
	if (!cgrp)
		return 0;
	ret = cg_move(cgrp, pid);
	if (ret)
		SCX_ERR("Failed to move worker %d into %s (%d)", idx, cgrp, ret);
	return ret;
}

static void stop_workers(struct sdn_ctx *c)
{
	int i;

	for (i = 0; i < NR_WORKERS; i++) {
		if (c->pids[i] <= 0)
			continue;
		kill(c->pids[i], SIGKILL);
		waitpid(c->pids[i], NULL, 0);
		c->pids[i] = 0;
	}
}

static enum scx_test_status setup(void **ctx)
{
	struct sdn_ctx *c;
	struct stat child, leaf;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		return SCX_TEST_SKIP;
	if ((mkdir(CHILD_CGRP, 0755) && errno != EEXIST) ||
	    (mkdir(LEAF_CGRP, 0755) && errno != EEXIST) ||
	    stat(CHILD_CGRP, &child) || stat(LEAF_CGRP, &leaf)) {
		SCX_ERR("Failed to create %s", LEAF_CGRP);
		return SCX_TEST_FAIL;
	}

	c = calloc(1, sizeof(*c));
	SCX_FAIL_IF(!c, "Failed to allocate");
	c->shm = mmap(NULL, sizeof(*c->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SCX_FAIL_IF(c->shm == MAP_FAILED, "Failed to mmap");
	c->skel = sub_dispatch_nested__open();
	SCX_FAIL_IF(!c->skel, "Failed to open");
	SCX_ENUM_INIT(c->skel);
	c->skel->struct_ops.sdn_child_ops->sub_cgroup_id = child.st_ino;
	c->skel->struct_ops.sdn_leaf_ops->sub_cgroup_id = leaf.st_ino;
	c->skel->rodata->child_cgid = child.st_ino;
	c->skel->rodata->leaf_cgid = leaf.st_ino;
	SCX_FAIL_IF(sub_dispatch_nested__load(c->skel), "Failed to load skel");

	*ctx = c;

	return SCX_TEST_PASS;
}

static enum scx_test_status run(void *ctx)
{
	struct sdn_ctx *c = ctx;
	struct sub_dispatch_nested *skel = c->skel;
	const char *cgrps[3] = { NULL, CHILD_CGRP, LEAF_CGRP };
	u64 iters[NR_WORKERS];
	int i, lvl;

	c->links[0] = bpf_map__attach_struct_ops(skel->maps.sdn_root_ops);
	SCX_FAIL_IF(!c->links[0], "Failed to attach the root");
	c->links[1] = bpf_map__attach_struct_ops(skel->maps.sdn_child_ops);
	SCX_FAIL_IF(!c->links[1], "Failed to attach the child");
	c->links[2] = bpf_map__attach_struct_ops(skel->maps.sdn_leaf_ops);
	SCX_FAIL_IF(!c->links[2], "Failed to attach the leaf");

	/* worker i runs at level i / NR_PER_LEVEL; the root's stay put */
	for (i = 0; i < NR_WORKERS; i++)
		SCX_FAIL_IF(spawn(c, i, cgrps[i / NR_PER_LEVEL]),
			    "Failed to start worker %d", i);
	c->shm->go = 1;

	sleep(RUN_S);

	for (i = 0; i < NR_WORKERS; i++)
		iters[i] = c->shm->iters[i];

	printf("iterations:");
	for (i = 0; i < NR_WORKERS; i++)
		printf(" %lu", (unsigned long)iters[i]);
	printf("\n");
	for (lvl = 0; lvl < 3; lvl++)
		printf("level %d: enqueued %lu dispatched %lu moved %lu sub_found %lu\n",
		       lvl, (unsigned long)skel->arena->nr_enqueued[lvl],
		       (unsigned long)skel->arena->nr_dispatched[lvl],
		       (unsigned long)skel->arena->nr_moved[lvl],
		       (unsigned long)skel->arena->nr_sub_found[lvl]);

	/* a figure, not a check: see record_stack() */
	printf("stack per nesting level: root->child %lu..%lu bytes, child->leaf %lu..%lu bytes\n",
	       (unsigned long)skel->bss->stack_min[0], (unsigned long)skel->bss->stack_max[0],
	       (unsigned long)skel->bss->stack_min[1], (unsigned long)skel->bss->stack_max[1]);

	SCX_ASSERT(uei_ok("root", &skel->data->uei));
	SCX_ASSERT(uei_ok("child", &skel->data->uei_child));
	SCX_ASSERT(uei_ok("leaf", &skel->data->uei_leaf));

	SCX_EQ(skel->arena->nr_attached[0], 1);
	SCX_EQ(skel->arena->nr_attached[1], 1);
	SCX_EQ(skel->arena->nr_grant_failed, 0);

	for (i = 0; i < NR_WORKERS; i++)
		SCX_FAIL_IF(iters[i] < MIN_ITERS,
			    "Worker %d (level %d) made %lu < %d iterations",
			    i, i / NR_PER_LEVEL, (unsigned long)iters[i], MIN_ITERS);

	for (lvl = 0; lvl < 3; lvl++) {
		SCX_GT(skel->arena->nr_enqueued[lvl], 0);
		SCX_GT(skel->arena->nr_dispatched[lvl], 0);
		SCX_GT(skel->arena->nr_moved[lvl], 0);
	}
	/* the child's and the leaf's tasks run only through nested steps */
	SCX_GT(skel->arena->nr_sub_found[0], 0);
	SCX_GT(skel->arena->nr_sub_found[1], 0);

	return SCX_TEST_PASS;
}

static void cleanup(void *ctx)
{
	struct sdn_ctx *c = ctx;
	int i;

	stop_workers(c);
	for (i = 2; i >= 0; i--)
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
	sub_dispatch_nested__destroy(c->skel);
	munmap(c->shm, sizeof(*c->shm));
	free(c);
	rmdir_retry(LEAF_CGRP);
	rmdir_retry(CHILD_CGRP);
}

struct scx_test sub_dispatch_nested = {
	.name = "sub_dispatch_nested",
	.description = "Verify that scx_bpf_sub_dispatch() runs the nested "
		       "dispatch step of a child and a grandchild so that the "
		       "tasks of every level make progress",
	.setup = setup,
	.run = run,
	.cleanup = cleanup,
};
REGISTER_SCX_TEST(&sub_dispatch_nested)
