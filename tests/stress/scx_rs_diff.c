/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_rs_diff: differential testing of the kfuncs scx_rs implements.
 *
 *   scx_rs_diff [-s settle_ms] [-r seed] [-b batch]
 *
 * Generates a few thousand cases of scx_bpf_kick_cpu() (invalid and
 * boundary CPU ids, every combination of SCX_KICK_IDLE, SCX_KICK_PREEMPT
 * and SCX_KICK_WAIT with and without undefined flag bits), of a sequence of
 * scx_bpf_create_dsq() / scx_bpf_destroy_dsq() / scx_bpf_dsq_nr_queued()
 * (DSQ ids at and around the built-in and local-on bits, node ids around
 * the valid range) and of scx_bpf_sub_dispatch() (the direct child, a
 * distant sub-scheduler, the root's own cgroup, a cgroup without a
 * scheduler, ids of no cgroup; on a CPU where the child holds its base
 * caps and on one where it does not), runs each against the schedulers of
 * scx_rs_diff.bpf.c, and prints one line per case on stdout: its
 * arguments, what the kfuncs returned, how the caller's event counters
 * moved, and the exit kind, code, reason and message of every scheduler
 * that exited. Nothing in a line depends on which implementation ran the
 * case, so two runs, one with the built-in C paths and one with scx_rs.ko
 * loaded, must print the same lines (make stress compares them).
 *
 * A scheduler exits asynchronously after scx_error(). Cases run in batches
 * with a settle time (-s, default 200 ms) after each batch, after which no
 * exit may be pending; a batch in which something exited is run again one
 * case at a time on fresh schedulers, so that an exit is recorded against
 * the case that caused it. Cases expected to exit run alone to begin with;
 * that is only a schedule, the records do not depend on it.
 *
 * What a kick does on its target depends on what the target runs: nothing
 * if a task of a higher class, no "if idle" kick if it is busy, and a
 * preempting kick by the child needs SCX_CAP_PREEMPT only over a task that
 * is not its own. Idle CPUs do not stay idle (kworkers, kmemleak's scans,
 * the guest's own processes wake on them at any time, and far more under
 * KASAN), so the kick cases run with every target busy instead: the driver
 * runs on CPU 0 and, for the kicks, a spinner in the root cgroup (the root
 * scheduler's task) is pinned to each other CPU. After each load the
 * driver waits the settle time, for the tasks to have moved to the
 * schedulers. The DSQ and sub_dispatch cases run without the spinners.
 *
 * The cgroups (/sys/fs/cgroup/scx_rs_diff, its child "grand", and the
 * sibling scx_rs_diff_empty) are created if missing and left in place, so
 * that both runs see the same cgroup ids; the caller removes them.
 *
 * Copyright (c) 2026 The scx_rs developers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <scx/common.h>
#include "scx_rs_diff.bpf.skel.h"

#define CHILD_CGRP	"/sys/fs/cgroup/scx_rs_diff"
#define GRAND_CGRP	CHILD_CGRP "/grand"
#define EMPTY_CGRP	"/sys/fs/cgroup/scx_rs_diff_empty"
#define ROOT_CGRP	"/sys/fs/cgroup"

/* enum scx_dsq_id_flags and enum scx_kick_flags of the 7.3 kernel */
#define DSQ_BUILTIN	(1ULL << 63)
#define DSQ_LOCAL_ON	(1ULL << 62)
#define KICK_IDLE	(1ULL << 0)
#define KICK_PREEMPT	(1ULL << 1)
#define KICK_WAIT	(1ULL << 2)
#define KICK_DEFINED	(KICK_IDLE | KICK_PREEMPT | KICK_WAIT)

/* as in scx_rs_diff.bpf.c */
enum diff_op {
	DIFF_KICK,
	DIFF_DSQ,
	DIFF_EVENTS,
	DIFF_SUB,	/* user space only: the root's ops.dispatch() case */
};

enum diff_ev {
	EV_SUB_KICK_DENIED,
	EV_SUB_PREEMPT_DENIED,
	EV_SLICE_DENIED,
	EV_SUB_BYPASS_DISPATCH,
	NR_EV,
};

static const char *const ev_names[NR_EV] = {
	"SUB_KICK_DENIED", "SUB_PREEMPT_DENIED", "SLICE_DENIED",
	"SUB_BYPASS_DISPATCH",
};

struct diff_args {
	__u64 a;
	__u64 b;
	__u32 op;
	__s32 ret[4];
	__s64 ev[NR_EV];
};

enum caller { ROOT, CHILD };

/* the cgroup ids a sub_dispatch case may name, by what they are */
enum sub_target {
	SUB_CHILD,	/* the direct child */
	SUB_GRAND,	/* the child's child: distant */
	SUB_SELF,	/* the root's own cgroup */
	SUB_EMPTY,	/* a cgroup with no scheduler */
	SUB_RAW,	/* a raw id, in a */
};

struct diff_case {
	enum diff_op op;
	enum caller caller;
	enum sub_target target;
	__u64 a, b;
	/* by the C code's rules it exits a scheduler: run it alone */
	bool alone;
	char line[512];
};

struct world {
	struct scx_rs_diff *skel;
	struct bpf_link *root, *child, *grand;
};

static int nr_cpus, denied_cpu, settle_ms = 200;
static __u64 cgid_child, cgid_grand, cgid_empty, cgid_root;
static unsigned int nr_loads, nr_exits;

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static __u64 cgroup_id(const char *path)
{
	struct stat st;

	if (mkdir(path, 0755) && errno != EEXIST)
		SCX_BUG("Failed to create %s (%d)", path, errno);
	SCX_BUG_ON(stat(path, &st), "Failed to stat %s", path);
	return st.st_ino;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	SCX_BUG_ON(sched_setaffinity(0, sizeof(set), &set),
		   "Failed to move to CPU %d", cpu);
}

static void world_up(struct world *w)
{
	struct scx_rs_diff *skel;
	int err;

	skel = scx_rs_diff__open();
	SCX_BUG_ON(!skel, "Failed to open the skeleton");
	SCX_ENUM_INIT(skel);
	skel->struct_ops.diff_root_ops->hotplug_seq = scx_hotplug_seq();
	skel->struct_ops.diff_child_ops->sub_cgroup_id = cgid_child;
	skel->struct_ops.diff_grand_ops->sub_cgroup_id = cgid_grand;
	skel->rodata->child_cgid = cgid_child;
	skel->rodata->denied_cpu = denied_cpu;
	UEI_SET_SIZE(skel, diff_root_ops, uei_root);
	UEI_SET_SIZE(skel, diff_child_ops, uei_child);
	UEI_SET_SIZE(skel, diff_grand_ops, uei_grand);
	__SCX_OPS_DISABLE_AUTOATTACH(skel, diff_root_ops);
	__SCX_OPS_DISABLE_AUTOATTACH(skel, diff_child_ops);
	__SCX_OPS_DISABLE_AUTOATTACH(skel, diff_grand_ops);
	SCX_BUG_ON(scx_rs_diff__load(skel), "Failed to load the skeleton");

	/* each case program acts for its own scheduler */
	err = bpf_program__assoc_struct_ops(skel->progs.diff_root_case,
					    skel->maps.diff_root_ops, NULL);
	SCX_BUG_ON(err, "Failed to associate diff_root_case (%d)", err);
	err = bpf_program__assoc_struct_ops(skel->progs.diff_child_case,
					    skel->maps.diff_child_ops, NULL);
	SCX_BUG_ON(err, "Failed to associate diff_child_case (%d)", err);

	w->skel = skel;
	w->root = bpf_map__attach_struct_ops(skel->maps.diff_root_ops);
	SCX_BUG_ON(!w->root, "Failed to attach the root");
	w->child = bpf_map__attach_struct_ops(skel->maps.diff_child_ops);
	SCX_BUG_ON(!w->child, "Failed to attach the child on %s", CHILD_CGRP);
	w->grand = bpf_map__attach_struct_ops(skel->maps.diff_grand_ops);
	SCX_BUG_ON(!w->grand, "Failed to attach the grandchild on %s", GRAND_CGRP);
	SCX_BUG_ON(skel->arena->grant_err,
		   "The root failed to grant the child its caps (%d)",
		   skel->arena->grant_err);
	/*
	 * Let every task move to the schedulers after the enable: a kick's
	 * events depend on what its target runs (a task of a higher class is
	 * not kickable).
	 */
	usleep(settle_ms * 1000);
	nr_loads++;
}

static pid_t spinners[256];
static int nr_spinners;

/* A task of the root scheduler busy on every CPU but the driver's. */
static void spinners_up(void)
{
	char pid[32];
	int cpu, fd;

	for (cpu = 1; cpu < nr_cpus && nr_spinners < 256; cpu++) {
		pid_t p = fork();

		SCX_BUG_ON(p < 0, "Failed to fork a spinner (%d)", errno);
		if (!p) {
			/* never outlive the driver: it might die in SCX_BUG() */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			pin(cpu);
			for (;;)
				;
		}
		spinners[nr_spinners++] = p;
		/* the root cgroup: a task of the root, not of the child */
		fd = open(ROOT_CGRP "/cgroup.procs", O_WRONLY);
		SCX_BUG_ON(fd < 0, "Failed to open %s/cgroup.procs", ROOT_CGRP);
		snprintf(pid, sizeof(pid), "%d", p);
		SCX_BUG_ON(write(fd, pid, strlen(pid)) < 0,
			   "Failed to move spinner %d to %s (%d)", p, ROOT_CGRP, errno);
		close(fd);
	}
}

static void spinners_down(void)
{
	while (nr_spinners) {
		pid_t p = spinners[--nr_spinners];

		kill(p, SIGKILL);
		SCX_BUG_ON(waitpid(p, NULL, 0) != p, "Failed to reap spinner %d", p);
	}
}

static void world_down(struct world *w)
{
	if (!w->skel)
		return;
	bpf_link__destroy(w->grand);
	bpf_link__destroy(w->child);
	bpf_link__destroy(w->root);
	scx_rs_diff__destroy(w->skel);
	memset(w, 0, sizeof(*w));
}

static bool any_exited(struct world *w)
{
	return UEI_EXITED(w->skel, uei_root) || UEI_EXITED(w->skel, uei_child) ||
	       UEI_EXITED(w->skel, uei_grand);
}

/*
 * Wait @settle_ms for an exit to show. If one does, wait until every
 * scheduler below the highest one that exited has exited too (their parent
 * takes them down), so that the record is complete.
 */
static bool settle(struct world *w)
{
	__u64 deadline = now_ns() + settle_ms * 1000000ULL;

	while (!any_exited(w) && now_ns() < deadline)
		usleep(1000);
	if (!any_exited(w))
		return false;

	deadline = now_ns() + 10ULL * 1000000000ULL;
	while (now_ns() < deadline) {
		bool root = UEI_EXITED(w->skel, uei_root);
		bool child = UEI_EXITED(w->skel, uei_child);
		bool grand = UEI_EXITED(w->skel, uei_grand);

		if ((!root || child) && (!child || grand))
			break;
		usleep(1000);
	}
	/* and a little longer, for a parent that might follow */
	usleep(settle_ms * 1000);
	return true;
}

static void append(char *line, const char *fmt, ...)
{
	size_t len = strlen(line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + len, 512 - len, fmt, ap);
	va_end(ap);
}

static void append_exit(char *line, const char *who,
			const struct user_exit_info *uei)
{
	if (!uei->kind)	/* SCX_EXIT_NONE */
		return;
	append(line, " %s-exit=%d:%lld:\"%s\":\"%s\"", who, uei->kind,
	       (long long)uei->exit_code, uei->reason, uei->msg);
}

static void run_prog(struct world *w, struct diff_case *c,
		     struct diff_args *args)
{
	struct bpf_program *prog = c->caller == ROOT ? w->skel->progs.diff_root_case :
						      w->skel->progs.diff_child_case;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args,
		    .ctx_size_in = sizeof(*args));
	int ret;

	ret = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	SCX_BUG_ON(ret, "%s failed (%d)", bpf_program__name(prog), ret);
	SCX_BUG_ON(opts.retval, "%s returned %d", bpf_program__name(prog),
		   (int)opts.retval);
}

