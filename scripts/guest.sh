#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest initramfs and boot the kernel under QEMU (TCG).
#
#   guest.sh KBUILD_DIR MODULE_DIR CONSOLE_LOG [TOOLS_DIR]
#
# With SCX_RS_GUEST_RUN (a comma-separated list of: selftests, qmap,
# central) the guest also runs the upstream sched_ext selftests and
# schedulers from TOOLS_DIR (scripts/scx-tools.sh), after the modules'
# KUnit suites; see scripts/guest/init.
#
# The guest loads the modules listed in SCX_RS_MODULES ("none" for none;
# default: all that
# were built), which runs their KUnit suites, unloads them and reboots;
# with -no-reboot QEMU then exits. QEMU is always bounded by
# SCX_RS_GUEST_TIMEOUT seconds (default 300): a guest that never powers
# off is killed and the run fails. Exits with QEMU's (or timeout's) code.

. "$(dirname "$0")/lib.sh"

OUT=$1
MO=$2
LOG=$3
TOOLS=${4:-}
RUN=${SCX_RS_GUEST_RUN:-}
[ -z "$RUN" ] || [ -n "$TOOLS" ] || die "SCX_RS_GUEST_RUN needs the tools directory"
CPUS=${SCX_RS_GUEST_CPUS:-4}
TIMEOUT=${SCX_RS_GUEST_TIMEOUT:-300}
MODS=${SCX_RS_MODULES:-$(cd "$MO" && find . -name '*.ko' -printf '%f\n' |
	sed 's/\.ko$//' | sort | awk '$0 == "scx_rs" { first = $0; next } { rest = rest "," $0 }
	END { printf "%s%s", first, rest }')}
MODS=${MODS#,}
# "none": boot without loading any module (the baseline run).
[ "$MODS" != none ] || MODS=
GUEST=$MO/guest
rm -rf "$GUEST"
mkdir -p "$GUEST"

# gen_init_cpio list (paths as the build root sees them): no root
# privileges or mknod needed.
rmo=/cache/${MO#"$SCX_CACHE"/}
{
	echo "dir /bin 755 0 0"
	echo "dir /sbin 755 0 0"
	echo "dir /usr 755 0 0"
	echo "dir /usr/bin 755 0 0"
	echo "dir /usr/sbin 755 0 0"
	for d in dev proc sys tmp root modules; do echo "dir /$d 755 0 0"; done
	echo "nod /dev/console 600 0 0 c 5 1"
	echo "nod /dev/null 666 0 0 c 1 3"
	echo "file /bin/busybox /bin/busybox 755 0 0"
	echo "file /init /scx_rs/scripts/guest/init 755 0 0"
	(cd "$MO" && find . -name '*.ko' -printf "file /modules/%f $rmo/%P 644 0 0\n")
	if [ -n "$RUN" ]; then
		rtools=/cache/${TOOLS#"$SCX_CACHE"/}
		for d in scx lib lib64 lib/x86_64-linux-gnu; do echo "dir /$d 755 0 0"; done
		# The runner, the example schedulers and scx_rs's own tools.
		for b in $(cd "$TOOLS" && find . -maxdepth 1 -type f \( -name runner -o -name 'scx_*' \) -printf '%f\n'); do
			echo "file /scx/$b $rtools/$b 755 0 0"
		done
		# The shared libraries they link, under their sonames.
		in_root "/scx_rs/scripts/guest/libs.sh $rtools/runner $rtools/scx_qmap"
	fi
} >"$GUEST/initramfs.list"
in_root "/cache/${OUT#"$SCX_CACHE"/}/usr/gen_init_cpio $rmo/guest/initramfs.list \
	>$rmo/guest/initramfs.cpio"

APPEND="console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 oops=panic softlockup_panic=0"
APPEND+=" rcupdate.rcu_cpu_stall_suppress_at_boot=1 scxrs_mods=$MODS"
[ -z "$RUN" ] || APPEND+=" scxrs_run=$RUN scxrs_secs=${SCX_RS_SCHED_SECS:-20}"
APPEND+=" ${SCX_RS_GUEST_APPEND:-}"
# SCX_RS_GUEST_ICOUNT=1 (make bench): a deterministic machine. QEMU counts
# instructions (-icount shift=0: the guest clock advances 1 ns per
# instruction, so a time is an instruction count of the whole system;
# sleep=off: idle time jumps to the next timer), which needs one TCG thread
# for all vCPUs, and the guest's wall clock is fixed; the guest uses the
# TSC at exactly 1 GHz, without the clocksource watchdog.
ACCEL="-accel tcg,thread=multi -cpu max"
if [ -n "${SCX_RS_GUEST_ICOUNT:-}" ]; then
	ACCEL="-accel tcg,thread=single -icount shift=0,sleep=off -rtc base=2026-01-01T00:00:00,clock=vm"
	# No host entropy either: RDRAND/RDSEED would seed the guest's RNG
	# (hash tables, slab freelists) differently at each boot.
	ACCEL+=" -cpu max,rdrand=off,rdseed=off"
	APPEND+=" clocksource=tsc tsc=reliable tsc_early_khz=1000000 nokaslr"
fi
log "guest: $CPUS vCPUs (TCG${SCX_RS_GUEST_ICOUNT:+, icount}), modules: $MODS, timeout ${TIMEOUT}s"
rc=0
# A boot that never reaches the guest's init is retried once: under TCG a
# boot has been seen to stop for good at about 1 s of guest time, before
# any module is loaded (so before anything of scx_rs runs). A boot reaches
# init in well under a minute; SCX_RS_GUEST_BOOT_TIMEOUT bounds the wait.
BOOT_TIMEOUT=${SCX_RS_GUEST_BOOT_TIMEOUT:-240}
KERNEL=/cache/${OUT#"$SCX_CACHE"/}/arch/x86/boot/bzImage
boot() {
	in_root "exec timeout --foreground -k 10 $TIMEOUT qemu-system-x86_64 \
	$ACCEL -smp $CPUS -m 2G \
	-nodefaults -display none -serial stdio -no-reboot \
	-kernel $KERNEL \
	-initrd /cache/${GUEST#"$SCX_CACHE"/}/initramfs.cpio \
	-append '$APPEND'" </dev/null >"$LOG" 2>&1
}

rc=0
boot &
pid=$!
waited=0
while kill -0 "$pid" 2>/dev/null && ! grep -q 'scx_rs-guest: up' "$LOG" &&
	[ "$waited" -lt "$BOOT_TIMEOUT" ]; do
	sleep 2
	waited=$((waited + 2))
done
if kill -0 "$pid" 2>/dev/null && ! grep -q 'scx_rs-guest: up' "$LOG"; then
	log "guest: no init after ${BOOT_TIMEOUT}s, boot stuck at: $(tail -n 1 "$LOG")"
	pkill -f "qemu-system-x86_64 .*-kernel $KERNEL" || true
	wait "$pid" || true
	cp "$LOG" "$LOG.stuck"
	log "guest: booting again (the stuck console is in $LOG.stuck)"
	boot || rc=$?
else
	wait "$pid" || rc=$?
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "scx_rs-host: guest killed after ${TIMEOUT}s (did not power off)" >>"$LOG"
fi
exit "$rc"
