#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the compile_fail examples of the documentation: for each, build the
# scx_rs crate with the cfg that compiles it in (scripts/doctests.py) and
# require that rustc rejects it with the error code the example names. An
# example that compiles, or fails for another reason, fails the check.
#
#   compile-fail.sh KBUILD_DIR
#
# Only the crate object is built, in a scratch output directory beside the
# kernel build; type checking fails before code generation, so each run
# takes seconds, not a module build. One build with every example in
# settles most of them; the others get a build each (see below).

. "$(dirname "$0")/lib.sh"

OUT=$1
SCRATCH=$OUT/scx_rs-compile-fail
mkdir -p "$SCRATCH"
rout=/cache/${OUT#"$SCX_CACHE"/}
rscratch=/cache/${SCRATCH#"$SCX_CACHE"/}
mapfile -t EXAMPLES < <(cd "$SCX_TOP" && python3 scripts/doctests.py --compile-fail rust/sync/*.rs rust/ext/*.rs)
[ "${#EXAMPLES[@]}" -gt 0 ] || die "no compile_fail examples found"

# build CFGS LOG: the crate object with the examples of CFGS compiled in.
build() {
	in_root "make -C $rout M=/scx_rs MO=$rscratch LLVM=$SCX_LLVM -j1 \
		SCX_RS_COMPILE_FAIL='$1' rust/scx_rs.o" >"$2" 2>&1
}

# First every example in one build: rustc reports the errors of each
# function, so most examples are settled by one type check instead of one
# each. An example whose error code is found at a line of its own function
# in rust/doctests_generated.rs is rejected as it must be; any other (no
# error there, or only other codes, as when rustc stopped before the pass
# that reports it) gets a build of its own, which is the verdict.
cfgs=$(for e in "${EXAMPLES[@]}"; do printf '%s ' "${e%% *}"; done)
all_log=$SCRATCH/all.log
settled=
if ! build "$cfgs" "$all_log"; then
	settled=$(python3 - "$SCX_TOP/rust/doctests_generated.rs" "$all_log" "${EXAMPLES[@]}" <<'PY'
import re, sys
gen, log, examples = sys.argv[1], sys.argv[2], sys.argv[3:]
# the line range of each example's function, from its #[cfg(...)]
starts = []
for n, line in enumerate(open(gen), 1):
    m = re.match(r'\s*#\[cfg\((scx_rs_compile_fail_\w+)\)\]', line)
    if m:
        starts.append((n, m.group(1)))
ranges = {cfg: (a, starts[i + 1][0] if i + 1 < len(starts) else 1 << 30)
          for i, (a, cfg) in enumerate(starts)}
# (code, line) of each error located in the generated file
errors, code = [], None
for line in open(log, errors='replace'):
    m = re.match(r'error\[(E\d+)\]', line)
    if m:
        code = m.group(1)
        continue
    m = re.match(r'\s*--> .*doctests_generated\.rs:(\d+):', line)
    if m and code:
        errors.append((code, int(m.group(1))))
        code = None
for e in examples:
    cfg, want = e.split()[:2]
    a, b = ranges.get(cfg, (0, 0))
    if any(c == want and a <= n < b for c, n in errors):
        print(cfg)
PY
	) || settled=
fi

bad=0
for e in "${EXAMPLES[@]}"; do
	read -r cfg code where <<<"$e"
	if grep -qx "$cfg" <<<"$settled"; then
		log "compile_fail $where: rejected with $code"
		continue
	fi
	log="$SCRATCH/$cfg.log"
	if build "$cfg" "$log"; then
		log "compile_fail $where: compiled, but must fail with $code"
		bad=$((bad + 1))
	elif grep -q "^error\[$code\]" "$log"; then
		log "compile_fail $where: rejected with $code (own build)"
	else
		log "compile_fail $where: failed, but not with $code (log: $log):"
		grep -E -A8 '^error' "$log" | head -30 >&2
		bad=$((bad + 1))
	fi
done
log "compile_fail: ${#EXAMPLES[@]} example(s), $(grep -c . <<<"$settled") settled by one build, $bad wrong"
[ "$bad" = 0 ]
