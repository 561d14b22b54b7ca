# SPDX-License-Identifier: GPL-2.0
#
# Common helpers for the scx_rs scripts: cache locations, content keys,
# timed stages and running commands inside the trixie build root.
#
# Sourced, never executed.

set -euo pipefail

SCX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCX_CACHE=${SCX_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_rs}
SCX_JOBS=${SCX_RS_JOBS:-$(nproc)}
mkdir -p "$SCX_CACHE"

# Kernel series we track. The Debian revision is whatever the archive has;
# it is recorded in the build output, not pinned here.
SCX_KSERIES=7.3
SCX_LLVM=-22

log() { printf '[scx_rs] %s\n' "$*" >&2; }
die() { printf '[scx_rs] error: %s\n' "$*" >&2; exit 1; }

# stage NAME CMD...: run CMD, printing the stage name and its wall time.
stage() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	log ">>> $name"
	# A subshell outside any "||" context, so that errexit holds inside
	# the stage's functions.
	set +e
	(set -e; "$@")
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		log "<<< $name: $(( $(date +%s) - t0 ))s"
	else
		log "<<< $name: failed after $(( $(date +%s) - t0 ))s"
	fi
	return "$rc"
}

# key STRING...: a short content hash of the arguments (files are hashed
# by content, other arguments as text).
key() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then
			printf 'F %s\n' "${a##*/}"
			cat "$a"
		else
			printf 'S %s\n' "$a"
		fi
	done | sha256sum | cut -c1-16
}

# Debian mirror: taken from the host's apt configuration, so that the
# project never names a mirror itself. SCX_RS_MIRROR overrides it.
debian_mirror() {
	if [ -n "${SCX_RS_MIRROR:-}" ]; then
		echo "$SCX_RS_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	    awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }')
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' \
			   /etc/apt/sources.list 2>/dev/null)
	[ -n "$m" ] || die "no Debian mirror in /etc/apt; set SCX_RS_MIRROR"
	echo "${m%/}"
}

# The build root (see scripts/buildroot.sh). Packages are installed into it
# incrementally; what it holds is keyed by toolchain_id below.
buildroot_dir() {
	echo "$SCX_CACHE/root-trixie"
}

# The versions of the tools that shape a kernel build, as one string: part
# of the key of every kernel build cache.
toolchain_id() {
	cat "$(buildroot_dir)/.scx_rs-toolchain"
}

# in_root CMD...: run CMD (a bash command string) as root inside the build
# root, in a private mount namespace so that the bind mounts disappear with
# the command. bindgen is pinned to libclang 22, the kernel's compiler
# (a root made before the switch from LLVM 19 may still have libclang 19,
# which bindgen would otherwise be free to load). The repository is visible
# at /scx_rs and the cache at /cache; extra "-b HOSTDIR:ROOTDIR" arguments add bind mounts.
in_root() {
	local root binds=() b
	root=$(buildroot_dir)
	[ -x "$root/usr/bin/apt-get" ] || die "build root missing: run scripts/buildroot.sh"
	while [ "${1:-}" = -b ]; do
		binds+=("$2")
		shift 2
	done
	local script="set -e
mount -t proc proc '$root/proc'
mount --rbind /dev '$root/dev'
mount -t tmpfs tmpfs '$root/tmp'
mkdir -p '$root/scx_rs' '$root/cache'
mount --bind '$SCX_TOP' '$root/scx_rs'
mount --bind '$SCX_CACHE' '$root/cache'"
	for b in "${binds[@]}"; do
		script+="
mkdir -p '$root${b#*:}'
mount --bind '${b%%:*}' '$root${b#*:}'"
	done
	script+="
exec chroot '$root' /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
	LIBCLANG_PATH=/usr/lib/llvm-22/lib /bin/bash -c \"\$0\""
	unshare -m --propagation private /bin/bash -c "$script" "$*"
}

# build_all FLAVOUR: what a guest run needs - the build root, the kernel of
# FLAVOUR (debug or base), the modules and the sched_ext tools built for it.
# Sets KOUT, KSRC, MO and TOOLS.
build_all() {
	stage "build root" "$SCX_TOP/scripts/buildroot.sh"
	KOUT=$("$SCX_TOP/scripts/kernel-build.sh" "$1")
	KSRC=$(cat "$KOUT/.scx_rs-src")
	MO=$(stage "build modules" "$SCX_TOP/scripts/module-build.sh" "$KOUT")
	TOOLS=$("$SCX_TOP/scripts/scx-tools.sh" "$KOUT")
}

# expected_suites: verdict.py arguments naming every KUnit suite of the
# module and the samples (from their #[kunit_tests(..)]) and the patched
# kernel's own sched_ext_impl (patches/0003, built in).
expected_suites() {
	grep -rhoE '#\[([a-z_]+::)*kunit_tests\([a-z0-9_]+\)\]' "$SCX_TOP/rust" "$SCX_TOP/samples" |
		sed -E 's/.*\(([a-z0-9_]+)\).*/\1/' | sort -u | sed 's/^/--expect-suite /'
	echo "--expect-suite sched_ext_impl"
}
