#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-$SCX_KSERIES, unpack it once per Debian
# version into the cache, keep it as a git tree whose first commit is the
# pristine source, and bring it to "pristine + patches/series" with git am.
#
# A change to the series resets the tree to the pristine commit and applies
# the new series: only files that differ get a new mtime, so the kernel
# rebuild that follows is incremental.
#
# Prints the source directory on stdout. SCX_RS_PATCHES overrides the
# patch directory (used by the rig's self-checks). --prefetch only fetches
# the package and starts the unpack in the background (see below).

. "$(dirname "$0")/lib.sh"

PATCHES=${SCX_RS_PATCHES:-$SCX_TOP/patches}
DL=$SCX_CACHE/dl
mkdir -p "$DL"

# The version apt offers now; refresh the lists when the archive has moved
# on (the archive keeps only the newest revision).
candidate() {
	in_root "apt-cache policy linux-source-$SCX_KSERIES" |
		awk '/Candidate:/ { print $2 }'
}

fetch() {
	local v deb
	v=$(candidate)
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		in_root 'apt-get update -qq' >&2
		v=$(candidate)
	fi
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "no linux-source-$SCX_KSERIES package in trixie-backports"
	deb=$(ls "$DL"/linux-source-"${SCX_KSERIES}"_"${v//:/%3a}"_all.deb 2>/dev/null || true)
	if [ -z "$deb" ]; then
		if ! in_root "cd /cache/dl && apt-get download -q -o APT::Sandbox::User=root linux-source-$SCX_KSERIES=$v" >&2; then
			in_root 'apt-get update -qq' >&2
			v=$(candidate)
			in_root "cd /cache/dl && apt-get download -q -o APT::Sandbox::User=root linux-source-$SCX_KSERIES=$v" >&2 ||
				die "cannot download linux-source-$SCX_KSERIES=$v"
		fi
		deb=$(ls "$DL"/linux-source-"${SCX_KSERIES}"_*"${v##*:}"_all.deb)
	fi
	echo "$v $deb"
}

unpack() {
	local deb=$1 dst=$2 tmp="$2.tmp"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/linux-source-$SCX_KSERIES.tar.xz" |
		xz -dc -T0 | tar -x -C "$tmp" --strip-components=1
	[ -f "$tmp/Makefile" ] || die "unexpected layout in $deb"
	(
		cd "$tmp"
		git init -q -b pristine
		git config user.name scx_rs
		git config user.email scx_rs@localhost
		git config gc.auto 0
		# Debian's .gitignore ignores every top-level path: add with -f.
		git add -A -f .
		git commit -q -m "linux-source-$SCX_KSERIES ${deb##*/}"
		git tag scx-rs-base
	)
	mv "$tmp" "$dst"
}

apply_series() {
	local src=$1 want=$2 p n=0
	cd "$src"
	rm -f .scx_rs-series
	git am --abort >/dev/null 2>&1 || true
	git checkout -q -B scx_rs scx-rs-base
	git reset -q --hard scx-rs-base
	git clean -q -fdx -e /.scx_rs-debian-version
	[ -f "$PATCHES/series" ] || die "no series file in $PATCHES"
	while read -r p; do
		p=${p%%#*}
		p=${p//[[:space:]]/}
		[ -n "$p" ] || continue
		[ -f "$PATCHES/$p" ] || die "patches/series names $p, which does not exist"
		if ! git am -q --no-3way "$PATCHES/$p" >"$SCX_CACHE/git-am.log" 2>&1; then
			sed 's/^/    /' "$SCX_CACHE/git-am.log" >&2
			git am --abort >/dev/null 2>&1 || true
			git reset -q --hard scx-rs-base
			die "patch $p does not apply to linux-source-$SCX_KSERIES $(cat .scx_rs-debian-version)"
		fi
		n=$((n + 1))
	done <"$PATCHES/series"
	echo "$want" >.scx_rs-series
	log "applied $n patch(es) from ${PATCHES#"$SCX_TOP"/}/series"
}

# Unpack the source unless it is there. The lock is held across the test
# and the unpack: a prefetch in the background (below) and a later run of
# this script may both get here.
unpack_once() {
	exec 9>"$SCX_CACHE/.unpack.lock"
	flock 9
	if [ ! -d "$SRC/.git" ]; then
		stage "unpack linux-source-$SCX_KSERIES $VER" unpack "$DEB" "$SRC"
		echo "$VER" >"$SRC/.scx_rs-debian-version"
	fi
	exec 9>&-
}

read -r VER DEB < <(fetch)
SRC=$SCX_CACHE/src-$SCX_KSERIES-${VER//[:~+]/_}
# --prefetch (buildroot.sh, once the root's package lists are there): fetch
# now, unpack in the background while the root's packages install, and
# return; the next run of this script waits for that unpack, or does it
# itself if it failed.
if [ "${1:-}" = --prefetch ]; then
	[ -d "$SRC/.git" ] || (unpack_once </dev/null >/dev/null &)
	exit 0
fi
unpack_once
SERIES_KEY=$(key "$PATCHES/series" "$PATCHES"/*.patch)
if [ "$(cat "$SRC/.scx_rs-series" 2>/dev/null)" != "$SERIES_KEY" ]; then
	stage "apply patches/series" apply_series "$SRC" "$SERIES_KEY"
fi
log "kernel source: linux-source-$SCX_KSERIES $VER (Debian), series $SERIES_KEY"
echo "$SRC"
