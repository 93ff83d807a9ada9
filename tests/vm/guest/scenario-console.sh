# Scenario 7 (guest side): the console (`patchscope tui`) on the serial
# console during a stalled transition; the host drives it through tmux.
. /ps/lib.sh
load_target
hold_blocker
block do:insmod.stall insmod "$KO/ps_lp_stall.ko"
sleep 2
ksnap k:stalled
COLS="$(sed -n 's/.*ps.cols=\([0-9]*\).*/\1/p' /run/cmdline)"
ROWS="$(sed -n 's/.*ps.rows=\([0-9]*\).*/\1/p' /run/cmdline)"
mark tui.start
if have_patchscope; then
    # a controlling tty (cttyhack: the real console device, ttyS0) with the
    # host terminal's size: the serial line cannot tell it
    setsid cttyhack sh -c "stty rows ${ROWS:-40} cols ${COLS:-120}; export TERM=xterm-256color; \
        exec $PATCHSCOPE tui --source linux --interval 1s"
    rc=$?
else
    setsid cttyhack sh -c "echo 'no patchscope: press q'; read -r -n 1 x"
    rc=$?
fi
echo "@@PS MARK tui.exit rc=$rc epoch=$(date +%s) uptime=$(cut -d' ' -f1 /proc/uptime)"
stty sane 2>/dev/null
ksnap k:after.tui
release_blocker
