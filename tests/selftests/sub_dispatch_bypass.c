/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (c) 2026 The scx_rs developers
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <scx/common.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "sub_dispatch_bypass.bpf.skel.h"
#include "scx_test.h"
#include "sub_dispatch_common.h"

#define MID_CGRP	"/sys/fs/cgroup/scx_sdb"
#define LEAF_CGRP	MID_CGRP "/leaf"

#define NR_LEAF		16
#define PHASE_US	(500 * 1000)
#define POLL_US		1000
#define MIN_WINDOW_NS	(30ULL * 1000 * 1000)
#define DISABLE_MAX_NS	(20ULL * 1000 * 1000 * 1000)
#define BURST_LOOPS	10000
#define WORKER_MAX_NS	(30ULL * 1000 * 1000 * 1000)

struct sdb_shm {
	volatile int go;
	volatile u64 iters[NR_LEAF];
};

struct sdb_ctx {
	struct sub_dispatch_bypass *skel;
	struct bpf_link *links[3];
	struct sdb_shm *shm;
	pid_t pids[NR_LEAF];
	int leaf_gone;
};

/* mostly runnable: a burst of CPU and a very short sleep, counting rounds */
static void __attribute__((noreturn)) worker(struct sdb_shm *shm, int idx)
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
			usleep(100);
		else
			sched_yield();
	}
	_exit(0);
}

static int spawn(struct sdb_ctx *c, int idx, const char *cgrp)
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
	ret = cg_move(cgrp, pid);
	if (ret)
		SCX_ERR("Failed to move worker %d into %s (%d)", idx, cgrp, ret);
	return ret;
}

static void stop_workers(struct sdb_ctx *c)
{
	int i;

	for (i = 0; i < NR_LEAF; i++) {
		if (c->pids[i] <= 0)
			continue;
		kill(c->pids[i], SIGKILL);
		waitpid(c->pids[i], NULL, 0);
		c->pids[i] = 0;
	}
}

static void snap(struct sdb_ctx *c, u64 *iters)
{
	int i;

	for (i = 0; i < NR_LEAF; i++)
		iters[i] = c->shm->iters[i];
}

static u64 sum_iters(struct sdb_ctx *c)
{
	u64 sum = 0;
	int i;

	for (i = 0; i < NR_LEAF; i++)
		sum += c->shm->iters[i];
	return sum;
}

/* bpf_link__destroy() returns once the leaf is fully disabled */
static void *destroy_leaf(void *arg)
{
	struct sdb_ctx *c = arg;

	bpf_link__destroy(c->links[2]);
	__atomic_store_n(&c->leaf_gone, 1, __ATOMIC_RELEASE);
	return NULL;
}

static enum scx_test_status setup(void **ctx)
{
	struct sdb_ctx *c;
	struct stat mid, leaf;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		return SCX_TEST_SKIP;
	if ((mkdir(MID_CGRP, 0755) && errno != EEXIST) ||
	    (mkdir(LEAF_CGRP, 0755) && errno != EEXIST) ||
	    stat(MID_CGRP, &mid) || stat(LEAF_CGRP, &leaf)) {
		SCX_ERR("Failed to create %s", LEAF_CGRP);
		return SCX_TEST_FAIL;
	}

