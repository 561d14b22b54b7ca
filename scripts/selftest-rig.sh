#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make selftest-rig: show that the rig catches failure. Each case breaks
# something on purpose and passes only if the rig stops with a non-zero
# status and a message that names what failed:
#
#   kunit-fail    a deliberately failing KUnit case (--cfg scx_rs_rig_fail_kunit)
#   warn          a WARN_ON in a sample module (--cfg scx_rs_rig_warn)
#   hang          a guest that never powers off (killed after 60 s)
#   bad-patch     a patch in the series that does not apply
#   dropped-config  a config option that olddefconfig drops
#
# Needs the debug kernel built (make check builds it).

. "$(dirname "$0")/lib.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0

# expect NAME PATTERN CMD...: CMD must fail and print PATTERN.
expect() {
	local name=$1 pattern=$2 rc=0
	shift 2
	stage "rig self-check: $name" "$@" >"$TMP/$name.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ] && grep -qE "$pattern" "$TMP/$name.log"; then
		PASS=$((PASS + 1))
		log "$name: caught (rc=$rc):"
		grep -E "$pattern" "$TMP/$name.log" | head -3 | sed 's/^/[scx_rs]     /' >&2
	else
		FAIL=$((FAIL + 1))
		log "$name: NOT caught (rc=$rc, no /$pattern/ in output); last lines:"
		tail -15 "$TMP/$name.log" | sed 's/^/[scx_rs]     /' >&2
	fi
}

quick() { "$SCX_TOP/scripts/check.sh" --quick; }

SCX_RS_RIG=scx_rs_rig_fail_kunit expect kunit-fail \
	'KUnit suite scx_rs_raw_spinlock: 1 test\(s\) failed' quick

SCX_RS_RIG=scx_rs_rig_warn expect warn 'console line [0-9]+: WARNING: .*samples/raw_spinlock.rs' quick

SCX_RS_GUEST_APPEND=scxrs_hang=1 SCX_RS_GUEST_TIMEOUT=60 expect hang \
	'guest killed after 60s \(did not power off\)' quick

# A patch whose context is not in the tree.
mkdir -p "$TMP/patches"
cp "$SCX_TOP"/patches/*.patch "$TMP/patches/" 2>/dev/null || true
cp "$SCX_TOP/patches/series" "$TMP/patches/series"
cat >"$TMP/patches/9999-rig-does-not-apply.patch" <<'EOP'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: scx_rs rig <rig@localhost>
Subject: [PATCH] rig: a patch that does not apply

---
 Makefile | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/Makefile b/Makefile
--- a/Makefile
+++ b/Makefile
@@ -1,3 +1,3 @@
-this line is not in the kernel's Makefile
+nor is this one
 VERSION = 7
 PATCHLEVEL = 3
--
2.47.3
EOP
echo 9999-rig-does-not-apply.patch >>"$TMP/patches/series"
SCX_RS_PATCHES=$TMP/patches expect bad-patch \
	'patch 9999-rig-does-not-apply.patch does not apply' "$SCX_TOP/scripts/kernel-src.sh"
# Put the real series back.
"$SCX_TOP/scripts/kernel-src.sh" >/dev/null

# PCI_MSI needs PCI, which the base configuration does not have.
echo 'CONFIG_PCI_MSI=y' >"$TMP/rig-dropped.config"
dropped() {
	SCX_RS_EXTRA_CONFIG=$TMP/rig-dropped.config "$SCX_TOP/scripts/kernel-build.sh" debug
}
expect dropped-config 'CONFIG_PCI_MSI=y \(now: not set; from rig-dropped.config\)' dropped
# The configure-only build directory of that check is of no further use.
for d in "$SCX_CACHE"/build-debug-*; do
	[ -f "$d/.scx_rs-built" ] || rm -rf "$d"
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
