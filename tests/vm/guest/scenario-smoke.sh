# smoke: the VM boots, modules load, patchscope runs (when present)
. /ps/lib.sh
load_target
ps_status ps:status
ksnap k:idle
