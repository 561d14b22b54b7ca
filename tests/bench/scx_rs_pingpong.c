/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_pingpong: a wakeup-heavy load for make bench's macro figure.
 *
 * For each cgroup given with -c, a pair of processes in that cgroup bounces
 * a byte over two pipes -n times; every round trip is two wakeups through
 * the scheduler. All pairs start together; the figure is the time from the
 * start to the end of the last pair, per round trip of a pair:
 *
 *	scx_rs_bench: <impl> pingpong <ns per round trip>
 *
 * Under make bench's instruction counting, that is instructions of the
 * whole system per round trip.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define MAX_PAIRS	8

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void join_cgroup(const char *cgrp)
{
	char path[256], pid[32];
	int fd, len;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgrp);
	fd = open(path, O_WRONLY);
	len = snprintf(pid, sizeof(pid), "%d", getpid());
	if (fd < 0 || write(fd, pid, len) != len) {
		fprintf(stderr, "scx_rs_pingpong: cannot join %s: %s\n", cgrp,
			strerror(errno));
		exit(1);
	}
	close(fd);
}

/* One side of a pair: @first sends first. Never returns. */
static void bounce(int in, int out, int go, unsigned long n, int first)
{
	char c = 0;
	unsigned long i;

	/* wait for the start */
	if (read(go, &c, 1) != 0)
		exit(1);
	for (i = 0; i < n; i++) {
		if (first && write(out, &c, 1) != 1)
			exit(1);
		if (read(in, &c, 1) != 1)
			exit(1);
		if (!first && write(out, &c, 1) != 1)
			exit(1);
	}
	exit(0);
}

int main(int argc, char **argv)
{
	const char *impl = "?", *cgrps[MAX_PAIRS];
	unsigned long n = 2000;
	int nr = 0, go[2], i, opt, status, ok = 1;
	unsigned long long t0;

	while ((opt = getopt(argc, argv, "i:n:c:")) != -1) {
		switch (opt) {
		case 'i':
			impl = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			if (nr < MAX_PAIRS)
				cgrps[nr++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-i impl] [-n round trips] -c cgroup...\n",
				argv[0]);
			return 1;
		}
	}
	if (!nr || pipe(go))
		return 1;

	for (i = 0; i < nr; i++) {
		int ab[2], ba[2], side;

		if (pipe(ab) || pipe(ba))
			return 1;
		for (side = 0; side < 2; side++) {
			if (fork() == 0) {
				close(go[1]);
				join_cgroup(cgrps[i]);
				if (side)
					bounce(ab[0], ba[1], go[0], n, 0);
				else
					bounce(ba[0], ab[1], go[0], n, 1);
			}
		}
		close(ab[0]);
		close(ab[1]);
		close(ba[0]);
		close(ba[1]);
	}
	close(go[0]);
	/* give every child time to block on the start pipe */
	usleep(100000);
	t0 = now_ns();
	/* closing the start pipe wakes them all */
	close(go[1]);
	while (wait(&status) > 0)
		ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	if (!ok) {
		fprintf(stderr, "scx_rs_pingpong: a process failed\n");
		return 1;
	}
	printf("scx_rs_bench: %s pingpong %.1f\n", impl,
	       (double)(now_ns() - t0) / n);
	return 0;
}
