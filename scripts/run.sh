#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: from a bare machine, build what is missing (the build root, the
# patched kernel, the modules), boot the guest, load scx_rs.ko and the
# samples, show what they printed, unload, and judge the console.

. "$(dirname "$0")/lib.sh"

T0=$(date +%s)
stage "build root" "$SCX_TOP/scripts/buildroot.sh"
KOUT=$("$SCX_TOP/scripts/kernel-build.sh" debug)
KSRC=$("$SCX_TOP/scripts/kernel-src.sh" 2>/dev/null)
MO=$(stage "build modules" "$SCX_TOP/scripts/module-build.sh" "$KOUT")
LOG=$MO/console.log
qrc=0
stage "boot guest" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$LOG" || qrc=$?
log "what the modules printed (console: $LOG):"
grep -E 'scx_rs|KTAP|# Subtest|^\[[ 0-9.]+\] +(not )?ok ' "$LOG" | grep -v 'rust_doctest' | sed 's/^/    /' || true
rc=0
python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" "$LOG" >"$MO/verdict.txt" || rc=$?
tail -n 4 "$MO/verdict.txt"
log "make run took $(( $(date +%s) - T0 ))s"
exit "$rc"
