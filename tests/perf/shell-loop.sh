#!/bin/bash
# shell-loop.sh: the baseline of the performance benchmarks. Finds the
# threads blocking a live-patch transition the way operators' scripts do
# today (kpatch's `show_stalled_processes`, SUSE's `klp` helpers): a bash
# loop over /proc/<pid>/task/<tid> that reads each patch_state and, for
# each thread not at the target state, prints its comm and its stack with
# `cat` (a fork and exec per file, the cost that dominates once threads
# block).
#
#   shell-loop.sh [PROCFS [SYSFS]]            (default /proc /sys)
#   SHELL_LOOP_KPATCH=1 shell-loop.sh ...     as kpatch 0.9 does it: also
#                                             `cat` every patch_state and the
#                                             patch's `enabled` per thread
#
# Written for the benchmarks (not copied from either tool); the loop does
# the same file accesses and the same forks per thread as kpatch's.
procfs=${1:-/proc}
sysfs=${2:-/sys}

module=
for patch in "$sysfs"/kernel/livepatch/*; do
	read -r transition < "$patch/transition" 2>/dev/null || continue
	if [[ $transition == 1 ]]; then
		module=${patch##*/}
		break
	fi
done
[[ -z $module ]] && exit 0
enabled_file="$sysfs/kernel/livepatch/$module/enabled"
read -r target < "$enabled_file"

echo "Stalled processes:"
for task in "$procfs"/[0-9]*/task/[0-9]*; do
	if [[ -n ${SHELL_LOOP_KPATCH:-} ]]; then
		target=$(cat "$enabled_file" 2>/dev/null)
		state=$(cat "$task/patch_state" 2>/dev/null) || continue
	else
		read -r state < "$task/patch_state" 2>/dev/null || continue
	fi
	[[ $state == -1 || $state == "$target" ]] && continue
	echo -e "${task##*/} $(cat "$task/comm" 2>/dev/null)\nstack:\n$(cat "$task/stack" 2>/dev/null)"
done
