#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: from a bare machine, build what is missing (the build root, the
# patched kernel, the modules, the sched_ext schedulers), boot the guest,
# load scx_rs.ko and the samples, run scx_qmap with a sub-scheduler on a
# cgroup and scx_central under load, show what the modules and schedulers
# printed, unload, and judge the console.

. "$(dirname "$0")/lib.sh"

T0=$(date +%s)
build_all debug
LOG=$MO/console-run.log
qrc=0
SCX_RS_GUEST_RUN=qmap,central SCX_RS_GUEST_TIMEOUT=900 \
	stage "boot guest" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$LOG" "$TOOLS" || qrc=$?
log "what the modules and schedulers printed (console: $LOG):"
grep -E 'scx_rs|sched_ext:|# Subtest|# Totals' "$LOG" | grep -v 'rust_doctest\|Command line' |
	sed 's/^/    /' || true
rc=0
python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" \
	--known-failures "$SCX_TOP/scripts/selftests.known" "$LOG" >"$MO/verdict.txt" || rc=$?
tail -n 4 "$MO/verdict.txt"
log "make run took $(( $(date +%s) - T0 ))s"
exit "$rc"
