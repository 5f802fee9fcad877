#!/usr/bin/env bash
# Instructions per task, W1 W2 W3 W5, atasker and baseline: a noise-free figure beside the
# timed ratios. callgrind (Debian's `valgrind`) counts every instruction the process runs,
# the same from run to run whatever the machine does meanwhile.
#
# Each figure is marginal: (instructions of a full run - instructions of a `--quick` run) /
# (units of a full run - units of a quick run), so that start-up (runtime, threads, children)
# cancels out. Units per run with `--reps 1` (see benches/README.md for the workloads):
#   W1: 110,000 burst tasks + 11,000 round trips (1.1 × 100,000 + 1.1 × 10,000); quick a tenth
#   W2: 22,000 calls + 4 warm-ups (parent side only: under valgrind the bench starts its
#       children from its own path, not /proc/self/exe, so they run natively)
#   W3: 110,000 coroutine tasks
#   W5: 202,000 items per subject (atasker: thread and coroutine executors; baseline: one)
#
# Usage: benches/instructions.sh [W1 W2 W3 W5]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (Debian: apt-get install valgrind)"; exit 1; }
cargo build -q --release -p atasker-bench
bin=target/release/atasker-bench

units() { # workload side -> units(full) - units(quick)
    case "$1/$2" in
        W1/*) echo $(( 121000 - 12100 )) ;;
        W2/*) echo $(( 22004 - 2204 )) ;;
        W3/*) echo $(( 110000 - 11000 )) ;;
        W5/atasker) echo $(( 2 * (202000 - 22000) )) ;;
        W5/baseline) echo $(( 202000 - 22000 )) ;;
    esac
}

refs() { # workload side [--quick] -> instructions (empty if the run failed)
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --only "$1" --side "$2" --reps 1 "${@:3}" 2>&1 |
        awk '/I +refs:/ { gsub(",", "", $NF); print $NF }' || true
}

for w in "${@:-W1 W2 W3 W5}"; do
    for w1 in $w; do
        for side in atasker baseline; do
            full=$(refs "$w1" "$side")
            quick=$(refs "$w1" "$side" --quick)
            if [ -z "$full" ] || [ -z "$quick" ]; then
                echo "$w1 $side n/a (the run failed under valgrind)"
                continue
            fi
            echo "$w1 $side $(( (full - quick) / $(units "$w1" "$side") )) instructions per unit"
        done
    done
done
