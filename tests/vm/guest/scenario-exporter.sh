# Scenario 6 (guest side): the exporter serves on :9879 (reached from the
# host through qemu's hostfwd on 127.0.0.1 only); the host drives the steps
# (stall, status, revert) over the console while a real Prometheus scrapes.
. /ps/lib.sh
load_target
block do:net.up net_up
EXP=""
if have_patchscope; then
    "$PATCHSCOPE" exporter --source linux --web.listen-address :9879 \
        --watch.stall-after "${STALL_AFTER:-10s}" >/tmp/exporter.log 2>&1 &
    EXP=$!
else
    mkdir -p /tmp/www && echo "no patchscope in this VM" > /tmp/www/metrics
    httpd -p 9879 -h /tmp/www
fi
mark exporter.started
cmd_stall() {
    hold_blocker
    mark insmod.start
    block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
    mark insmod.end
}
cmd_status() { ps_status "ps:status.$1"; ksnap "k:$1"; }
cmd_revert() {
    mark revert.start
    pscope ps:revert revert ps_lp_stall --yes --source linux ||
        have_patchscope || block do:revert.direct sh -c "echo 0 > $LP/ps_lp_stall/enabled"
    block do:wait.gone wait_until 30 gone ps_lp_stall
    mark reverted
}
command_loop
[ -n "$EXP" ] && kill "$EXP"
sleep 0.5
block k:exporter.log cat /tmp/exporter.log
release_blocker
