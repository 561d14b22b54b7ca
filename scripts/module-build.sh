#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build scx_rs.ko and the sample modules against a kernel build directory
# made by kernel-build.sh, inside the build root.
#
#   module-build.sh KBUILD_DIR [make arguments...]
#
# Objects go to an output directory (MO=) beside the kernel build and keyed
# by it, so the repository stays clean and a rebuilt kernel never meets
# stale module objects. Prints that directory.

. "$(dirname "$0")/lib.sh"

OUT=$1
shift
BUILT=$(cat "$OUT/.scx_rs-built")
MO=$OUT/scx_rs-modules-$BUILT
# Objects of an earlier kernel build are stale: drop them.
for d in "$OUT"/scx_rs-modules-*; do
	[ "$d" = "$MO" ] || rm -rf "$d"
done
mkdir -p "$MO"
rout=/cache/${OUT#"$SCX_CACHE"/}
rmo=/cache/${MO#"$SCX_CACHE"/}
in_root "make -C $rout M=/scx_rs MO=$rmo LLVM=$SCX_LLVM -j$SCX_JOBS $*" >"$MO/build.log" 2>&1 ||
	{ cat "$MO/build.log" >&2; die "module build failed"; }
grep -E 'warning|error' "$MO/build.log" >&2 || true
echo "$MO"
