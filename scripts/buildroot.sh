#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Create (or update) the Debian trixie build root in which the kernel, the
# module, the selftests and the guest image are built. Idempotent: an
# existing root is reused and only missing packages are installed.

. "$(dirname "$0")/lib.sh"

ROOT=$(buildroot_dir)
PKGS=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SCX_TOP/scripts/buildroot.packages" | tr '\n' ' ')
BINDGEN_VERSION=0.72.1
HOST_CA=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
WANT=$(key "$SCX_TOP/scripts/buildroot.packages" "bindgen-cli $BINDGEN_VERSION")

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
EOS
	# Keep the root small: no documentation, no recommends.
	cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-scx-rs-nodoc" <<EOS
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
EOS
	in_root "export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -q --no-install-recommends -t trixie-backports $PKGS" \
		>"$SCX_CACHE/apt.log" 2>&1 ||
		{ tail -30 "$SCX_CACHE/apt.log"; die "package install failed (log: $SCX_CACHE/apt.log)"; }
	# Linux 7.3 with libclang 22 needs bindgen 0.72.1 or later: 0.71.1,
	# trixie's, turns most kernel structs into opaque blobs (LLVM 22 made
	# clang_getTypeDeclaration() return the forward declaration). It is
	# built with the root's cargo, pinned by its own lock file, trusting
	# the host's certificate authorities (the host reaches the registry).
	in_root -b "$(dirname "$(realpath "$HOST_CA")")":/tmp/host-ca "export CARGO_HOME=/tmp/cargo
		export CARGO_HTTP_CAINFO=/tmp/host-ca/$(basename "$(realpath "$HOST_CA")")
		export CARGO_NET_RETRY=5
		cargo install -q --locked --root /usr/local bindgen-cli --version $BINDGEN_VERSION" \
		>"$SCX_CACHE/bindgen.log" 2>&1 ||
		{ tail -30 "$SCX_CACHE/bindgen.log"; die "bindgen build failed (log: $SCX_CACHE/bindgen.log)"; }
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
