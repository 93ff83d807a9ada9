# Guest-side helpers for the patchscope VM scenarios (busybox sh).
#
# Output protocol on the serial console (parsed by tests/vm/harness.py):
#   @@PS BEGIN <label>            start of a captured block
#   ...lines...
#   @@PS END <label> rc=<n>       end of it, with the command's exit code
#   @@PS MARK <name> epoch=<s> uptime=<s>   a point in time
#   @@PS DONE                     the scenario script finished
# Each command's stdout and stderr are captured separately:
# <label> and <label>.stderr.
# Labels: do:* kernel-side actions (must succeed), ps:* patchscope runs,
# k:* kernel truth snapshots, may:* actions allowed to fail.

KO=/ps/ko
LP=/sys/kernel/livepatch
PATCHSCOPE=/bin/patchscope

mark() {
    echo "@@PS MARK $1 epoch=$(date +%s) uptime=$(cut -d' ' -f1 /proc/uptime)"
}

# block LABEL CMD...: run CMD, print its stdout and stderr in marked blocks
block() {
    _l="$1"; shift
    "$@" >/tmp/block.out 2>/tmp/block.err
    _rc=$?
    echo "@@PS BEGIN $_l"
    awk 1 /tmp/block.out
    echo "@@PS END $_l rc=$_rc"
    if [ -s /tmp/block.err ]; then
        echo "@@PS BEGIN $_l.stderr"
        awk 1 /tmp/block.err
        echo "@@PS END $_l.stderr rc=0"
    fi
    return $_rc
}

have_patchscope() { [ -x "$PATCHSCOPE" ]; }

# pscope LABEL ARGS...: run patchscope ARGS (skipped, with a marker, when absent)
pscope() {
    _l="$1"; shift
    if have_patchscope; then
        block "$_l" "$PATCHSCOPE" "$@"
    else
        echo "@@PS NOBIN $_l"
        return 127
    fi
}

# ps.status=probe on the kernel command line: take the snapshot with
# /bin/ps-probe (kmod-bridge's Linux source alone, tests/vm/probe) instead of
# `patchscope status --json` (for working on the harness before the CLI is wired)
if grep -q 'ps.status=probe' /run/cmdline 2>/dev/null; then
    ps_status() { block "$1" /bin/ps-probe; }
else
    ps_status() { pscope "$1" status --json --source linux; }
fi

