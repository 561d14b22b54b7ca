/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (c) 2026 The scx_rs developers
 */
#include <bpf/bpf.h>
#include <scx/common.h>
#include <string.h>
#include <unistd.h>
#include "kick_idle_preempt_fail.bpf.skel.h"
#include "scx_test.h"

static enum scx_test_status setup(void **ctx)
{
	struct kick_idle_preempt_fail *skel;

	skel = kick_idle_preempt_fail__open();
	SCX_FAIL_IF(!skel, "Failed to open");
	SCX_ENUM_INIT(skel);
	SCX_FAIL_IF(kick_idle_preempt_fail__load(skel), "Failed to load skel");

	*ctx = skel;

	return SCX_TEST_PASS;
}

static enum scx_test_status run(void *ctx)
{
	struct kick_idle_preempt_fail *skel = ctx;
	struct bpf_link *link;

	link = bpf_map__attach_struct_ops(skel->maps.kick_idle_preempt_fail_ops);
	SCX_FAIL_IF(!link, "Failed to attach struct_ops");

	sleep(1);

	SCX_EQ(skel->data->uei.kind, EXIT_KIND(SCX_EXIT_ERROR));
	SCX_ASSERT(strstr(skel->data->uei.msg,
			  "PREEMPT/WAIT cannot be used with SCX_KICK_IDLE"));
	bpf_link__destroy(link);

	return SCX_TEST_PASS;
}

static void cleanup(void *ctx)
{
	struct kick_idle_preempt_fail *skel = ctx;

	kick_idle_preempt_fail__destroy(skel);
}

struct scx_test kick_idle_preempt_fail = {
	.name = "kick_idle_preempt_fail",
	.description = "Verify that scx_bpf_kick_cpu() with SCX_KICK_IDLE and "
		       "SCX_KICK_PREEMPT exits the scheduler with an error",
	.setup = setup,
	.run = run,
	.cleanup = cleanup,
};
REGISTER_SCX_TEST(&kick_idle_preempt_fail)
