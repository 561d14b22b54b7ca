#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the upstream sched_ext selftests (tools/testing/selftests/sched_ext,
# the runner) and example schedulers (tools/sched_ext: scx_simple,
# scx_qmap, scx_central), and scx_rs's own tools (tests/bench/ and
# tests/stress/: <name>.c with <name>.bpf.c), from the patched tree,
# against a kernel build
# directory made by kernel-build.sh, with the build root's clang 22 for BPF
# (see scripts/buildroot.packages).
#
#   scx-tools.sh KBUILD_DIR
#
# Prints the directory holding `runner` and the `scx_*` binaries. Rebuilt
# when the kernel build changes (its vmlinux BTF is what the BPF programs
# are compiled against).
#
# scx_rs's own selftests (tests/selftests/<name>.c and <name>.bpf.c) are
# linked into the tree's selftests directory and built into the same
# runner, after the upstream ones.

. "$(dirname "$0")/lib.sh"

OUT=$1
OWN=$(cd "$SCX_TOP/tests/selftests" && ls ./*.bpf.c | sed 's|^\./||; s|\.bpf\.c$||' | xargs)
# scx_rs's own tools, built like the example schedulers.
OWN_TOOLS=$(cd "$SCX_TOP/tests" && ls bench/*.bpf.c stress/*.bpf.c | sed 's|\.bpf\.c$||' | xargs)
# Rebuilt when the kernel, this recipe, our selftests or tools change.
BUILT=$(key "$(cat "$OUT/.scx_rs-built")" "$SCX_TOP/scripts/scx-tools.sh" \
	"$SCX_TOP"/tests/selftests/* "$SCX_TOP"/tests/bench/* "$SCX_TOP"/tests/stress/*)
SRC=$(cat "$OUT/.scx_rs-src")
TOOLS=$OUT/scx-tools
rsrc=/cache/${SRC#"$SCX_CACHE"/}
rout=/cache/${OUT#"$SCX_CACHE"/}
SCHEDS="scx_simple scx_qmap scx_central"
# Their binaries.
OWN_BINS=$(for t in $OWN_TOOLS; do printf '%s ' "${t##*/}"; done)

build() {
	rm -rf "$TOOLS"
	mkdir -p "$TOOLS/selftests"
	in_root "set -e
		st=$rsrc/tools/testing/selftests/sched_ext
		for t in $OWN; do
			ln -sf /scx_rs/tests/selftests/\$t.c /scx_rs/tests/selftests/\$t.bpf.c \$st/
		done
		# and the headers they share
		ln -sf /scx_rs/tests/selftests/*.h \$st/
		upstream=\$(sed -n '/^auto-test-targets :=/,/^\$/p' \$st/Makefile |
			sed 's/auto-test-targets :=//; s/\\\\//' | xargs)
		make -C \$st O=$rout OUTPUT=$rout/scx-tools/selftests \
			CLANG=clang-22 LLVM_STRIP=llvm-strip-22 -j$SCX_JOBS \
			auto-test-targets=\"\$upstream $OWN\"
		mkdir -p $rout/scx-tools/sched_ext
		for t in $OWN_TOOLS; do
			ln -sf /scx_rs/tests/\$t.c /scx_rs/tests/\$t.bpf.c $rsrc/tools/sched_ext/
		done
		make -C $rsrc/tools/sched_ext O=$rout/scx-tools/sched_ext VMLINUX_BTF=$rout/vmlinux \
			CLANG=clang-22 LLVM_STRIP=llvm-strip-22 -j$SCX_JOBS \
			c-sched-targets=\"$SCHEDS $OWN_BINS\" $SCHEDS $OWN_BINS
		cp $rout/scx-tools/selftests/runner $rout/scx-tools/
		# make bench's macro load, a plain static program.
		gcc -O2 -Wall -Werror -static -o $rout/scx-tools/scx_rs_pingpong \
			/scx_rs/tests/bench/scx_rs_pingpong.c
		for s in $SCHEDS $OWN_BINS; do cp $rout/scx-tools/sched_ext/build/bin/\$s $rout/scx-tools/; done" \
		>"$OUT/scx-tools.log" 2>&1 ||
		{ tail -30 "$OUT/scx-tools.log" >&2; die "sched_ext selftests/schedulers build failed (log: $OUT/scx-tools.log)"; }
	echo "$BUILT" >"$TOOLS/.scx_rs-built"
}

if [ "$(cat "$TOOLS/.scx_rs-built" 2>/dev/null)" != "$BUILT" ]; then
	stage "build sched_ext selftests and schedulers" build
fi
echo "$TOOLS"
