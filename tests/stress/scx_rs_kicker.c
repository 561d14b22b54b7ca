/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_kicker: run the scheduler of tests/stress/scx_rs_kicker.bpf.c until
 * SIGINT or SIGTERM, then print its kick and hotplug counts in one line,
 *
 *   scx_rs_kicker: kicks none=N idle=N preempt=N wait=N preempt_wait=N
 *   online=N offline=N
 *
 * and the exit report. Exits 0 if the scheduler was still running when
 * signalled, 1 if it had exited by itself (a test failure: the report says
 * why).
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_kicker.bpf.skel.h"

static volatile sig_atomic_t exit_req;

static void on_signal(int sig)
{
	exit_req = 1;
}

int main(int argc, char **argv)
{
	struct scx_rs_kicker *skel;
	struct bpf_link *link;
	bool exited;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = SCX_OPS_OPEN(kicker_ops, scx_rs_kicker);
	/*
	 * Hotplug is what this scheduler runs under and ops.cpu_online() and
	 * ops.cpu_offline() take it: a CPU coming or going between open and
	 * attach must not fail the load (SCX_OPS_OPEN() set the sequence
	 * number the kernel checks it by).
	 */
	skel->struct_ops.kicker_ops->hotplug_seq = 0;
	SCX_OPS_LOAD(skel, kicker_ops, scx_rs_kicker, uei);
	link = SCX_OPS_ATTACH(skel, kicker_ops, scx_rs_kicker);

	while (!exit_req && !UEI_EXITED(skel, uei))
		sleep(1);
	/* before the detach below, which ends the scheduler either way */
	exited = UEI_EXITED(skel, uei);

	printf("scx_rs_kicker: kicks none=%llu idle=%llu preempt=%llu wait=%llu preempt_wait=%llu online=%llu offline=%llu\n",
	       (unsigned long long)skel->bss->nr_kicks[0],
	       (unsigned long long)skel->bss->nr_kicks[1],
	       (unsigned long long)skel->bss->nr_kicks[2],
	       (unsigned long long)skel->bss->nr_kicks[3],
	       (unsigned long long)skel->bss->nr_kicks[4],
	       (unsigned long long)skel->bss->nr_online,
	       (unsigned long long)skel->bss->nr_offline);
	/* the report goes to stderr: keep the two in order in a shared log */
	fflush(stdout);

	bpf_link__destroy(link);
	(void)UEI_REPORT(skel, uei);
	scx_rs_kicker__destroy(skel);

	if (exited) {
		fprintf(stderr, "scx_rs_kicker: the scheduler exited by itself\n");
		return 1;
	}
	return 0;
}
