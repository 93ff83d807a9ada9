# Scenario 3: `patchscope revert --yes` during the stalled transition.
# ps_blocker holds the patching transition in the original ps_target_func;
# ps_blocker2, already patched, then sleeps in the *replacement* function, so
# the reversed (unpatching) transition is held too, and can be looked at;
# releasing ps_blocker2 lets unpatching complete, the patch goes away and its
# module can be removed.
. /ps/lib.sh
load_target
hold_blocker
mark insmod.start
block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
mark insmod.end
block do:wait.running wait_until 10 tr_running ps_lp_stall
hold_blocker2
sleep 2
ps_status ps:status.stalled
ksnap k:stalled
mark revert.start
pscope ps:revert revert ps_lp_stall --yes --source linux ||
    have_patchscope || block do:revert.direct sh -c "echo 0 > $LP/ps_lp_stall/enabled"
mark revert.end
sleep 2
ps_status ps:status.reverting
ksnap k:reverting
pscope ps:check.reverting check --warning 1s --critical 1h --source linux
release_blocker2
mark released2
block do:wait.gone wait_until 30 gone ps_lp_stall
mark gone
ps_status ps:status.after
ksnap k:after
block do:rmmod.stall rmmod ps_lp_stall
# a second revert of a patch that is gone fails clearly
pscope ps:revert.again revert ps_lp_stall --yes --source linux
release_blocker