static const char *sub_target_name(enum sub_target t)
{
	static const char *const names[] = {
		"child", "grandchild", "root-cgroup", "empty-cgroup", "raw",
	};

	return names[t];
}

static __u64 sub_target_id(struct diff_case *c)
{
	switch (c->target) {
	case SUB_CHILD:
		return cgid_child;
	case SUB_GRAND:
		return cgid_grand;
	case SUB_SELF:
		return cgid_root;
	case SUB_EMPTY:
		return cgid_empty;
	default:
		return c->a;
	}
}

/* One case, recorded in c->line but for the exits. */
static void run_case(struct world *w, struct diff_case *c)
{
	struct diff_args args = { .a = c->a, .b = c->b, .op = c->op };
	int i;

	c->line[0] = '\0';
	switch (c->op) {
	case DIFF_KICK:
		append(c->line, "kick %s cpu=%d flags=0x%llx ->",
		       c->caller == ROOT ? "root" : "child", (int)c->a,
		       (unsigned long long)c->b);
		run_prog(w, c, &args);
		break;
	case DIFF_DSQ:
		run_prog(w, c, &args);
		append(c->line, "dsq %s id=0x%llx node=%d -> ret=%d,%d,%d,%d",
		       c->caller == ROOT ? "root" : "child",
		       (unsigned long long)c->a, (int)c->b, args.ret[0],
		       args.ret[1], args.ret[2], args.ret[3]);
		break;
	case DIFF_SUB: {
		struct scx_rs_diff__bss *bss = w->skel->bss;
		struct diff_args ev0 = { .op = DIFF_EVENTS }, ev1 = ev0;
		struct diff_case root = { .caller = ROOT };
		__u64 done, deadline;

		append(c->line, "sub_dispatch %s", sub_target_name(c->target));
		if (c->target == SUB_RAW)
			append(c->line, "=0x%llx", (unsigned long long)c->a);
		append(c->line, " cpu=%s ->", (int)c->b == denied_cpu ?
		       "denied" : "granted");

		run_prog(w, &root, &ev0);
		bss->sub_cgid = sub_target_id(c);
		bss->sub_cpu = (int)c->b;
		done = __atomic_load_n(&bss->sub_done, __ATOMIC_ACQUIRE);
		pin((int)c->b);
		__atomic_store_n(&bss->sub_armed, 1, __ATOMIC_RELEASE);
		/* each sleep takes this CPU through the root's ops.dispatch() */
		deadline = now_ns() + 10ULL * 1000000000ULL;
		while (__atomic_load_n(&bss->sub_done, __ATOMIC_ACQUIRE) == done &&
		       now_ns() < deadline)
			usleep(1000);
		pin(0);
		if (__atomic_load_n(&bss->sub_done, __ATOMIC_ACQUIRE) == done) {
			/* no ops.dispatch() there: the root is gone */
			__atomic_store_n(&bss->sub_armed, 0, __ATOMIC_RELEASE);
			append(c->line, " not-run");
		} else {
			append(c->line, " ret=%d child_dispatch=%llu", bss->sub_ret,
			       (unsigned long long)bss->sub_child_calls);
		}
		run_prog(w, &root, &ev1);
		for (i = 0; i < NR_EV; i++)
			args.ev[i] = ev1.ev[i] - ev0.ev[i];
		break;
	}
	default:
		SCX_BUG("unknown op %d", c->op);
	}
	for (i = 0; i < NR_EV; i++)
		if (args.ev[i])
			append(c->line, " %s%+lld", ev_names[i],
			       (long long)args.ev[i]);
}

