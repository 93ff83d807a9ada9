# Scenario 5: a cumulative (.replace) patch replacing an older one; then two
# non-cumulative patches stacked on the same function.
. /ps/lib.sh
load_target
block do:insmod.basic insmod "$KO/ps_lp_basic.ko"
block do:wait.basic wait_until 30 tr_done ps_lp_basic
ps_status ps:status.basic
ksnap k:basic
block do:insmod.cumul insmod "$KO/ps_lp_cumul.ko"
block do:wait.cumul wait_until 30 tr_done ps_lp_cumul
block do:wait.basic.gone wait_until 30 gone ps_lp_basic
sleep 1
ps_status ps:status.cumul
ksnap k:cumul
block do:rmmod.basic rmmod ps_lp_basic
block do:disable.cumul sh -c "echo 0 > $LP/ps_lp_cumul/enabled"
block do:wait.cumul.gone wait_until 30 gone ps_lp_cumul
block do:rmmod.cumul rmmod ps_lp_cumul

block do:insmod.stack1 insmod "$KO/ps_lp_stack1.ko"
block do:wait.stack1 wait_until 30 tr_done ps_lp_stack1
block do:insmod.stack2 insmod "$KO/ps_lp_stack2.ko"
block do:wait.stack2 wait_until 30 tr_done ps_lp_stack2
sleep 1
ps_status ps:status.stacked
ksnap k:stacked
block do:disable.stack2 sh -c "echo 0 > $LP/ps_lp_stack2/enabled"
block do:wait.stack2.gone wait_until 30 gone ps_lp_stack2
ps_status ps:status.unstacked
ksnap k:unstacked
block do:disable.stack1 sh -c "echo 0 > $LP/ps_lp_stack1/enabled"
block do:wait.stack1.gone wait_until 30 gone ps_lp_stack1
ksnap k:none
