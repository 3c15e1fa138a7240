#!/usr/bin/env bash
# The device kernels (--target device): every layer kernel, the micro-batch tree, the gradient norm and AdamW
# through their Kokkos device forms on Kokkos's default execution space. In the CPU build that space is the
# host, so this checks without a GPU that the device code path is complete and computes the host path's
# bits: exact checkpoints must be identical to --target host for one rank in fp32, bf16 and fp16, and for
# multi-rank layouts (dp, tp, pp, ZeRO) against the one-rank host run. Fast numerics: same losses within 1e-3
# (the device attention kernel is the exact one in both modes). A bad --target is refused.
#
# usage: bash device.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

ARGS=(--model tiny --steps 3 --micro-batches 2 --micro-batch-size 2 --lr 1e-3 --warmup 1 --quiet)
same() {  # same A.h5 B.h5 WHAT
  if ! h5diff -c "$1" "$2" >h5diff.txt 2>&1; then
    head -n 30 h5diff.txt >&2
    fail "$3: h5diff $1 $2 reports differences"
  fi
  pass "$3: identical checkpoints (h5diff)"
}

for prec in fp32 bf16 fp16; do
  check "$prec exact, one rank: --target device gives the --target host checkpoint bit for bit"
  train_ok host-$prec "${ARGS[@]}" --precision $prec --target host --checkpoint-out host-$prec.h5
  train_ok dev-$prec "${ARGS[@]}" --precision $prec --target device --checkpoint-out dev-$prec.h5 --results r-$prec.h5
  same host-$prec.h5 dev-$prec.h5 "$prec"
done

check "the results file records the kernel target"
target="$(h5dump -a /runs/dp1-tp1-pp1-fp32-exact/kernel_target r-fp32.h5 | sed -n 's/^ *(0): *"\(.*\)"/\1/p')"
[[ "$target" == device ]] || fail "kernel_target attribute is '$target', expected device"
pass "kernel_target = device"

MPIEXEC="${MPIEXEC:-mpiexec}"
if command -v "$MPIEXEC" >/dev/null; then
  for layout in "--dp 2" "--tp 2" "--pp 2 --schedule 1f1b" "--dp 2 --zero 1"; do
    tag="$(echo "$layout" | tr -d ' -')"
    check "fp32 exact, 2 ranks ($layout) on the device target = one rank on the host"
    RC=0
    timeout "$PARITY_TIMEOUT" "$MPIEXEC" -n 2 --oversubscribe "$PARITY" train "${ARGS[@]}" $layout --target device \
      --checkpoint-out "mpi-$tag.h5" >"mpi-$tag.out" 2>&1 || RC=$?
    [[ $RC -eq 0 ]] || { show_file output "mpi-$tag.out"; fail "mpiexec -n 2 parity train $layout --target device: status $RC"; }
    same host-fp32.h5 "mpi-$tag.h5" "$layout"
  done
else
  echo "[$SCRIPT_NAME] note: no $MPIEXEC; multi-rank checks skipped"
fi

check "fast numerics on the device target: the same losses as on the host within 1e-3"
train_ok fast-host --model tiny --steps 3 --numerics fast --target host
train_ok fast-dev --model tiny --steps 3 --numerics fast --target device
paste <(losses fast-host.out) <(losses fast-dev.out) >pairs.txt
[[ $(wc -l <pairs.txt) -eq 3 ]] || { cat pairs.txt >&2; fail "expected 3 loss lines from each run"; }
awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-3 * $1) { print "step " NR ": " $1 " vs " $2; bad = 1 } } END { exit bad }' \
  pairs.txt >&2 || fail "fast losses differ by more than 1e-3"
pass "losses agree: $(tr '\t\n' ' ;' <pairs.txt)"

check "a bad --target is refused with a message naming it"
run_parity bad.out bad.err train --model tiny --steps 1 --target gpu
[[ $RC -ne 0 ]] || fail "--target gpu was accepted"
grep -q -- "--target must be one of host, device" bad.err || { show_file stderr bad.err; fail "no clear message"; }
pass "exit $RC: $(head -c 200 bad.err)"

check "--comm nccl is refused where it cannot work, naming why"
run_parity nccl.out nccl.err train --model tiny --steps 1 --comm nccl --target host
[[ $RC -ne 0 ]] && grep -q -- "--comm nccl needs --target device" nccl.err || { show_file stderr nccl.err; fail "--comm nccl --target host"; }
run_parity nccl2.out nccl2.err train --model tiny --steps 1 --comm nccl --target device
if [[ $RC -ne 0 ]]; then  # the CPU build: no NCCL
  grep -q "this build has no NCCL" nccl2.err || { show_file stderr nccl2.err; fail "--comm nccl in a build without NCCL"; }
  pass "refused: $(cat nccl.err) / $(cat nccl2.err)"
else
  pass "refused with --target host; accepted with --target device (a build with NCCL, one rank)"
fi

finish
