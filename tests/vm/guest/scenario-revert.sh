# Scenario 3: `patchscope revert --yes` during the stalled transition: the
# kernel reverses it, unpatching completes (the blocker sleeps in the
# original function), the patch goes away and its module can be removed.
. /ps/lib.sh
load_target
hold_blocker
mark insmod.start
block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
mark insmod.end
sleep 3
ps_status ps:status.stalled
ksnap k:stalled
mark revert.start
pscope ps:revert revert ps_lp_stall --yes --source linux ||
    have_patchscope || block do:revert.direct sh -c "echo 0 > $LP/ps_lp_stall/enabled"
mark revert.end
ps_status ps:status.reverting
ksnap k:reverting
block do:wait.gone wait_until 30 gone ps_lp_stall
mark gone
ps_status ps:status.after
ksnap k:after
block do:rmmod.stall rmmod ps_lp_stall
# no privilege-free path here (we are root), so also: a second revert fails clearly
pscope ps:revert.again revert ps_lp_stall --yes --source linux
release_blocker
