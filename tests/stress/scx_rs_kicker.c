/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_kicker: load tests/stress/scx_rs_kicker.bpf.c until SIGINT, then
 * print its kick and hotplug counts. Exits non-zero if the scheduler exited
 * by itself before it was asked to stop.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_kicker.bpf.skel.h"

static volatile int exit_req;

static void on_signal(int sig)
{
	exit_req = 1;
}

int main(int argc, char **argv)
{
	struct scx_rs_kicker *skel;
	struct bpf_link *link;
	int exited;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = SCX_OPS_OPEN(kicker_ops, scx_rs_kicker);
	skel->rodata->nr_cpus = libbpf_num_possible_cpus();
	SCX_OPS_LOAD(skel, kicker_ops, scx_rs_kicker, uei);
	link = SCX_OPS_ATTACH(skel, kicker_ops, scx_rs_kicker);

	while (!exit_req && !UEI_EXITED(skel, uei))
		sleep(1);
	exited = UEI_EXITED(skel, uei);

	printf("scx_rs_kicker: kicks none=%llu idle=%llu preempt=%llu wait=%llu preempt_wait=%llu online=%llu offline=%llu\n",
	       (unsigned long long)skel->bss->nr_kicks[0],
	       (unsigned long long)skel->bss->nr_kicks[1],
	       (unsigned long long)skel->bss->nr_kicks[2],
	       (unsigned long long)skel->bss->nr_kicks[3],
	       (unsigned long long)skel->bss->nr_kicks[4],
	       (unsigned long long)skel->bss->nr_online,
	       (unsigned long long)skel->bss->nr_offline);
	bpf_link__destroy(link);
	(void)UEI_REPORT(skel, uei);
	scx_rs_kicker__destroy(skel);
	if (exited) {
		fprintf(stderr, "scx_rs_kicker: the scheduler exited by itself\n");
		return 1;
	}
	return 0;
}