static void record_exits(struct world *w, struct diff_case *c)
{
	append_exit(c->line, "root", &w->skel->data->uei_root);
	append_exit(c->line, "child", &w->skel->data->uei_child);
	append_exit(c->line, "grand", &w->skel->data->uei_grand);
	nr_exits++;
}

/* A case exits something: run it alone, on fresh schedulers. */
static void run_alone(struct world *w, struct diff_case *c)
{
	if (!w->skel)
		world_up(w);
	run_case(w, c);
	if (settle(w)) {
		record_exits(w, c);
		world_down(w);
	}
}

static void run_all(struct diff_case *cases, int n, int batch)
{
	struct world w = {};
	int i = 0, j, end;

	while (i < n) {
		if (cases[i].alone) {
			run_alone(&w, &cases[i]);
			i++;
			continue;
		}
		for (end = i; end < n && end - i < batch && !cases[end].alone; end++)
			;
		if (!w.skel)
			world_up(&w);
		for (j = i; j < end; j++)
			run_case(&w, &cases[j]);
		if (settle(&w)) {
			/* something in the batch exited: again, one at a time */
			world_down(&w);
			for (j = i; j < end; j++)
				run_alone(&w, &cases[j]);
		}
		i = end;
	}
	world_down(&w);
}

/* xorshift64*, seeded: the same cases on every run with the same seed */
static __u64 rng_state;

