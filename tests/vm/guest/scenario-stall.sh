# Scenario 2: a transition held by the ps_blocker kernel thread sleeping in
# ps_target_func; check goes CRITICAL past its threshold; releasing the
# thread lets it complete.
. /ps/lib.sh
load_target
hold_blocker
mark insmod.start
block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
mark insmod.end
ps_status ps:status.early
sleep 7
ps_status ps:status.stalled
ksnap k:stalled
pscope ps:check.crit check --warning 2s --critical 5s --source linux
pscope ps:check.warn check --warning 2s --critical 1h --source linux
pscope ps:check.ok check --warning 1h --critical 2h --source linux
release_blocker
mark released
block do:wait.done wait_until 30 tr_done ps_lp_stall
mark done
sleep 1
ps_status ps:status.after
ksnap k:after
pscope ps:check.after check --warning 2s --critical 5s --source linux
