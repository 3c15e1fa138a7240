#!/usr/bin/env bash
# torch.fp64_oracle: an independent fp64 recomputation of parity's training step.
#
# parity (fp32, exact) writes its weights before a step (a checkpoint) and that step's gradient dump (the
# batch, the loss, every gradient before clipping); suites/torch/gpt2_fp64.py, a GPT-2 written from the
# model semantics of docs/design.md in PyTorch float64 with autograd, recomputes the loss and every gradient
# from them and requires loss rel. error < 1e-6 and per-tensor max|diff|/max|ref| < 1e-5 (the tolerances
# are justified there). It also checks, on every case, that it refuses a copy of the dump with one gradient
# scaled by 1.001. Cases (tiny, fp32 exact, m = 2 micro-batches of b = 2 so the micro-batch tree is used):
#   init      step 1 at the initial weights: `--lr 0 --steps 1 --checkpoint-out` writes them (AdamW with
#             lr 0 moves nothing, weight decay included: checked below, biases still 0, gains still 1)
#   step2     step 2 from the step-1 checkpoint of an ordinary run (trained weights: nonzero biases)
#   vocab200  V = 200, padded to 256 inside parity (the padded logits are masked out of the softmax)
#   tp2       step 2 on 2 ranks, --tp 2 (mpiexec)
#
# Needs Debian's python3-torch and python3-h5py (ci/setup.sh installs them) under /usr/bin/python3 (not a
# pyenv python), or PARITY_TORCH_PYTHON; without them the test is skipped (exit 77, SKIP_RETURN_CODE).
#
# usage: bash fp64_oracle.sh PATH/TO/parity SOURCE_DIR [MPIEXEC]
set -euo pipefail
PY="${PARITY_TORCH_PYTHON:-/usr/bin/python3}"
if ! "$PY" -c 'import torch, h5py, numpy' 2>/dev/null; then
  echo "SKIP: $PY cannot import torch and h5py (apt-get install python3-torch python3-h5py, or set" \
       "PARITY_TORCH_PYTHON to a python that can): the fp64 oracle is not run"
  exit 77
fi
ORACLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gpt2_fp64.py"
MPIEXEC="${3:-mpiexec}"
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/common.bash" "$1" "${2:-}"

MB=(--model tiny --numerics exact --precision fp32 --micro-batches 2 --micro-batch-size 2)

check "init: parity train ${MB[*]} --steps 1 --lr 0 --checkpoint-out w0.h5 --dump-grads g1.h5 --dump-step 1"
train_ok init "${MB[@]}" --steps 1 --lr 0 --checkpoint-out "$WORK/w0.h5" --dump-grads "$WORK/g1.h5" --dump-step 1
"$PY" - "$WORK/w0.h5" "$WORK/g1.h5" <<'EOF' || fail "init: the lr-0 checkpoint is not the initial weights"
import sys, h5py, numpy as np
w, g = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert int(w.attrs["step"]) == 1, w.attrs["step"]
for n in w["params"]:
    p = w["params"][n][...]
    if n.endswith(".bias"):   # init 0; its step-1 gradient is nonzero, so any update would have moved it
        assert np.abs(g["grads"][n][...]).max() > 0, f"{n}: zero gradient"
        assert np.all(p == 0), f"{n} is not all 0 after a step with lr 0"
    elif n.endswith(".weight") and p.ndim == 1:  # layernorm gains: init 1
        assert np.all(p == 1), f"{n} is not all 1 after a step with lr 0"
    else:  # normal(0, 0.02), the residual projections / sqrt(2L): a loose sanity check of the spread
        assert 0.002 < p.std() < 0.03, f"{n}: std {p.std()}"
print("    biases all 0, layernorm gains all 1 after the lr-0 step (their gradients are nonzero)")
EOF
pass "w0.h5 holds the initial weights"

check "step2: parity train ${MB[*]} --steps 2 --save-every 1 --checkpoint-out ck{step}.h5 --dump-step 2"
train_ok step2 "${MB[@]}" --steps 2 --save-every 1 --checkpoint-out "$WORK/ck{step}.h5" \
  --dump-grads "$WORK/g2.h5" --dump-step 2
[[ -s "$WORK/ck1.h5" ]] || fail "step2: no step-1 checkpoint ck1.h5"
pass "ran"

check "vocab200: --vocab 200 (padded to 256 inside), --layers 2, step 1 at the initial weights"
train_ok vocab "${MB[@]}" --vocab 200 --layers 2 --steps 1 --lr 0 --checkpoint-out "$WORK/wv.h5" \
  --dump-grads "$WORK/gv.h5" --dump-step 1
pass "ran"

check "tp2: mpiexec -n 2 parity train ${MB[*]} --tp 2 --steps 2 --save-every 1 --checkpoint-out tp{step}.h5"
RC=0
timeout "$PARITY_TIMEOUT" "$MPIEXEC" -n 2 --oversubscribe "$PARITY" train "${MB[@]}" --tp 2 --steps 2 \
  --save-every 1 --checkpoint-out "$WORK/tp{step}.h5" --dump-grads "$WORK/gtp.h5" --dump-step 2 \
  >tp2.out 2>tp2.err || RC=$?
if [[ $RC -ne 0 ]]; then
  show_file stdout tp2.out
  show_file stderr tp2.err
  fail "tp2: mpiexec -n 2 parity train ... --tp 2 exited with status $RC"
fi
pass "ran"

check "the fp64 PyTorch recomputation agrees with every case, and refuses a gradient scaled by 1.001"
RC=0
"$PY" "$ORACLE" init "$WORK/w0.h5" "$WORK/g1.h5" step2 "$WORK/ck1.h5" "$WORK/g2.h5" \
  vocab200 "$WORK/wv.h5" "$WORK/gv.h5" tp2 "$WORK/tp1.h5" "$WORK/gtp.h5" >oracle.out 2>&1 || RC=$?
sed 's/^/    /' oracle.out
[[ $RC -eq 0 ]] || fail "the fp64 oracle disagrees with parity (exit $RC; lines above)"
pass "all four cases within tolerance"

finish
