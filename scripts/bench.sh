#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the paths scx_rs replaces, C against Rust on the same boot.
#
# Builds the base kernel (configs/base.config alone: no lockdep or other
# debugging, which would dominate the figures), the modules and the tools
# for it, boots the guest without loading any module and runs the bench
# scenario (scripts/guest/init): scx_rs_bench (tests/bench/) with the
# built-in C paths, then with scx_rs.ko loaded, SCX_RS_BENCH_ROUNDS times
# (default 5), alternating; SCX_RS_BENCH_PINGPONG=0 leaves the macro
# load out (a quicker run). Prints, per case, the median over the rounds of
# each round's median time per call, and Rust/C. Exits non-zero if the
# guest failed or printed a splat; the figures themselves judge nothing.

#
# SCX_RS_BENCH_SERIES=none measures the C paths on the same kernel built
# without patches/: what the series costs when no module is loaded. It
# builds in a cache of its own (the "unpatched" directory of the cache,
# sharing the build root and the downloads), loads no module and runs the
# C rounds only; compare its C figures with those of a plain make bench.

. "$(dirname "$0")/lib.sh"

T0=$(date +%s)
if [ "${SCX_RS_BENCH_SERIES:-}" = none ] && [ -z "${SCX_RS_BENCH_UNPATCHED:-}" ]; then
	u=$SCX_CACHE/unpatched
	mkdir -p "$u/no-patches"
	: >"$u/no-patches/series"
	ln -sfn ../root-trixie "$u/root-trixie"
	ln -sfn ../dl "$u/dl"
	"$SCX_TOP/scripts/buildroot.sh"
	exec env SCX_RS_CACHE="$u" SCX_RS_PATCHES="$u/no-patches" SCX_RS_BENCH_UNPATCHED=1 "$0" "$@"
fi
if [ -n "${SCX_RS_BENCH_UNPATCHED:-}" ]; then
	stage "build root" "$SCX_TOP/scripts/buildroot.sh"
	KOUT=$("$SCX_TOP/scripts/kernel-build.sh" unpatched)
	KSRC=$(cat "$KOUT/.scx_rs-src")
	MO=$KOUT/no-modules
	mkdir -p "$MO"
	TOOLS=$("$SCX_TOP/scripts/scx-tools.sh" "$KOUT")
	RUST=0
else
	build_all base
	RUST=1
fi
LOG=$MO/console-bench.log
qrc=0
# Deterministic: instruction counting, 2 vCPUs (the kicking CPU and the
# kicked one), see scripts/guest.sh.
SCX_RS_GUEST_ICOUNT=${SCX_RS_BENCH_ICOUNT-1} SCX_RS_GUEST_CPUS=${SCX_RS_BENCH_CPUS:-2} \
SCX_RS_MODULES=none SCX_RS_GUEST_RUN=bench SCX_RS_GUEST_TIMEOUT=1800 \
	SCX_RS_GUEST_APPEND="scxrs_bench_rounds=${SCX_RS_BENCH_ROUNDS:-5} scxrs_bench_pingpong=${SCX_RS_BENCH_PINGPONG:-1} scxrs_bench_rust=$RUST" \
	stage "boot guest" "$SCX_TOP/scripts/guest.sh" "$KOUT" "$MO" "$LOG" "$TOOLS" || qrc=$?
log "console: $LOG"
rc=0
python3 "$SCX_TOP/scripts/verdict.py" --kernel-src "$KSRC" --qemu-rc "$qrc" \
	--known-failures "$SCX_TOP/scripts/selftests.known" "$LOG" >"$MO/verdict-bench.txt" || rc=$?
[ "$rc" = 0 ] || tail -n 8 "$MO/verdict-bench.txt"
python3 - "$LOG" <<'PY' || rc=1
import re, statistics, sys
runs = {}
for line in open(sys.argv[1], errors='replace'):
    m = re.search(r'scx_rs_bench: (C|Rust) (\S+) ([0-9.]+)$', line.strip())
    if m:
        runs.setdefault(m.group(2), {}).setdefault(m.group(1), []).append(float(m.group(3)))
if not runs:
    sys.exit('no scx_rs_bench figures on the console')
def spread(v):
    m = statistics.median(v)
    return 100 * (max(v) - min(v)) / m if m else 0
print(f'{"case":<22} {"C ns/call":>10} {"spread":>7} {"Rust ns/call":>13} {"spread":>7} '
      f'{"Rust/C":>7}  rounds')
for case, by in runs.items():
    cs, rs = by.get('C', [0]), by.get('Rust', [])
    c = statistics.median(cs)
    if not rs:
        print(f'{case:<22} {c:>10.1f} {spread(cs):>6.2f}% {"-":>13} {"-":>7} {"-":>7}  '
              f'{len(cs)}/0')
        continue
    r = statistics.median(rs)
    print(f'{case:<22} {c:>10.1f} {spread(cs):>6.2f}% {r:>13.1f} {spread(rs):>6.2f}% '
          f'{r / c if c else 0:>7.3f}  {len(cs)}/{len(rs)}')
PY
log "make bench took $(( $(date +%s) - T0 ))s"
exit "$rc"
