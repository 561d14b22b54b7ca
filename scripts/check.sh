#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the tests of scx_rs.
#
#   check.sh [--quick | --baseline]
#
# 1. host-side checks: rustfmt, checkpatch --strict on patches/, clippy
#    (the module is built with CLIPPY=1; any compiler or clippy warning
#    fails the check), and the compile_fail examples of the documentation
#    (scripts/compile-fail.sh: each must be rejected with its error code);
# 2. the guest: boot the patched debug kernel with 4 vCPUs, load every
#    module (their KUnit suites run at load), run the upstream sched_ext
#    selftests and the scx_qmap (with a sub-scheduler) and scx_central
#    scenarios with the modules loaded, unload, power off; the console is
#    judged by scripts/verdict.py (kunit.py parse, selftest results against
#    scripts/selftests.known, scheduler error exits, splats).
#
# --quick skips the host-side checks, the selftests and the schedulers
# (the inner loop: make quick). --baseline boots without any module and
# runs the selftests and schedulers only: the patched kernel's own results.
# Ends with "N passed, N failed" (host checks count one each, KUnit cases
# one each) and exits non-zero on any failure.

. "$(dirname "$0")/lib.sh"

QUICK=
BASELINE=
case ${1:-} in
--quick) QUICK=1 ;;
--baseline) BASELINE=1 ;;
esac
T0=$(date +%s)
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
PASS=0
FAIL=0
SKIP=0
FAILED=()

result() { # NAME RC
	if [ "$2" = 0 ]; then
		PASS=$((PASS + 1))
		log "check $1: ok"
	else
		FAIL=$((FAIL + 1))
		FAILED+=("$1")
		log "check $1: FAILED"
	fi
}

stage "build root" "$SCX_TOP/scripts/buildroot.sh"
KOUT=$("$SCX_TOP/scripts/kernel-build.sh" debug)
KSRC=$(cat "$KOUT/.scx_rs-src")
rksrc=/cache/${KSRC#"$SCX_CACHE"/}

if [ -z "$QUICK$BASELINE" ]; then
	rc=0
	stage "rustfmt --check" in_root "cd /scx_rs && find rust samples -name '*.rs' -not -name doctests_generated.rs |
		xargs rustfmt --check --edition 2021 --config-path $rksrc/.rustfmt.toml" || rc=$?
	result rustfmt "$rc"

	rc=0
	checkpatch() {
		local p n=0
		for p in "$SCX_TOP"/patches/*.patch; do
			[ -e "$p" ] || continue
			n=$((n + 1))
			in_root "cd $rksrc && scripts/checkpatch.pl --strict --quiet --no-tree \
				/scx_rs/patches/${p##*/}" || return 1
		done
		log "checkpatch --strict: $n patch(es) clean"
	}
	stage "checkpatch --strict patches/" checkpatch || rc=$?
	result checkpatch "$rc"
fi

rc=0
MAKEARGS=()
[ -n "$QUICK" ] || MAKEARGS+=(CLIPPY=1)
[ -z "${SCX_RS_RIG:-}" ] || MAKEARGS+=("SCX_RS_RIG=$SCX_RS_RIG")
MO=$(stage "build modules ${MAKEARGS[*]}" "$SCX_TOP/scripts/module-build.sh" "$KOUT" \
	"${MAKEARGS[@]}") || rc=$?
if [ "$rc" = 0 ] && grep -qE '^(warning|error)' "$MO/build.log"; then
	log "compiler or clippy warnings (log: $MO/build.log):"
	grep -E -A6 '^(warning|error)' "$MO/build.log" >&2
	rc=1
fi
result "module build ${MAKEARGS[*]}" "$rc"

# The compile_fail examples (one rustc at a time) run beside the build of
# the selftests and schedulers; their log is shown when both are done.
CF_PID=
if [ -z "$QUICK$BASELINE" ]; then
	CF_LOG=$(mktemp)
	trap 'rm -f "$RESULTS" "$CF_LOG"' EXIT
	stage "compile_fail examples" "$SCX_TOP/scripts/compile-fail.sh" "$KOUT" >"$CF_LOG" 2>&1 &
	CF_PID=$!
fi

TOOLS=
if [ -z "$QUICK" ]; then
	rc=0
	TOOLS=$("$SCX_TOP/scripts/scx-tools.sh" "$KOUT") || rc=$?
	result "sched_ext selftests and schedulers build" "$rc"
fi
if [ -n "$CF_PID" ]; then
	rc=0
	wait "$CF_PID" || rc=$?
	cat "$CF_LOG" >&2
	result "compile_fail examples" "$rc"
fi
if [ -z "$QUICK" ]; then
	export SCX_RS_GUEST_RUN=${SCX_RS_GUEST_RUN:-impl_busy,impl_churn,selftests,qmap,central}
	export SCX_RS_GUEST_TIMEOUT=${SCX_RS_GUEST_TIMEOUT:-1800}
fi
if [ -n "$BASELINE" ]; then
	export SCX_RS_MODULES=none
fi

if [ -n "$MO" ] && [ -d "$MO" ]; then
	LOG=$MO/console${BASELINE:+-baseline}.log
	qrc=0
	stage "boot guest" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$LOG" $TOOLS || qrc=$?
	log "console: $LOG"
	suites=$(expected_suites)
	# Without the module, only the patched kernel's own suite.
	[ -z "$BASELINE" ] || suites="--expect-suite sched_ext_impl"
	python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" \
		--known-failures "$SCX_TOP/scripts/selftests.known" \
		--counts "$RESULTS" $suites "$LOG" || true
	read -r p f s <"$RESULTS" || { p=0; f=1; s=0; }
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	SKIP=$((SKIP + s))
	[ "$f" = 0 ] || FAILED+=("guest ($f)")
fi

log "make check took $(( $(date +%s) - T0 ))s"
[ "${#FAILED[@]}" = 0 ] || log "failed: ${FAILED[*]}"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
