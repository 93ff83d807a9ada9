# Scenario 4: `patchscope force --yes` during the stalled transition: the
# transition completes although the blocker never left the old function;
# the patch is marked forced (its module can never be removed).
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
release_blocker
