#!/usr/bin/env bash
# The figures of the reference-trainer and hybrid-parallel issues, measured in one go on this machine:
#   1. `small` on one core: tokens/s (median of steps 3..N), exact and fast;
#   2. data parallelism: 2 ranks (one per core) against 1 rank at the same global batch;
#   3. pipeline: the idle share of each stage under 1F1B against the theoretical bubble (p-1)/(m+p-1), with
#      balanced stages (`small` with V=256, so the LM head adds little to the last stage).
# Usage: bash ci/bench-parallel.sh [STEPS]   (needs a build: bash ci/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-12}
P=build/parity
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
median_tps() { grep '^step' | awk -F'|' '{gsub(/ tok\/s/, "", $6); print $6 + 0}' | tail -n +3 | sort -n |
  awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "## small (L4 C256 H4 T256 V8192), B=4, one core"
for num in exact fast; do
  echo "$num: $($P train --model small --steps "$steps" --micro-batch-size 4 --numerics $num | median_tps) tokens/s"
done

echo "## data parallelism, small, global batch 2 x 4 sequences"
one=$($P train --model small --steps "$steps" --micro-batches 2 --micro-batch-size 4 | median_tps)
two=$(mpiexec -n 2 $P train --model small --steps "$steps" --micro-batches 2 --micro-batch-size 4 --dp 2 | median_tps)
echo "1 rank: $one tokens/s; dp2: $two tokens/s; speed-up $(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a / b}')"

echo "## pipeline idle vs theory (1F1B, small with V=256, micro-batch size 1)"
for pm in "2 8" "4 8" "4 16"; do
  set -- $pm
  mpiexec -n "$1" $P train --model small --vocab 256 --steps 6 --micro-batches "$2" --micro-batch-size 1 \
    --pp "$1" --schedule 1f1b | grep '^pipeline idle' | sed "s/^/pp$1 m$2: /"
done
