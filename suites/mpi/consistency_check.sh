#!/usr/bin/env bash
# --check-consistency catches a corrupted replica: one bit of one tensor flipped on one rank must stop the run
# with a non-zero exit and a message naming the step, the tensor and the ranks.
# Usage: consistency_check.sh PARITY_BINARY MPIEXEC
set -euo pipefail
parity=$1 mpiexec=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(--model tiny --steps 4 --micro-batches 2 --micro-batch-size 2 --check-consistency 1 --quiet)
fails=0

expect_caught() {  # name np pattern flags...
  local name=$1 np=$2 pattern=$3
  shift 3
  local rc=0
  "$mpiexec" -n "$np" --oversubscribe "$parity" train "${common[@]}" "$@" > "$dir/$name.log" 2>&1 || rc=$?
  if [ $rc -eq 0 ]; then
    echo "FAIL $name: the corrupted run exited 0"; fails=1; return
  fi
  if ! grep -qE "$pattern" "$dir/$name.log"; then
    echo "FAIL $name: no message matching /$pattern/:"; grep -i error "$dir/$name.log" | head -5; fails=1; return
  fi
  echo "ok $name: $(grep -m1 -oE 'consistency check failed.*' "$dir/$name.log")"
}

# Control: the same runs without the fault pass the checks.
for layout in "2 --dp 2" "2 --tp 2" "2 --pp 2"; do
  set -- $layout
  if ! "$mpiexec" -n "$1" --oversubscribe "$parity" train "${common[@]}" "${@:2}" > "$dir/clean.log" 2>&1; then
    echo "FAIL clean run ${*:2} did not pass its consistency checks:"; tail -5 "$dir/clean.log"; fails=1
  else
    echo "ok clean run ${*:2}: every check passed"
  fi
done

expect_caught dp_param 2 "step 2: parameter blocks.1.attn.proj.weight differs across data-parallel replicas between world ranks 0 and 1" \
  --dp 2 --inject-bitflip 2:1:blocks.1.attn.proj.weight
expect_caught tp_replicated 2 "step 3: replicated parameter blocks.0.ln1.weight differs across tensor-parallel ranks between world ranks 0 and 1" \
  --tp 2 --inject-bitflip 3:1:blocks.0.ln1.weight
expect_caught tied_wte 2 "step 1: the tied wte differs between the first and the last pipeline stage" \
  --pp 2 --inject-bitflip 1:1:wte
expect_caught dp_zero 4 "step 2: parameter lnf.bias differs across data-parallel replicas between world ranks 1 and 3" \
  --dp 2 --tp 2 --zero 1 --inject-bitflip 2:3:lnf.bias
exit $fails
