#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Create (or update) the Debian trixie build root in which the kernel, the
# module, the selftests and the guest image are built. Idempotent: an
# existing root is reused and only missing packages are installed.

. "$(dirname "$0")/lib.sh"

ROOT=$(buildroot_dir)
PKGS=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SCX_TOP/scripts/buildroot.packages" | tr '\n' ' ')
# Linux 7.3 with libclang 22 needs bindgen 0.72.1 or later: 0.71.1,
# trixie's, turns most kernel structs into opaque blobs (LLVM 22 made
# clang_getTypeDeclaration() return the forward declaration).
BINDGEN_VERSION=0.72.1
BINDGEN_SUITE=forky
HOST_CA=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
WANT=$(key "$SCX_TOP/scripts/buildroot.packages" "$SCX_TOP/scripts/buildroot.sh")

# bindgen >= $BINDGEN_VERSION in /usr/local/bin. Debian's next release
# has it: its binary needs only glibc 2.39 (trixie has 2.41) and loads
# libclang at run time (LIBCLANG_PATH, see lib.sh), so the binary is taken
# out of that package, fetched and verified by apt from an index pinned so
# that nothing else of that suite is ever installed. If that suite no
# longer carries a usable one, bindgen-cli is built with cargo instead,
# pinned by its own lock file (about two minutes here).
install_bindgen() {
	if in_root "set -e
		rm -rf /tmp/bindgen && mkdir /tmp/bindgen && cd /tmp/bindgen
		apt-get download -q -o APT::Sandbox::User=root bindgen/$BINDGEN_SUITE
		dpkg-deb -x bindgen_*.deb x
		x/usr/bin/bindgen --version
		install -m 0755 x/usr/bin/bindgen /usr/local/bin/bindgen
		rm -rf /tmp/bindgen" >"$SCX_CACHE/bindgen.log" 2>&1 && bindgen_ok; then
		return
	fi
	log "no usable bindgen in $BINDGEN_SUITE (log: $SCX_CACHE/bindgen.log); building bindgen-cli $BINDGEN_VERSION"
	in_root -b "$(dirname "$(realpath "$HOST_CA")")":/tmp/host-ca "set -e
		export DEBIAN_FRONTEND=noninteractive CARGO_HOME=/tmp/cargo
		apt-get install -y -q --no-install-recommends -t trixie-backports cargo
		export CARGO_HTTP_CAINFO=/tmp/host-ca/$(basename "$(realpath "$HOST_CA")")
		export CARGO_NET_RETRY=5
		cargo install -q --locked --root /usr/local bindgen-cli --version $BINDGEN_VERSION" \
		>>"$SCX_CACHE/bindgen.log" 2>&1 && bindgen_ok ||
		{ tail -30 "$SCX_CACHE/bindgen.log"; die "bindgen build failed (log: $SCX_CACHE/bindgen.log)"; }
}

# /usr/local/bin/bindgen runs and is at least $BINDGEN_VERSION.
bindgen_ok() {
	local v
	v=$(in_root '/usr/local/bin/bindgen --version' 2>/dev/null | awk '{ print $2 }')
	[ -n "$v" ] && [ "$(printf '%s\n%s\n' "$BINDGEN_VERSION" "$v" | sort -V | head -1)" = "$BINDGEN_VERSION" ]
}

bootstrap() {
	command -v debootstrap >/dev/null || {
		log "installing debootstrap on the host"
		apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
	}
	local tmp="$ROOT.tmp"
	rm -rf "$tmp"
	debootstrap --variant=minbase trixie "$tmp" "$(debian_mirror)" >"$SCX_CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$SCX_CACHE/debootstrap.log"; die "debootstrap failed (log: $SCX_CACHE/debootstrap.log)"; }
	mv "$tmp" "$ROOT"
}

install_packages() {
	local m
	m=$(debian_mirror)
	rm -f "$ROOT/etc/apt/sources.list"
	cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOS
Types: deb
URIs: $m
Suites: trixie trixie-updates trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# Only for bindgen (install_bindgen), pinned never to install. A testing
# suite's Release is valid for a week; a mirror may serve it older than
# that. The signature is still checked.
Types: deb
URIs: $m
Suites: $BINDGEN_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
Check-Valid-Until: no
EOS
	cat >"$ROOT/etc/apt/preferences.d/scx-rs-$BINDGEN_SUITE" <<EOS
Package: *
Pin: release n=$BINDGEN_SUITE
Pin-Priority: -1
EOS
	# Keep the root small: no documentation, no recommends.
	cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-scx-rs-nodoc" <<EOS
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
EOS
	in_root "apt-get update -qq" >"$SCX_CACHE/apt.log" 2>&1 ||
		{ tail -30 "$SCX_CACHE/apt.log"; die "package lists update failed (log: $SCX_CACHE/apt.log)"; }
	# The kernel source unpacks (host tools, a core of its own) while the
	# packages install; kernel-src.sh waits for it.
	"$SCX_TOP/scripts/kernel-src.sh" --prefetch ||
		log "kernel source prefetch failed; kernel-src.sh will fetch it"
	in_root "export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends -t trixie-backports $PKGS" \
		>>"$SCX_CACHE/apt.log" 2>&1 ||
		{ tail -30 "$SCX_CACHE/apt.log"; die "package install failed (log: $SCX_CACHE/apt.log)"; }
	install_bindgen
	# clang-22 and friends only install versioned names; the kernel is
	# built with LLVM=-22 so nothing more is needed.
	in_root 'ln -sf /usr/bin/python3 /usr/local/bin/python'
	in_root "{ clang-22 --version | head -1; rustc --version; bindgen --version;
		  pahole --version; dpkg-query -W -f '\${Version}' rustc; echo; } 2>&1" \
		>"$ROOT/.scx_rs-toolchain"
	echo "$WANT" >"$ROOT/.scx_rs-packages"
}

[ -x "$ROOT/usr/bin/apt-get" ] || stage "debootstrap trixie" bootstrap
if [ "$(cat "$ROOT/.scx_rs-packages" 2>/dev/null)" != "$WANT" ]; then
	stage "install build-root packages" install_packages
fi
log "build root: $ROOT"
sed 's/^/[scx_rs]   /' "$ROOT/.scx_rs-toolchain" >&2
