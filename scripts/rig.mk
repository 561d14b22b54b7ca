# SPDX-License-Identifier: GPL-2.0
#
# Self-checks of the test rig (make selftest-rig): SCX_RS_RIG names cfgs
# that break the build on purpose, a deliberately failing KUnit case or a
# WARN_ON in a sample. Never set in normal builds. Included by every Kbuild
# file, since Kbuild resets rustflags-y per directory.

rig_cfgs := scx_rs_rig_fail_kunit scx_rs_rig_warn
rustflags-y += $(foreach c,$(filter $(SCX_RS_RIG),$(rig_cfgs)),--cfg $(c))

# scripts/compile-fail.sh: compile compile_fail examples in (their cfgs, see
# scripts/doctests.py). The build must then fail.
rustflags-y += $(foreach c,$(SCX_RS_COMPILE_FAIL),--cfg $(c))
