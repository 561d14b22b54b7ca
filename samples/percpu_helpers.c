// SPDX-License-Identifier: GPL-2.0
/* This sample's copy of the scx_rs C shims. */
#include "../rust/helpers.c"
