// SPDX-License-Identifier: GPL-2.0
/*
 * ps_lp_cumul: cumulative patch (.replace = true).  Replaces every patch
 * loaded before it: after its transition /proc/ps_target shows
 * value=cumulative and /proc/cmdline is the real one again (ps_lp_basic's
 * cmdline_proc_show is reverted by a nop), and ps_lp_basic's sysfs
 * directory is gone.
 */
#include "ps_lp.h"

static const char *livepatch_ps_target_value(void)
{
	return "cumulative";
}

static struct klp_func funcs[] = {
	{ .old_name = "ps_target_value", .new_func = livepatch_ps_target_value, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "ps_target", .funcs = funcs, },
	{ }
};

PS_LP_MODULE(objs, true);
MODULE_DESCRIPTION("patchscope VM test: cumulative (replace) livepatch");
