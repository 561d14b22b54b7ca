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
# takes seconds, not a module build.

. "$(dirname "$0")/lib.sh"

OUT=$1
SCRATCH=$OUT/scx_rs-compile-fail
mkdir -p "$SCRATCH"
rout=/cache/${OUT#"$SCX_CACHE"/}
rscratch=/cache/${SCRATCH#"$SCX_CACHE"/}
mapfile -t EXAMPLES < <(cd "$SCX_TOP" && python3 scripts/doctests.py --compile-fail rust/sync/*.rs rust/ext/*.rs)
[ "${#EXAMPLES[@]}" -gt 0 ] || die "no compile_fail examples found"

bad=0
for e in "${EXAMPLES[@]}"; do
	read -r cfg code where <<<"$e"
	log="$SCRATCH/$cfg.log"
	if in_root "make -C $rout M=/scx_rs MO=$rscratch LLVM=$SCX_LLVM -j1 \
		SCX_RS_COMPILE_FAIL=$cfg rust/scx_rs.o" >"$log" 2>&1; then
		log "compile_fail $where: compiled, but must fail with $code"
		bad=$((bad + 1))
	elif grep -q "^error\[$code\]" "$log"; then
		log "compile_fail $where: rejected with $code"
	else
		log "compile_fail $where: failed, but not with $code (log: $log):"
		grep -E -A8 '^error' "$log" | head -30 >&2
		bad=$((bad + 1))
	fi
done
log "compile_fail: ${#EXAMPLES[@]} example(s), $bad wrong"
[ "$bad" = 0 ]
