#!/usr/bin/env bash
# fp16 dynamic loss scaling end to end (issue: mixed precision).
#  1. An overflow injected on one rank skips the step on every rank and backs the scale off (hysteresis 1),
#     and the run is bit-identical whichever rank the overflow hit.
#  2. Hysteresis 2: the first overflow is tolerated, the second backs off.
#  3. Growth after a clean window (--loss-scale-interval 2).
#  4. An overflow at the minimum scale is an error with a non-zero exit.
# Usage: loss_scaling.sh PARITY_BINARY MPIEXEC
set -euo pipefail
parity=$1 mpiexec=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(--model tiny --steps 6 --micro-batches 2 --micro-batch-size 2 --precision fp16 --check-consistency 1)
series() {  # file dataset -> space-separated values
  h5dump -d "/runs/$(h5ls "$1/runs" | awk '{print $1}')/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | grep -vE 'DATA|}' |
    tr -d ' \n' | tr ',' ' '
}
expect() {  # what got want
  if [ "$2" != "$3" ]; then echo "FAIL $1: got '$2', want '$3'"; exit 1; fi
  echo "ok $1: $2"
}

"$mpiexec" -n 2 --oversubscribe "$parity" train "${common[@]}" --dp 2 --loss-scale-hysteresis 1 \
  --inject-overflow 3:1 --results "$dir/r1.h5" --checkpoint-out "$dir/c1.h5" > "$dir/log1"
grep -q "step     3/6 | gradient overflow at loss scale 65536: step skipped on every rank, scale now 32768" "$dir/log1" ||
  { echo "FAIL: no skip line"; cat "$dir/log1"; exit 1; }
expect "loss scale per step (overflow at step 3 on rank 1)" "$(series "$dir/r1.h5" loss_scale)" \
  "65536 65536 65536 32768 32768 32768"
expect "skipped steps" "$(series "$dir/r1.h5" skipped)" "0 0 1 0 0 0"
"$mpiexec" -n 2 --oversubscribe "$parity" train "${common[@]}" --dp 2 --loss-scale-hysteresis 1 \
  --inject-overflow 3:0 --results "$dir/r0.h5" --checkpoint-out "$dir/c0.h5" > "$dir/log0"
h5diff "$dir/c0.h5" "$dir/c1.h5" > /dev/null || { echo "FAIL: the overflow's rank changed the result"; exit 1; }
echo "ok the same checkpoint whichever rank overflowed (the skip is global)"
"$parity" train "${common[@]}" --loss-scale-hysteresis 1 --inject-overflow 3:0 --checkpoint-out "$dir/c_single.h5" > /dev/null
h5diff "$dir/c_single.h5" "$dir/c1.h5" > /dev/null || { echo "FAIL: dp2 with a skipped step differs from one device"; exit 1; }
echo "ok dp2 with the skipped step equals the single-device run with it"

"$parity" train "${common[@]}" --loss-scale-hysteresis 2 --inject-overflow 2:0 --results "$dir/h.h5" > /dev/null
expect "hysteresis 2, one overflow: skipped but no back-off" "$(series "$dir/h.h5" loss_scale)" \
  "65536 65536 65536 65536 65536 65536"

"$parity" train "${common[@]}" --loss-scale 1024 --loss-scale-interval 2 --results "$dir/g.h5" > /dev/null
expect "growth x2 after every 2 clean steps" "$(series "$dir/g.h5" loss_scale)" "1024 1024 2048 2048 4096 4096"

rc=0
"$parity" train "${common[@]}" --loss-scale 1 --loss-scale-hysteresis 1 --inject-overflow 2:0 > "$dir/min.log" 2>&1 || rc=$?
[ $rc -ne 0 ] || { echo "FAIL: overflow at the minimum scale exited 0"; exit 1; }
grep -q "with the loss scale at its minimum 1" "$dir/min.log" || { echo "FAIL: no clear message"; cat "$dir/min.log"; exit 1; }
echo "ok overflow at the minimum scale: $(grep -o 'parity: error.*' "$dir/min.log")"
