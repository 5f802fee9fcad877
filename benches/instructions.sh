#!/usr/bin/env bash
# Instructions per task, W1 W2 W3 W5, atasker and baselines: a noise-free figure beside the
# timed ratios. The counting lives in the binary (`atasker-bench --instructions`, see
# benches/README.md); this script only runs it for the workloads named, one at a time, with
# a single timed repetition, and keeps the instruction lines and their ratios.
#
# Usage: benches/instructions.sh [W1 W2 W3 W5]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p atasker-bench
for w in "${@:-W1 W2 W3 W5}"; do
    for w1 in $w; do
        target/release/atasker-bench --instructions --reps 1 --only "$w1" |
            grep -E '^(instructions |ratio [^ ]+ instructions )'
    done
done
