#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the build root: print gen_init_cpio "file" lines for the
# shared libraries that the given binaries link, under their sonames (the
# paths the dynamic loader looks for), with the real files as sources.
set -euo pipefail
ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/lib64\// { print $1 }' |
	sort -u | while read -r lib; do
		echo "file $lib $(readlink -f "$lib") 755 0 0"
	done
