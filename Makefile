# SPDX-License-Identifier: GPL-2.0
#
# scx_rs entry points. See README.md.
#
#   make run                 build everything, boot, run, report (the main job)
#   make check               the tests (host checks, KUnit in the guest)
#   make quick               inner loop: rebuild the module, boot, KUnit verdict
#   make baseline            selftests and schedulers with no module loaded
#   make bench               C against Rust on the same boot (base kernel)
#   make stress              KASAN/kmemleak, faults, churn, hotplug, soak
#   make selftest-rig        show that the rig catches failures
#   make module KDIR=<tree>  build scx_rs.ko against your own patched kernel
#   make clean               remove module objects from this directory
#   make clean-cache         remove ~/.cache/scx_rs (everything built)
#
# The kernel's build reads Kbuild, not this file: make -C $(KDIR) M=$(CURDIR).

SCX_CACHE ?= $(or $(SCX_RS_CACHE),$(HOME)/.cache/scx_rs)
LLVM ?= 1

.PHONY: run check quick baseline bench stress selftest-rig module clean clean-cache buildroot kernel

run:
	@scripts/run.sh

check:
	@scripts/check.sh

bench:
	@scripts/bench.sh

stress:
	@scripts/stress.sh

quick:
	@scripts/check.sh --quick

baseline:
	@scripts/check.sh --baseline

selftest-rig:
	@scripts/selftest-rig.sh

buildroot:
	@scripts/buildroot.sh

kernel:
	@scripts/kernel-build.sh debug >/dev/null

module:
	@test -n "$(KDIR)" || { echo "usage: make module KDIR=/path/to/patched/kernel/build"; exit 2; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM)

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	@find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.d' -o -name 'modules.order' \
		-o -name 'Module.symvers' -o -name '*.rmeta' \) -not -path './.git/*' -delete
	@rm -f rust/ext/bindings_generated.rs rust/doctests_generated.rs

clean-cache:
	rm -rf $(SCX_CACHE)