static __u64 rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static struct diff_case *cases;
static int nr_cases, cap_cases;

static struct diff_case *add(enum diff_op op, enum caller caller, __u64 a,
			     __u64 b)
{
	struct diff_case *c;

	if (nr_cases == cap_cases) {
		cap_cases = cap_cases ? cap_cases * 2 : 1024;
		cases = realloc(cases, cap_cases * sizeof(*cases));
		SCX_BUG_ON(!cases, "out of memory");
	}
	c = &cases[nr_cases++];
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->caller = caller;
	c->a = a;
	c->b = b;
	return c;
}

static void gen_kicks(void)
{
	/* undefined bits on top of the defined ones */
	__u64 extra[64];
	__s64 cpus[] = { INT_MIN, -1, nr_cpus, nr_cpus + 1, INT_MAX };
	int nr_extra = 0, caller, cpu, i, f, k;

	extra[nr_extra++] = 0;
	for (k = 3; k < 64; k += 4)
		extra[nr_extra++] = 1ULL << k;
	extra[nr_extra++] = 1ULL << 63;
	extra[nr_extra++] = ~KICK_DEFINED;
	while (nr_extra < 48)
		extra[nr_extra++] = rng() & ~KICK_DEFINED;

	for (caller = ROOT; caller <= CHILD; caller++) {
		/* every CPU, every flag set */
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			for (f = 0; f < 8; f++) {
				bool conflict = (f & KICK_IDLE) && (f & ~KICK_IDLE);

				for (i = 0; i < nr_extra; i++) {
					/*
					 * SCX_KICK_IDLE with PREEMPT or WAIT
					 * exits the scheduler: on two CPUs,
					 * with and without undefined bits.
					 */
					if (conflict && (i > 1 || (cpu && cpu != denied_cpu)))
						continue;
					add(DIFF_KICK, caller, cpu, f | extra[i])->alone = conflict;
				}
			}
		}
		/* invalid CPU ids exit the scheduler too */
		for (i = 0; i < (int)(sizeof(cpus) / sizeof(cpus[0])); i++) {
			add(DIFF_KICK, caller, (__u32)cpus[i], 0)->alone = true;
			add(DIFF_KICK, caller, (__u32)cpus[i],
			    KICK_IDLE | KICK_PREEMPT)->alone = true;
		}
	}
}

