#!/bin/sh
# CPU the console uses while idle at the default refresh (1 s): runs
# `patchscope demo --scenario SCENARIO` in a detached 120x40 tmux for
# SECONDS and reads utime+stime from /proc/<pid>/stat (Linux).
#
#   ui/benches/idle-cpu.sh [SCENARIO] [SECONDS] [extra demo flags...]
#   e.g. ui/benches/idle-cpu.sh healthy 30
#        ui/benches/idle-cpu.sh storm 30 --threads 1000000
set -eu
scenario=${1:-healthy}
seconds=${2:-30}
shift 2 2>/dev/null || shift $#
cd "$(dirname "$0")/../.."
cargo build --release -q -p patchscope
bin=$PWD/target/release/patchscope
sock=patchscope-idle-$$
trap 'tmux -L $sock kill-server 2>/dev/null || true' EXIT
tmux -L "$sock" -f /dev/null new-session -d -s idle -x 120 -y 40 "$bin demo --scenario $scenario $*; sleep 5"
sleep 1
shell=$(tmux -L "$sock" display-message -p -t idle '#{pane_pid}')
pid=$(cut -d' ' -f1 "/proc/$shell/task/$shell/children")
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu)
sleep "$seconds"
after=$(cpu)
awk -v a="$after" -v b="$before" -v t="$ticks" -v s="$seconds" -v sc="$scenario" 'BEGIN {
  cpu = (a - b) / t
  printf "demo --scenario %s: %.2f s of CPU in %d s = %.2f%% of one core\n", sc, cpu, s, 100 * cpu / s
}'
