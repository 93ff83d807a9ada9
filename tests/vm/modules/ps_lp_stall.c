// SPDX-License-Identifier: GPL-2.0
/*
 * ps_lp_stall: replaces ps_target_func, in which the ps_blocker kernel thread
 * sleeps while ps_target's `hold` is 1: the transition stalls until hold=0,
 * a revert (enabled=0) or a force.  Its replacement holds too (see below).
 */
#include <linux/delay.h>
#include <linux/kthread.h>
#include "ps_lp.h"

/*
 * Same contract as the original: sleep while *holdp is set.  A thread that
 * sleeps in *this* function (ps_blocker2 with hold2=1, after it switched to
 * the patched state) holds an unpatching transition, e.g. after a revert.
 */
static int livepatch_ps_target_func(int *holdp)
{
	int naps = 0;

	do {
		msleep(1000);	/* at least one nap: the caller's loop never spins */
		naps++;
	} while (READ_ONCE(*holdp) && !kthread_should_stop());
	return naps;
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
