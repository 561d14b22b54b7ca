/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (c) 2026 The scx_rs developers
 */
#include <bpf/bpf.h>
#include <scx/common.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sub_dispatch_distant_fail.bpf.skel.h"
#include "scx_test.h"

#define MID_CGRP	"/sys/fs/cgroup/scx_sdd"
#define LEAF_CGRP	MID_CGRP "/leaf"

struct sdd_ctx {
	struct sub_dispatch_distant_fail *skel;
	struct bpf_link *links[3];
};

static enum scx_test_status setup(void **ctx)
{
	struct sdd_ctx *c;
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
	c->skel = sub_dispatch_distant_fail__open();
	SCX_FAIL_IF(!c->skel, "Failed to open");
	SCX_ENUM_INIT(c->skel);
	c->skel->struct_ops.sdd_mid_ops->sub_cgroup_id = mid.st_ino;
	c->skel->struct_ops.sdd_leaf_ops->sub_cgroup_id = leaf.st_ino;
	c->skel->rodata->leaf_cgid = leaf.st_ino;
	SCX_FAIL_IF(sub_dispatch_distant_fail__load(c->skel), "Failed to load skel");

	*ctx = c;

	return SCX_TEST_PASS;
}

static enum scx_test_status run(void *ctx)
{
	struct sdd_ctx *c = ctx;
	struct sub_dispatch_distant_fail *skel = c->skel;

	c->links[0] = bpf_map__attach_struct_ops(skel->maps.sdd_root_ops);
	SCX_FAIL_IF(!c->links[0], "Failed to attach the root");
	c->links[1] = bpf_map__attach_struct_ops(skel->maps.sdd_mid_ops);
	SCX_FAIL_IF(!c->links[1], "Failed to attach the child");
	/* from here on the root's dispatch names a grandchild */
	c->links[2] = bpf_map__attach_struct_ops(skel->maps.sdd_leaf_ops);

	sleep(1);

	SCX_EQ(skel->data->uei.kind, EXIT_KIND(SCX_EXIT_ERROR));
	SCX_ASSERT(strstr(skel->data->uei.msg,
			  "trying to dispatch a distant sub-sched on cgroup"));

	return SCX_TEST_PASS;
}

static void cleanup(void *ctx)
{
	struct sdd_ctx *c = ctx;
	int i;

	for (i = 2; i >= 0; i--)
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
	sub_dispatch_distant_fail__destroy(c->skel);
	free(c);
	rmdir(LEAF_CGRP);
	rmdir(MID_CGRP);
}

struct scx_test sub_dispatch_distant_fail = {
	.name = "sub_dispatch_distant_fail",
	.description = "Verify that scx_bpf_sub_dispatch() of a sub-scheduler "
		       "that is not a direct child exits the caller with an error",
	.setup = setup,
	.run = run,
	.cleanup = cleanup,
};
REGISTER_SCX_TEST(&sub_dispatch_distant_fail)
