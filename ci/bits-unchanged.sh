#!/usr/bin/env bash
# A refactoring must not change a bit: runs the layout matrix of suites/CMakeLists.txt (exact fp32, bf16, fp16,
# plus fast fp32 on a few layouts, a resume, a gradient dump and an fp16 overflow) with two binaries and
# h5diffs every checkpoint, gradient dump and per-step dataset.
# Usage: bash ci/bits-unchanged.sh OLD_PARITY NEW_PARITY [WORKDIR]
#   OLD_PARITY's outputs are kept in WORKDIR/old and reused when present (build the old binary once).
set -euo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
layouts=("1::" "dp2:2:--dp 2" "tp2:2:--tp 2" "tp4:4:--tp 4" "pp2-gpipe:2:--pp 2 --schedule gpipe"
         "pp2-1f1b:2:--pp 2 --schedule 1f1b" "pp4-1f1b:4:--pp 4 --schedule 1f1b" "dp2-tp2:4:--dp 2 --tp 2"
         "tp2-pp2:4:--tp 2 --pp 2" "dp2-pp2:4:--dp 2 --pp 2" "dp2-tp2-pp2:8:--dp 2 --tp 2 --pp 2"
         "dp2-zero1:2:--dp 2 --zero 1" "dp2-tp2-pp2-zero1:8:--dp 2 --tp 2 --pp 2 --zero 1"
         "pp2-split13:2:--pp 2 --pp-split 1,3")
common=(--model tiny --data synthetic --seed 7 --steps 4 --micro-batches 4 --micro-batch-size 2 --lr 1e-3
        --warmup 1 --check-consistency 2 --quiet)
# run BIN DIR NAME NP [flags...]: one run, its checkpoint and results under DIR/NAME.*
run() {
  local bin=$1 dir=$2 name=$3 np=$4; shift 4
  local launch=("$bin"); ((np > 1)) && launch=(mpiexec -n "$np" --oversubscribe "$bin")
  "${launch[@]}" train "${common[@]}" "$@" --checkpoint-out "$dir/$name.ckpt.h5" --results "$dir/$name.res.h5" \
    > "$dir/$name.log" 2>&1 || { echo "run $name failed with $bin:"; tail -5 "$dir/$name.log"; return 1; }
}
all_runs() {
  local bin=$1 dir=$2
  mkdir -p "$dir"
  for entry in "${layouts[@]}"; do
    IFS=: read -r name np flags <<< "$entry"
    for prec in fp32 bf16 fp16; do
      # shellcheck disable=SC2086
      run "$bin" "$dir" "$name-$prec-exact" "$np" --precision "$prec" --numerics exact $flags
    done
    case $name in 1|dp2|tp2|pp2-1f1b|dp2-tp2-pp2-zero1)
      # shellcheck disable=SC2086
      run "$bin" "$dir" "$name-fp32-fast" "$np" --precision fp32 --numerics fast $flags ;;
    esac
  done
  run "$bin" "$dir" dump 2 --dp 2 --dump-grads "$dir/dump.grads.h5" --dump-step 2
  run "$bin" "$dir" overflow 2 --pp 2 --precision fp16 --inject-overflow 2:1
  "$bin" train "${common[@]}" --save-every 2 --checkpoint-out "$dir/saved-{step}.h5" > /dev/null
  run "$bin" "$dir" resumed 2 --tp 2 --resume "$dir/saved-2.h5"
}
if [ ! -f "$work/old/.complete" ]; then all_runs "$old" "$work/old"; touch "$work/old/.complete"; fi
rm -rf "$work/new"; all_runs "$new" "$work/new"
bad=0 n=0
for f in "$work"/old/*.ckpt.h5 "$work"/old/*.grads.h5 "$work"/old/saved-*.h5; do
  n=$((n + 1))
  h5diff -q "$f" "$work/new/$(basename "$f")" > /dev/null || { echo "DIFFERS: $(basename "$f")"; bad=1; }
done
for f in "$work"/old/*.res.h5; do
  g=/runs/$(h5ls "$f/runs" | awk '{print $1}')
  for d in loss grad_norm lr loss_scale skipped; do
    n=$((n + 1))
    h5diff -q "$f" "$work/new/$(basename "$f")" "$g/$d" "$g/$d" > /dev/null || { echo "DIFFERS: $(basename "$f") $d"; bad=1; }
  done
done
((bad == 0)) && echo "bits unchanged: $n comparisons (checkpoints, gradient dump, per-step loss/grad_norm/lr/loss_scale/skipped)"
exit $bad
