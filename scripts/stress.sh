#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress: scx_rs under memory checkers, faults, churn, hotplug and a
# long run (Documentation/stress.rst).
#
# The kernel is the "kasan" flavour: the debug configuration of make check
# plus KASAN (generic, inline) and kmemleak (configs/kasan.config). Two
# boots, each judged by scripts/verdict.py as make check's is (KUnit,
# selftests against scripts/selftests.known, splats - a KASAN report is
# one -, "FAIL:" markers of the guest):
#
# 1. memory checkers: make check's whole guest run (impl_busy, impl_churn,
#    the sched_ext selftests, scx_qmap with a sub-scheduler, scx_central),
#    then kmemleak scans with the modules loaded and after they are gone;
# 2. stress: diff (scx_rs_diff's few thousand generated kfunc cases with
#    the C paths and with the Rust paths: the records must be the same),
#    churn_sched (100 insmod/rmmod cycles of scx_rs with
#    schedulers and DSQ-creating syscall programs; per-CPU and slab memory
#    before and after), hotplug_kicks (CPUs offline and online under a
#    scheduler kicking with every flag), failinject (allocation failures
#    injected into scx_rs's per-CPU allocations and the DSQ programs'
#    kmalloc()s under scx_qmap with sub-schedulers coming and going), soak
#    (SCX_RS_SOAK_SECS, default 600, of scx_qmap with a sub-scheduler under
#    a mixed load), then kmemleak again.
#
# SCX_RS_STRESS_FLAVOUR=debug runs the same on make check's kernel (no
# KASAN build); SCX_RS_STRESS_BOOTS selects the boots ("memcheck stress"). Ends with "N passed, N failed" and exits non-zero on any
# failure.

. "$(dirname "$0")/lib.sh"

T0=$(date +%s)
FLAVOUR=${SCX_RS_STRESS_FLAVOUR:-kasan}
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
PASS=0
FAIL=0
SKIP=0
FAILED=()

stage "build root" "$SCX_TOP/scripts/buildroot.sh"
KOUT=$("$SCX_TOP/scripts/kernel-build.sh" "$FLAVOUR")
KSRC=$(cat "$KOUT/.scx_rs-src")
MO=$(stage "build modules" "$SCX_TOP/scripts/module-build.sh" "$KOUT") ||
	die "module build failed"
TOOLS=$("$SCX_TOP/scripts/scx-tools.sh" "$KOUT") || die "sched_ext tools build failed"

suites=$(expected_suites)

# boot NAME RUN APPEND: one guest, judged.
boot() {
	local name=$1 log=$MO/console-stress-$1.log qrc=0 p f s
	SCX_RS_GUEST_RUN=$2 SCX_RS_GUEST_APPEND="$3" \
		SCX_RS_GUEST_TIMEOUT=${SCX_RS_STRESS_TIMEOUT:-5400} \
		stage "boot guest: $name" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$log" "$TOOLS" ||
		qrc=$?
	log "console: $log"
	python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" \
		--known-failures "$SCX_TOP/scripts/selftests.known" \
		--counts "$RESULTS" $suites "$log" || true
	read -r p f s <"$RESULTS" || { p=0; f=1; s=0; }
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	SKIP=$((SKIP + s))
	[ "$f" = 0 ] || FAILED+=("$name ($f)")
	# The figures of the run.
	grep -aE 'scx_rs-guest: (diff|churn_sched|hotplug_kicks|failinject|soak|kmemleak|impl_churn|FAIL)|scx_rs-diff (C|Rust):|scx_rs_kicker:|scx_rs-churn|scx_rs-events .*(root|sub/[^ ]*)/events: SCX_EV_(SUB_|SLICE|BYPASS)' \
		"$log" | sed 's/^\[ *[0-9.]*\] /    /' >&2 || true
	grep -a 'scx_rs: unloaded' "$log" | tail -1 | sed 's/^\[ *[0-9.]*\] /    /' >&2 || true
}

# Schedulers take minutes to load under KASAN and TCG (scx_qmap's
# sub-scheduler: 103 s on 2026-12-02, past make check's 60 s wait).
WAIT=scxrs_wait=60
[ "$FLAVOUR" != kasan ] || WAIT="scxrs_wait=300 scxrs_diff_settle_ms=500"
for b in ${SCX_RS_STRESS_BOOTS:-memcheck stress}; do
	case $b in
	memcheck)
		boot memcheck "impl_busy,impl_churn,selftests,qmap,central,kmemleak" \
			"scxrs_kmemleak_end=1 $WAIT"
		;;
	stress)
		boot stress "diff,churn_sched,hotplug_kicks,failinject,soak,kmemleak" \
			"scxrs_kmemleak_end=1 scxrs_soak_secs=${SCX_RS_SOAK_SECS:-600} $WAIT"
		;;
	*) die "unknown boot '$b' in SCX_RS_STRESS_BOOTS (memcheck, stress)" ;;
	esac
done

log "make stress took $(($(date +%s) - T0))s"
[ "${#FAILED[@]}" = 0 ] || log "failed: ${FAILED[*]}"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
