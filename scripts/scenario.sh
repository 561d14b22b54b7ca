#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the debug kernel with the modules loaded and run only the given
# guest scenarios (scripts/guest/init), then judge the console as make
# check does. For working on one scenario:
#
#   scripts/scenario.sh impl_churn [more scenarios...]
#
# Extra kernel parameters go in SCX_RS_GUEST_APPEND.

. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: $0 SCENARIO..."
build_all debug
LOG=$MO/console-scenario.log
RUN=$(IFS=,; echo "$*")
qrc=0
SCX_RS_GUEST_RUN=$RUN SCX_RS_GUEST_TIMEOUT=${SCX_RS_GUEST_TIMEOUT:-1800} \
	stage "boot guest ($RUN)" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$LOG" "$TOOLS" || qrc=$?
log "console: $LOG"
python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" \
	--known-failures "$SCX_TOP/scripts/selftests.known" "$LOG"
