# Scenario 1: a livepatch that completes (ps_lp_basic: vmlinux + ps_target objects)
. /ps/lib.sh
load_target
ksnap k:before
ps_status ps:status.before
mark insmod.start
block do:insmod.basic insmod "$KO/ps_lp_basic.ko"
mark insmod.end
# as soon as possible: the transition may still be running (or already done)
ps_status ps:status.during
ksnap k:during
block do:wait.done wait_until 30 tr_done ps_lp_basic
sleep 1
ps_status ps:status.after
ksnap k:after
pscope ps:check.after check --warning 2s --critical 5s --source linux
# and back: disable, the patch's directory goes away, behaviour is original again
block do:disable.basic sh -c "echo 0 > $LP/ps_lp_basic/enabled"
block do:wait.gone wait_until 30 gone ps_lp_basic
ps_status ps:status.disabled
ksnap k:disabled
block do:rmmod.basic rmmod ps_lp_basic
