#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build the patched kernel in the build root.
#
#   kernel-build.sh FLAVOUR
#
# FLAVOUR "debug" is base.config + debug.config (what make check and make
# run boot), "base" is base.config alone (make bench), "kasan" is debug
# plus kasan.config (make stress), "unpatched" base.config without the
# series' own options (for a tree without the series). Extra fragments can
# be added with SCX_RS_EXTRA_CONFIG (a space-separated list of files; the
# rig's self-checks use it).
#
# The O= directory is keyed by the Debian version and the toolchain; within
# it, stamps record the configuration fragments and the patch series it was
# built with, so that an unchanged tree is not even handed to make and a
# changed one is rebuilt incrementally. Prints the O= directory.

. "$(dirname "$0")/lib.sh"

FLAVOUR=${1:-debug}
case $FLAVOUR in
debug) FRAGS=("$SCX_TOP/configs/base.config" "$SCX_TOP/configs/debug.config") ;;
base) FRAGS=("$SCX_TOP/configs/base.config") ;;
kasan) FRAGS=("$SCX_TOP/configs/base.config" "$SCX_TOP/configs/debug.config" "$SCX_TOP/configs/kasan.config") ;;
unpatched)
	# base.config without the options the series adds, for a tree built
	# without it (make bench with SCX_RS_BENCH_SERIES=none).
	sed '/^CONFIG_SCHED_CLASS_EXT_IMPL/d' "$SCX_TOP/configs/base.config" >"$SCX_CACHE/base-unpatched.config"
	FRAGS=("$SCX_CACHE/base-unpatched.config")
	;;
*) die "unknown kernel flavour '$FLAVOUR' (debug, base, kasan or unpatched)" ;;
esac
for f in ${SCX_RS_EXTRA_CONFIG:-}; do
	FRAGS+=("$(realpath "$f")")
done

SRC=$("$SCX_TOP/scripts/kernel-src.sh")
VER=$(cat "$SRC/.scx_rs-debian-version")
"$SCX_TOP/scripts/buildroot.sh"
# The O= directory is keyed by what makes a reconfigure a rebuild of
# everything anyway (Debian version, toolchain); the configuration and the
# series are keys of the build inside it, so a changed fragment or patch is
# an incremental rebuild (Kbuild's fixdep tracks CONFIG_ uses per file).
DIR_KEY=$(key "$VER" "$(toolchain_id)")
CFG_KEY=$(key "${FRAGS[@]}")
OUT=$SCX_CACHE/build-$FLAVOUR-$DIR_KEY
BUILD_KEY=$(key "$DIR_KEY" "$CFG_KEY" "$(cat "$SRC/.scx_rs-series")")

# Paths as the build root sees them (the cache is mounted at /cache).
rsrc=/cache/${SRC#"$SCX_CACHE"/}
rout=/cache/${OUT#"$SCX_CACHE"/}
MAKE="make -C $rsrc O=$rout LLVM=$SCX_LLVM -j$SCX_JOBS"

# check_config FRAGMENT...: every option a fragment sets must have survived
# olddefconfig with the same value.
check_config() {
	local f line opt val got bad=()
	for f in "$@"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*)
				opt=${line%%=*}
				val=${line#*=}
				got=$(grep -E "^$opt=" "$OUT/.config" | cut -d= -f2- || true)
				[ "$got" = "$val" ] || bad+=("$opt=$val (now: ${got:-not set}; from ${f##*/})")
				;;
			"# CONFIG_"*" is not set")
				opt=${line#\# }
				opt=${opt%% *}
				! grep -qE "^$opt=" "$OUT/.config" || bad+=("$opt not set (now: set; from ${f##*/})")
				;;
			esac
		done <"$f"
	done
	if [ "${#bad[@]}" -gt 0 ]; then
		log "olddefconfig dropped or changed these options (missing dependency?):"
		printf '[scx_rs]     %s\n' "${bad[@]}" >&2
		return 1
	fi
}

configure() {
	mkdir -p "$OUT"
	rm -f "$OUT/.scx_rs-config"
	local rfrags=() f
	for f in "${FRAGS[@]}"; do
		case $f in
		"$SCX_TOP"/*) rfrags+=("/scx_rs/${f#"$SCX_TOP"/}") ;;
		"$SCX_CACHE"/*) rfrags+=("/cache/${f#"$SCX_CACHE"/}") ;;
		*) rfrags+=("/frags/${f##*/}") ;;
		esac
	done
	local extra_bind=()
	[ -z "${SCX_RS_EXTRA_CONFIG:-}" ] ||
		extra_bind=(-b "$(dirname "$(realpath "${SCX_RS_EXTRA_CONFIG%% *}")"):/frags")
	in_root "${extra_bind[@]}" "set -e
		$MAKE -s tinyconfig
		cd $rsrc && KCONFIG_CONFIG=$rout/.config scripts/kconfig/merge_config.sh -m -O $rout $rout/.config ${rfrags[*]} >/dev/null
		$MAKE -s olddefconfig" >"$OUT/configure.log" 2>&1 ||
		{ tail -20 "$OUT/configure.log" >&2; die "configure failed (log: $OUT/configure.log)"; }
	check_config "${FRAGS[@]}" || die "kernel configuration does not hold what configs/ asks for"
	echo "$CFG_KEY" >"$OUT/.scx_rs-config"
}

build() {
	rm -f "$OUT/.scx_rs-built"
	in_root "$MAKE all" >"$OUT/build.log" 2>&1 ||
		{ grep -E -B2 -A10 'error|Error' "$OUT/build.log" | tail -40 >&2; die "kernel build failed (log: $OUT/build.log)"; }
	echo "$BUILD_KEY" >"$OUT/.scx_rs-built"
	# Builds of this flavour for other keys are stale now.
	local d
	for d in "$SCX_CACHE"/build-"$FLAVOUR"-*; do
		[ "$d" = "$OUT" ] || rm -rf "$d"
	done
	log "kernel: $(cat "$OUT/include/config/kernel.release") (Debian linux-source-$SCX_KSERIES $VER)"
}

if [ "$(cat "$OUT/.scx_rs-config" 2>/dev/null)" != "$CFG_KEY" ]; then
	stage "configure kernel ($FLAVOUR)" configure
fi
if [ "$(cat "$OUT/.scx_rs-built" 2>/dev/null)" != "$BUILD_KEY" ]; then
	stage "build kernel ($FLAVOUR, -j$SCX_JOBS, log in $OUT/build.log)" build
fi
echo "$VER" >"$OUT/.scx_rs-debian-version"
echo "$SRC" >"$OUT/.scx_rs-src"
echo "$OUT"