	c = calloc(1, sizeof(*c));
	SCX_FAIL_IF(!c, "Failed to allocate");
	c->shm = mmap(NULL, sizeof(*c->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SCX_FAIL_IF(c->shm == MAP_FAILED, "Failed to mmap");
	c->skel = sub_dispatch_bypass__open();
	SCX_FAIL_IF(!c->skel, "Failed to open");
	SCX_ENUM_INIT(c->skel);
	c->skel->struct_ops.sdb_mid_ops->sub_cgroup_id = mid.st_ino;
	c->skel->struct_ops.sdb_leaf_ops->sub_cgroup_id = leaf.st_ino;
	c->skel->rodata->mid_cgid = mid.st_ino;
	c->skel->rodata->leaf_cgid = leaf.st_ino;
	SCX_FAIL_IF(sub_dispatch_bypass__load(c->skel), "Failed to load skel");

	*ctx = c;

	return SCX_TEST_PASS;
}

static enum scx_test_status run(void *ctx)
{
	struct sdb_ctx *c = ctx;
	struct sub_dispatch_bypass *skel = c->skel;
	u64 before[NR_LEAF], after[NR_LEAF], later[NR_LEAF];
	u64 start, t_a = 0, t_b = 0, sum_a = 0, sum_b = 0, mid_enq;
	bool timed_out = false;
	pthread_t thr;
	int i, ret;

	c->links[0] = bpf_map__attach_struct_ops(skel->maps.sdb_root_ops);
	SCX_FAIL_IF(!c->links[0], "Failed to attach the root");
	c->links[1] = bpf_map__attach_struct_ops(skel->maps.sdb_mid_ops);
	SCX_FAIL_IF(!c->links[1], "Failed to attach mid");
	c->links[2] = bpf_map__attach_struct_ops(skel->maps.sdb_leaf_ops);
	SCX_FAIL_IF(!c->links[2], "Failed to attach the leaf");
	SCX_EQ(skel->arena->nr_attached[0], 1);
	SCX_EQ(skel->arena->nr_attached[1], 1);
	SCX_EQ(skel->arena->nr_grant_failed, 0);

	for (i = 0; i < NR_LEAF; i++)
		SCX_FAIL_IF(spawn(c, i, LEAF_CGRP), "Failed to start worker %d", i);
	c->shm->go = 1;

	usleep(PHASE_US);
	snap(c, before);
	for (i = 0; i < NR_LEAF; i++)
		SCX_FAIL_IF(!before[i], "Worker %d didn't run under the leaf", i);
	SCX_ASSERT(uei_ok("root", &skel->data->uei));
	SCX_ASSERT(uei_ok("mid", &skel->data->uei_mid));
	SCX_ASSERT(uei_ok("leaf", &skel->data->uei_leaf));
	SCX_GT(skel->arena->nr_sub_found[0], 0);
	SCX_GT(skel->arena->nr_sub_found[1], 0);

	/*
	 * Disable the leaf while its workers are runnable. Sample their
	 * progress while mid's ops.init_task() re-homes the first and the
	 * next to last of them: in between, the leaf bypasses.
	 */
	skel->bss->slow_init = 1;
	start = now_ns();
	ret = pthread_create(&thr, NULL, destroy_leaf, c);
	if (ret) {
		skel->bss->slow_init = 0;
		SCX_FAIL("Failed to start the disabling thread (%d)", ret);
	}
	while (!__atomic_load_n(&c->leaf_gone, __ATOMIC_ACQUIRE)) {
		u64 n = skel->arena->nr_slow_inits;

		if (n >= 1 && !t_a) {
			sum_a = sum_iters(c);
			t_a = now_ns();
		}
		if (n >= NR_LEAF - 1 && !t_b) {
			sum_b = sum_iters(c);
			t_b = now_ns();
		}
		if (now_ns() - start > DISABLE_MAX_NS) {
			timed_out = true;
			break;
		}
		usleep(POLL_US);
	}
	pthread_join(thr, NULL);
	c->links[2] = NULL;
	skel->bss->slow_init = 0;
	SCX_FAIL_IF(timed_out, "Disabling the leaf took more than %llu s",
		    DISABLE_MAX_NS / 1000000000ULL);

	snap(c, after);
	mid_enq = skel->arena->nr_enqueued[1];
	usleep(PHASE_US);
	snap(c, later);

	printf("disable: %lu ms, sampled %lu ms apart: %lu -> %lu iterations\n",
	       (unsigned long)((now_ns() - start) / 1000000),
	       (unsigned long)(t_a && t_b ? (t_b - t_a) / 1000000 : 0),
	       (unsigned long)sum_a, (unsigned long)sum_b);

	SCX_EQ(skel->data->uei_leaf.kind, EXIT_KIND(SCX_EXIT_UNREG));
	SCX_ASSERT(uei_ok("root", &skel->data->uei));
	SCX_ASSERT(uei_ok("mid", &skel->data->uei_mid));
	/* each leaf task was initialized for mid while the leaf bypassed */
	SCX_EQ(skel->arena->nr_slow_inits, NR_LEAF);

	if (t_a && t_b && t_b - t_a >= MIN_WINDOW_NS &&
	    sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		SCX_FAIL_IF(sum_b <= sum_a,
			    "No leaf worker progressed while the leaf bypassed (%lu)",
			    (unsigned long)sum_a);
	} else {
		printf("bypass window too short to sample\n");
	}

	/* everyone now runs under mid, which queues them on its own DSQ */
	SCX_GT(skel->arena->nr_enqueued[1], mid_enq);
	for (i = 0; i < NR_LEAF; i++)
		SCX_FAIL_IF(later[i] <= after[i],
			    "Worker %d stalled after the leaf's disabling (%lu)",
			    i, (unsigned long)later[i]);

	/*
	 * Now disable mid. While it bypasses, the root hosts its tasks and
	 * its own nested step only looks at its bypass DSQs.
	 */
	bpf_link__destroy(c->links[1]);
	c->links[1] = NULL;
	snap(c, after);
	usleep(PHASE_US);
	snap(c, later);

	printf("mid: SCX_EV_SUB_BYPASS_DISPATCH %lu\n",
	       (unsigned long)skel->arena->mid_sub_bypass_dispatch);

	SCX_EQ(skel->arena->mid_exited, 1);
	SCX_EQ(skel->data->uei_mid.kind, EXIT_KIND(SCX_EXIT_UNREG));
	SCX_ASSERT(uei_ok("root", &skel->data->uei));
	/* mid ran the leaf's bypassed tasks from its bypass DSQs */
	SCX_GT(skel->arena->mid_sub_bypass_dispatch, 0);
	for (i = 0; i < NR_LEAF; i++)
		SCX_FAIL_IF(later[i] <= after[i],
			    "Worker %d stalled after mid's disabling (%lu)",
			    i, (unsigned long)later[i]);

	return SCX_TEST_PASS;
}

static void cleanup(void *ctx)
{
	struct sdb_ctx *c = ctx;
	int i;

	stop_workers(c);
	for (i = 2; i >= 0; i--)
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
	sub_dispatch_bypass__destroy(c->skel);
	munmap(c->shm, sizeof(*c->shm));
	free(c);
	rmdir_retry(LEAF_CGRP);
	rmdir_retry(MID_CGRP);
}

struct scx_test sub_dispatch_bypass = {
	.name = "sub_dispatch_bypass",
	.description = "Verify that the tasks of a bypassing sub-scheduler keep "
		       "running through the nested dispatch step of its parent "
		       "while it is being disabled",
	.setup = setup,
	.run = run,
	.cleanup = cleanup,
};
REGISTER_SCX_TEST(&sub_dispatch_bypass)
