# Scenario 4: `patchscope force --yes` during the stalled transition: the
# transition completes although the blocker never left the old function.
# A: force a patching transition (non-cumulative patch); then disable it:
#    on 6.1 its module can still be removed.
# B: force an unpatching transition (a revert held by ps_blocker2 sleeping in
#    the replacement function): the patch goes away but its module is pinned.
. /ps/lib.sh
load_target
hold_blocker
mark insmod.start
block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
mark insmod.end
sleep 3
ps_status ps:status.stalled
ksnap k:stalled
mark force.start
pscope ps:force force ps_lp_stall --yes --source linux ||
    have_patchscope || block do:force.direct sh -c "echo 1 > $LP/ps_lp_stall/force"
mark force.end
# the kernel completes a forced transition at its next retry (<= 1 s):
# sample until then
i=0
while [ $i -lt 8 ] && ! tr_done ps_lp_stall; do
    ps_status ps:status.forcing.$i || break
    i=$((i + 1))
done
block do:wait.done wait_until 30 tr_done ps_lp_stall
mark done
ps_status ps:status.after
ksnap k:after
# kernel truth of "forced": disable it, unpatching completes, but the module
# stays pinned (rmmod must fail)
block do:disable.stall sh -c "echo 0 > $LP/ps_lp_stall/enabled"
block do:wait.gone wait_until 30 gone ps_lp_stall
ksnap k:disabled
block may:rmmod.stall rmmod ps_lp_stall

# B
block do:insmod.stall.b insmod "$KO/ps_lp_stall.ko"
block do:wait.running.b wait_until 10 tr_running ps_lp_stall
hold_blocker2
pscope ps:revert.b revert ps_lp_stall --yes --source linux ||
    have_patchscope || block do:revert.b.direct sh -c "echo 0 > $LP/ps_lp_stall/enabled"
sleep 2
ps_status ps:status.b.reverting
ksnap k:b.reverting
pscope ps:force.b force ps_lp_stall --yes --source linux ||
    have_patchscope || block do:force.b.direct sh -c "echo 1 > $LP/ps_lp_stall/force"
i=0
while [ $i -lt 8 ] && ! gone ps_lp_stall; do
    ps_status ps:status.b.forcing.$i || break
    i=$((i + 1))
done
block do:wait.gone.b wait_until 30 gone ps_lp_stall
ps_status ps:status.b.after
ksnap k:b.after
block may:rmmod.stall.b rmmod ps_lp_stall
release_blocker2
release_blocker