# wait_until SECONDS CMD...: poll CMD every 0.2 s; 1 on timeout
wait_until() {
    _t="$1"; shift
    _n=$((_t * 5))
    while [ "$_n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.2
        _n=$((_n - 1))
    done
    echo "@@PS TIMEOUT $_t s waiting for: $*"
    return 1
}

tr_done() { [ "$(cat "$LP/$1/transition" 2>/dev/null)" = 0 ]; }
tr_running() { [ "$(cat "$LP/$1/transition" 2>/dev/null)" = 1 ]; }
gone() { [ ! -e "$LP/$1" ]; }
inside() { grep -q '^inside=1$' /proc/ps_target; }

load_target() {
    block do:insmod.ps_target insmod "$KO/ps_target.ko"
}

blocker_pid() { sed -n 's/^blocker_pid=//p' /proc/ps_target 2>/dev/null; }

# hold_blocker: make ps_blocker enter ps_target_func and stay there
hold_blocker() {
    echo 1 > /sys/module/ps_target/parameters/hold
    block do:wait.inside wait_until 20 inside
}
release_blocker() { echo 0 > /sys/module/ps_target/parameters/hold; }

blocker2_pid() { sed -n 's/^blocker2_pid=//p' /proc/ps_target 2>/dev/null; }
in_replacement2() { grep -q livepatch_ps_target_func "/proc/$(blocker2_pid)/stack" 2>/dev/null; }
# hold_blocker2: ps_blocker2 (patched by now) enters the replacement
# function and stays there: it holds an unpatching transition
hold_blocker2() {
    echo 1 > /sys/module/ps_target/parameters/hold2
    block do:wait.inside2 wait_until 20 in_replacement2
}
release_blocker2() { echo 0 > /sys/module/ps_target/parameters/hold2; }

# ksnap LABEL: what the kernel itself shows, read straight from sysfs/procfs
_ksnap() {
    echo "epoch $(date +%s)"
    echo "uptime $(cut -d' ' -f1 /proc/uptime)"
    if [ -d "$LP" ]; then
        find "$LP" -type f | sort | while read -r f; do
            if v="$(cat "$f" 2>/dev/null)"; then
                echo "file ${f#$LP/} $v"
            else
                echo "unreadable ${f#$LP/}"
            fi
        done
        find "$LP" -mindepth 1 -type d | sort | while read -r d; do
            echo "dir ${d#$LP/}"
        done
    else
        echo "nolivepatch"
    fi
    for t in /proc/[0-9]*/task/[0-9]*; do
        _p="${t#/proc/}"; _p="${_p%%/*}"
        _st="$(cat "$t/patch_state" 2>/dev/null)" || continue
        _c="$(cat "$t/comm" 2>/dev/null)"
        echo "task $_p ${t##*/} $_st $_c"
    done
    _bp="$(blocker_pid)"
    if [ -n "$_bp" ] && [ -d "/proc/$_bp" ]; then
        echo "blocker $_bp"
        echo "blocker_wchan $(cat /proc/$_bp/wchan 2>/dev/null)"
        echo "blocker_stat $(cut -d' ' -f3 /proc/$_bp/stat)"
        sed 's/^/blocker_stack /' "/proc/$_bp/stack" 2>/dev/null
    fi
    _bp="$(blocker2_pid)"
    if [ -n "$_bp" ] && [ -d "/proc/$_bp" ]; then
        echo "blocker2 $_bp"
        echo "blocker2_wchan $(cat /proc/$_bp/wchan 2>/dev/null)"
        echo "blocker2_stat $(cut -d' ' -f3 /proc/$_bp/stat)"
        sed 's/^/blocker2_stack /' "/proc/$_bp/stack" 2>/dev/null
    fi
    [ -r /proc/ps_target ] && sed 's/^/target /' /proc/ps_target
    echo "cmdline $(cat /proc/cmdline)"
    for m in /sys/module/ps_*; do
        [ -d "$m" ] || continue
        echo "module ${m##*/} taint=$(cat "$m/taint" 2>/dev/null) refcnt=$(cat "$m/refcnt" 2>/dev/null)"
    done
}
ksnap() { block "$1" _ksnap; }

# finish: the kernel log, for the host log and for start-time checks
finish() {
    block k:dmesg dmesg
}
trap finish EXIT

# net_up: virtio-net from the kernel image's modules, eth0 = 10.0.2.15/24
# (qemu user networking, restrict=on: the guest reaches nothing outside; the
# host reaches the guest only through hostfwd on 127.0.0.1)
net_up() {
    for m in $(cat /ps/net/order); do
        insmod "/ps/net/$m.ko" || return 1
    done
    wait_until 10 test -e /sys/class/net/eth0 || return 1
    ifconfig lo 127.0.0.1 up
    ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
}

# command_loop: host-driven steps; prints "@@PS WAITCMD" then reads one
# command per line from the console and runs cmd_<word> (defined by the
# scenario) until "quit"
command_loop() {
    while :; do
        echo "@@PS WAITCMD"
        read -r _cmd _arg || return 0
        case "$_cmd" in
            quit) return 0 ;;
            "") ;;
            *) if type "cmd_$_cmd" >/dev/null 2>&1; then
                   "cmd_$_cmd" $_arg
                   echo "@@PS ACK $_cmd rc=$?"
               else
                   echo "@@PS ACK $_cmd rc=127 unknown"
               fi ;;
        esac
    done
}
