// SPDX-License-Identifier: GPL-2.0
/*
 * ps_lp_stack2: one of two non-cumulative patches stacked on the same
 * function, ps_target_stack_value.  The newest enabled one wins:
 * /proc/ps_target shows stack=stack2 while it is on top.
 */
#include "ps_lp.h"

static const char *livepatch_ps_target_stack_value(void)
{
	return "stack2";
}

static struct klp_func funcs[] = {
	{ .old_name = "ps_target_stack_value", .new_func = livepatch_ps_target_stack_value, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "ps_target", .funcs = funcs, },
	{ }
};

PS_LP_MODULE(objs, false);
MODULE_DESCRIPTION("patchscope VM test: stacked livepatch 2");