static void gen_dsqs(void)
{
	__u64 ids[64] = {
		0, 1, 2, 0xffffffffULL, 0x100000000ULL,
		DSQ_LOCAL_ON - 1, DSQ_LOCAL_ON, DSQ_LOCAL_ON | 1,
		DSQ_LOCAL_ON | 0xffffffffULL, DSQ_BUILTIN - 1,
		DSQ_BUILTIN | 0,			/* SCX_DSQ_INVALID */
		DSQ_BUILTIN | 1,			/* SCX_DSQ_GLOBAL */
		DSQ_BUILTIN | 2,			/* SCX_DSQ_LOCAL */
		DSQ_BUILTIN | 3,			/* SCX_DSQ_BYPASS */
		DSQ_BUILTIN | 4, DSQ_BUILTIN | 5, DSQ_BUILTIN | 6,
		DSQ_BUILTIN | DSQ_LOCAL_ON,		/* SCX_DSQ_LOCAL_ON */
		DSQ_BUILTIN | DSQ_LOCAL_ON | 1,
		DSQ_BUILTIN | DSQ_LOCAL_ON | (__u64)nr_cpus,
		DSQ_BUILTIN | DSQ_LOCAL_ON | 0xffffffffULL,
		~0ULL - 1, ~0ULL,
	};
	__s32 nodes[] = { INT_MIN, -2, -1, 0, 1, 2, 64, INT_MAX };
	int nr_ids = 23, caller, i, k;

	while (nr_ids < 40)
		ids[nr_ids++] = rng();
	/* random ids with the top bits clear, which can be created */
	while (nr_ids < 56)
		ids[nr_ids++] = rng() >> 2;

	for (caller = ROOT; caller <= CHILD; caller++)
		for (i = 0; i < nr_ids; i++)
			for (k = 0; k < (int)(sizeof(nodes) / sizeof(nodes[0])); k++)
				add(DIFF_DSQ, caller, ids[i], (__u32)nodes[k]);
}

