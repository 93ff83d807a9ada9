// SPDX-License-Identifier: GPL-2.0
/*
 * ps_lp_basic: completes at once (nobody sleeps in the functions it replaces).
 * Two objects: vmlinux (cmdline_proc_show, as in samples/livepatch) and
 * ps_target (ps_target_value).  Observable: /proc/cmdline reads
 * "ps_lp_basic" and /proc/ps_target shows value=basic.
 */
#include <linux/seq_file.h>
#include "ps_lp.h"

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", "ps_lp_basic");
	return 0;
}

static const char *livepatch_ps_target_value(void)
{
	return "basic";
}

static struct klp_func vmlinux_funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = livepatch_cmdline_proc_show, },
	{ }
};

static struct klp_func target_funcs[] = {
	{ .old_name = "ps_target_value", .new_func = livepatch_ps_target_value, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = NULL, .funcs = vmlinux_funcs, },	/* vmlinux */
	{ .name = "ps_target", .funcs = target_funcs, },
	{ }
};

PS_LP_MODULE(objs, false);
MODULE_DESCRIPTION("patchscope VM test: livepatch that completes");
