#!/usr/bin/env bash
# Re-batching: one global batch of 8 sequences cut as m x b = 4 x 2, 1 x 8 and 8 x 1 micro-batches is the
# same training run up to rounding (1 device, fp32, exact, tiny, 3 steps): the per-step loss and gradient
# norm in the --results files agree within a relative 1e-5.
#
# Why not bitwise: m and b are part of a run's definition (docs/design.md, canonical order rule 1). The rows a
# step reads do not depend on the cut (row r of micro-batch i is global row (s*m + i)*b + r), but the
# reduction trees do: a sum over a micro-batch's rows is 32-row blocks (sequential inside) and a pairwise
# tree, then a tree over micro-batches. Where a micro-batch's sum is a whole power-of-two number of blocks
# the two trees compose into the same tree (tiny, T = 64: b*T = 64, 128, 512 rows), but the wpe gradient
# sums the b sequences of each position (b < 32 terms: one sequential block inside a micro-batch, a tree
# across them), so 1 x 8 adds s0 + s1 + ... + s7 in a row where 4 x 2 adds ((s0+s1) + (s2+s3)) + ...;
# with T = 48 the 32-row blocks of a 48-row micro-batch (8 x 1) are cut differently from a 96-row one.
# Tolerance: step 1's loss and gradients then differ by reassociation only, a few units of fp32 rounding
# (u = 6e-8); steps 2 and 3 start from parameters that differ by one AdamW update computed from those
# gradients (|update| <= lr, its rounding ~ u * lr), which moves the loss and norm by ~1e-7 as well: we see
# up to 1.1e-7 (T = 48, 8 x 1; the T = 64 losses and norms even agree to the bit, the wpe gradients not).
# rel 1e-5 (~170 u) leaves margin for other platforms and is far below what a real re-batching error does
# (a batch that reads other rows, a 1/tokens applied per micro-batch, a dropped micro-batch).
#
# Also: 4 x 2 on one device and 4 x 2 over --dp 2 (2 ranks, 2 micro-batches each) are bitwise identical
# (the layout guarantee; the parity suite checks it for 12 layouts, repeated here next to the re-batching).
#
# usage: bash rebatch.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

REL_TOL=1e-5

# series FILE DATASET: the dataset of the file's only run, one value per line (%.9g: float32 exactly).
series() {
  local run
  run="$(h5ls "$1/runs" | awk '{print $1}')"
  h5dump -m %.9g -d "/runs/$run/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | grep -vE 'DATA|}' | tr ',' '\n' |
    tr -d ' ' | grep .
}

# compare_series NAME A.h5 B.h5: loss and grad_norm at every step within REL_TOL; prints the largest.
compare_series() {
  local name="$1" a="$2" b="$3" d
  for d in loss grad_norm; do
    paste <(series "$a" "$d") <(series "$b" "$d") >"cmp-$name-$d.txt"
    [[ $(wc -l <"cmp-$name-$d.txt") -eq 3 ]] || { show_file "$d" "cmp-$name-$d.txt"; fail "$name: expected 3 steps of $d"; }
    awk -v tol="$REL_TOL" -v what="$name $d" '
      { r = ($1 - $2) / $2; if (r < 0) r = -r; if (r > worst) worst = r; if ($1 != $2) nbits++
        if (!(r < tol)) { printf "step %d: %s vs %s, rel %.3g >= %g\n", NR, $1, $2, r, tol; bad = 1 } }
      END { printf "    %s: largest rel. difference %.3g, %d of %d steps not bitwise\n", what, worst, nbits, NR
            exit bad }' "cmp-$name-$d.txt" || fail "$name: $d differs by more than rel $REL_TOL"
  done
}

for T in 64 48; do
  for mb in 4x2 1x8 8x1; do
    check "T=$T: parity train --model tiny --seq-len $T --steps 3 --micro-batches ${mb%x*} --micro-batch-size ${mb#*x}"
    train_ok "t$T-$mb" --model tiny --seq-len "$T" --steps 3 --numerics exact --precision fp32 \
      --micro-batches "${mb%x*}" --micro-batch-size "${mb#*x}" --results "$WORK/t$T-$mb.h5"
    pass "ran"
  done
  for mb in 1x8 8x1; do
    check "T=$T: $mb gives 4x2's loss and grad norm at every step within rel $REL_TOL"
    compare_series "T=$T 4x2 vs $mb" "t$T-4x2.h5" "t$T-$mb.h5"
    pass "within rel $REL_TOL"
  done
done

MPIEXEC="${MPIEXEC:-mpiexec}"
command -v "$MPIEXEC" >/dev/null || fail "no $MPIEXEC (openmpi-bin) for the --dp 2 check"
check "4x2 over --dp 2 (mpiexec -n 2) is bitwise the 4x2 single-device run (loss, grad norm, checkpoint)"
train_ok one --model tiny --steps 3 --micro-batches 4 --micro-batch-size 2 --results "$WORK/one.h5" \
  --checkpoint-out "$WORK/one-ck.h5"
RC=0
timeout "$PARITY_TIMEOUT" "$MPIEXEC" -n 2 --oversubscribe "$PARITY" train --model tiny --steps 3 --micro-batches 4 \
  --micro-batch-size 2 --dp 2 --results "$WORK/dp2.h5" --checkpoint-out "$WORK/dp2-ck.h5" >dp2.out 2>&1 || RC=$?
[[ $RC -eq 0 ]] || { show_file output dp2.out; fail "mpiexec -n 2 parity train ... --dp 2: status $RC"; }
for d in loss grad_norm; do
  cmp -s <(series one.h5 "$d") <(series dp2.h5 "$d") ||
    { paste <(series one.h5 "$d") <(series dp2.h5 "$d") >&2; fail "--dp 2: $d differs from one device"; }
done
h5diff -q one-ck.h5 dp2-ck.h5 /params /params || fail "--dp 2: the parameters differ from one device (h5diff)"
pass "bitwise: $(series one.h5 loss | tr '\n' ' ')"

finish
