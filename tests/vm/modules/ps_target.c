// SPDX-License-Identifier: GPL-2.0
/*
 * ps_target: the module the patchscope VM tests live-patch.
 *
 * - A kernel thread "ps_blocker" that, while the module parameter `hold` is 1,
 *   sleeps uninterruptibly (msleep in a loop) *inside* ps_target_func().  A
 *   livepatch that replaces ps_target_func() cannot move this thread, so its
 *   transition stalls until `hold` goes back to 0:
 *       echo 1 > /sys/module/ps_target/parameters/hold   # enter and stay
 *       echo 0 > /sys/module/ps_target/parameters/hold   # leave
 *   /proc/ps_target shows `inside=1` while the thread sleeps in there.
 * - A second kernel thread "ps_blocker2", the same with the parameter
 *   `hold2`.  Set hold2=1 *after* a patch of ps_target_func is in place (or
 *   in transition) and ps_blocker2, already switched to the patched state,
 *   enters the *replacement* function and sleeps there: that one holds the
 *   reversed (unpatching) transition after a revert.
 * - /proc/ps_target, whose lines come from functions the test livepatches
 *   replace, so "really patched" is observable:
 *       value=<ps_target_value()>       (ps_lp_basic, ps_lp_cumul)
 *       stack=<ps_target_stack_value()> (ps_lp_stack1, ps_lp_stack2)
 *       inside=<0|1>  entries=<n>
 *
 * The functions are noipa + exported so gcc keeps them out-of-line, unchanged
 * and under their own names (no .isra/.constprop clones), which livepatch needs.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int hold;
module_param(hold, int, 0644);
MODULE_PARM_DESC(hold, "1: the ps_blocker thread enters ps_target_func and sleeps there until set to 0");
static int hold2;
module_param(hold2, int, 0644);
MODULE_PARM_DESC(hold2, "1: the ps_blocker2 thread enters ps_target_func and sleeps there until set to 0");

static int inside;
static unsigned long entries;
static struct task_struct *blocker, *blocker2;

/*
 * Sleeps while *holdp is set.  A livepatch of it (ps_lp_stall) has the same
 * signature and loop, so a thread can be held in either version.
 */
__attribute__((noipa)) int ps_target_func(int *holdp)
{
	int naps = 0;

	WRITE_ONCE(inside, 1);
	entries++;
	while (READ_ONCE(*holdp) && !kthread_should_stop()) {
		/*
		 * TASK_UNINTERRUPTIBLE: fake signals do not wake it.  Long naps:
		 * the thread is almost never caught running (no stack then).
		 */
		msleep(1000);
		naps++;
	}
	WRITE_ONCE(inside, 0);
	return naps;
}
EXPORT_SYMBOL_GPL(ps_target_func);

__attribute__((noipa)) const char *ps_target_value(void)
{
	return "original";
}
EXPORT_SYMBOL_GPL(ps_target_value);

__attribute__((noipa)) const char *ps_target_stack_value(void)
{
	return "original";
}
EXPORT_SYMBOL_GPL(ps_target_stack_value);

static int ps_blocker_fn(void *data)
{
	int *holdp = data;

	while (!kthread_should_stop()) {
		if (READ_ONCE(*holdp))
			ps_target_func(holdp);
		else
			msleep(100);
	}
	return 0;
}

static int ps_target_show(struct seq_file *m, void *v)
{
	seq_printf(m, "value=%s\n", ps_target_value());
	seq_printf(m, "stack=%s\n", ps_target_stack_value());
	seq_printf(m, "inside=%d\n", READ_ONCE(inside));
	seq_printf(m, "entries=%lu\n", entries);
	seq_printf(m, "blocker_pid=%d\n", blocker ? task_pid_nr(blocker) : -1);
	seq_printf(m, "blocker2_pid=%d\n", blocker2 ? task_pid_nr(blocker2) : -1);
	return 0;
}

static int __init ps_target_init(void)
{
	if (!proc_create_single("ps_target", 0444, NULL, ps_target_show))
		return -ENOMEM;
	blocker = kthread_run(ps_blocker_fn, &hold, "ps_blocker");
	if (IS_ERR(blocker)) {
		remove_proc_entry("ps_target", NULL);
		return PTR_ERR(blocker);
	}
	blocker2 = kthread_run(ps_blocker_fn, &hold2, "ps_blocker2");
	if (IS_ERR(blocker2)) {
		kthread_stop(blocker);
		remove_proc_entry("ps_target", NULL);
		return PTR_ERR(blocker2);
	}
	return 0;
}

static void __exit ps_target_exit(void)
{
	kthread_stop(blocker2);
	kthread_stop(blocker);
	remove_proc_entry("ps_target", NULL);
}

module_init(ps_target_init);
module_exit(ps_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("patchscope VM test: live-patch target with a blocking kernel thread");