static void gen_subs(void)
{
	__u64 raw[] = { 0, 1, ~0ULL, 1ULL << 63, rng(), rng() };
	int cpus[] = { 0, denied_cpu };
	int t, i, k;

	for (k = 0; k < 2; k++) {
		for (t = SUB_CHILD; t < SUB_RAW; t++) {
			struct diff_case *c = add(DIFF_SUB, ROOT, 0, cpus[k]);

			c->target = t;
			/* a distant sub-scheduler, and the root itself */
			c->alone = t == SUB_GRAND || t == SUB_SELF;
		}
		for (i = 0; i < (int)(sizeof(raw) / sizeof(raw[0])); i++)
			add(DIFF_SUB, ROOT, raw[i], cpus[k])->target = SUB_RAW;
	}
}

int main(int argc, char **argv)
{
	__u64 seed = 0x5c7a5d1ffULL;
	int batch = 64, opt, i;
	__u64 t0 = now_ns();

	while ((opt = getopt(argc, argv, "s:r:b:")) != -1) {
		switch (opt) {
		case 's':
			settle_ms = atoi(optarg);
			break;
		case 'r':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-s settle_ms] [-r seed] [-b batch]\n",
				argv[0]);
			return 1;
		}
	}
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) ||
	    !__COMPAT_struct_has_field("sched_ext_ops_cid", "sub_cgroup_id")) {
		fprintf(stderr, "scx_rs_diff: needs cgroup v2 and sub-scheduler support\n");
		return 1;
	}

	nr_cpus = sysconf(_SC_NPROCESSORS_CONF);
	denied_cpu = nr_cpus - 1;
	SCX_BUG_ON(nr_cpus < 2, "needs 2 CPUs");
	cgid_child = cgroup_id(CHILD_CGRP);
	cgid_grand = cgroup_id(GRAND_CGRP);
	cgid_empty = cgroup_id(EMPTY_CGRP);
	cgid_root = cgroup_id(ROOT_CGRP);
	pin(0);

	rng_state = seed ?: 1;
	gen_kicks();
	gen_dsqs();
	gen_subs();

	/* gen_kicks() came first: the kicks, with busy targets, then the rest */
	for (i = 0; i < nr_cases && cases[i].op == DIFF_KICK; i++)
		;
	spinners_up();
	run_all(cases, i, batch);
	spinners_down();
	run_all(cases + i, nr_cases - i, batch);

	for (i = 0; i < nr_cases; i++)
		printf("%s\n", cases[i].line);
	fprintf(stderr, "scx_rs_diff: %d cases (kick, dsq, sub_dispatch), %u scheduler exits, %u loads, %.1f s\n",
		nr_cases, nr_exits, nr_loads, (now_ns() - t0) / 1e9);
	return 0;
}
