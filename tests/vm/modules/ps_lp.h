/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared boilerplate for the patchscope test livepatches.  Each ps_lp_*.c
 * defines its replacement functions, the klp_func/klp_object arrays, then
 * PS_LP_MODULE(objs, replace).
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#define PS_LP_MODULE(objs_, replace_)					\
	static struct klp_patch ps_lp_patch = {				\
		.mod = THIS_MODULE,					\
		.objs = objs_,						\
		.replace = replace_,					\
	};								\
	static int __init ps_lp_init(void)				\
	{								\
		return klp_enable_patch(&ps_lp_patch);			\
	}								\
	static void __exit ps_lp_exit(void) {}				\
	module_init(ps_lp_init);					\
	module_exit(ps_lp_exit);					\
	MODULE_LICENSE("GPL");						\
	MODULE_INFO(livepatch, "Y")
