// SPDX-License-Identifier: GPL-2.0
/*
 * ps_lp_stall: replaces ps_target_func, in which the ps_blocker kernel thread
 * sleeps while ps_target's `hold` is 1: the transition stalls until hold=0,
 * a revert (enabled=0) or a force.
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include "ps_lp.h"

static int livepatch_ps_target_func(void)
{
	/*
	 * The patched version does not hold: one short nap, then back to the
	 * caller's loop (a nap, so the thread never spins on the CPU).
	 */
	msleep(100);
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "ps_target_func", .new_func = livepatch_ps_target_func, },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "ps_target", .funcs = funcs, },
	{ }
};

PS_LP_MODULE(objs, false);
MODULE_DESCRIPTION("patchscope VM test: livepatch whose transition a sleeping kthread holds");
