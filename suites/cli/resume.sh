#!/usr/bin/env bash
# Resume is exact: k steps + checkpoint + resume to N steps gives the same checkpoint, bit for bit, as N
# steps straight, and the per-step lines (loss, grad norm, lr) of steps k+1..N are identical.
#
# The lr schedule (warm-up, then cosine decay to --lr-min-frac) depends on --steps, so a run of k steps
# does not in general pass through the state of a longer run at step k. Three schedules are tested:
#   1. constant lr (--warmup 0 --lr-min-frac 1): a 3-step run's checkpoint is the 6-step run's state at
#      step 3; resume once (3 -> 6) and twice (2 -> 4 -> 6).
#   2. warm-up only (--warmup 6 >= --steps): lr(s) = lr * (s+1) / 6 for every --steps <= 6, so the lr
#      changes at every step and the resumed run must pick up the step index, not just the state.
#   3. the default cosine schedule over 6 steps: the step-3 checkpoint of `--steps 6 --save-every 3`, kept
#      apart by the {step} placeholder in --checkpoint-out (the step-6 save would otherwise replace the
#      file); its step attribute proves it.
#
# usage: bash resume.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

BASE=(--model tiny --micro-batches 2 --micro-batch-size 2 --lr 1e-3)

# attr FILE NAME: the value of root attribute NAME.
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *//p'; }

# same_checkpoint WHAT A B: h5diff finds no difference (datasets and attributes) between A and B.
same_checkpoint() {
  if ! h5diff -c "$2" "$3" >h5diff.txt 2>&1; then
    head -n 30 h5diff.txt >&2
    fail "$1: h5diff $(basename "$2") $(basename "$3") reports differences"
  fi
  pass "$1: h5diff $(basename "$2") $(basename "$3") finds no difference"
}

# same_steps WHAT FROM STRAIGHT RESUMED: the step lines FROM.. of log STRAIGHT equal all step lines of
# log RESUMED (which must start at step FROM).
same_steps() {
  local what="$1" from="$2"
  step_lines "$3" | awk -v from="$from" '{ split($2, a, "/"); if (a[1] + 0 >= from) print }' >straight.txt
  step_lines "$4" >resumed.txt
  [[ -s resumed.txt ]] || { show_file "stdout" "$4"; fail "$what: the resumed run printed no step lines"; }
  local first
  first="$(awk 'NR == 1 { split($2, a, "/"); print a[1] + 0 }' resumed.txt)"
  [[ "$first" == "$from" ]] || fail "$what: the resumed run starts at step $first, expected $from"
  if ! cmp -s straight.txt resumed.txt; then
    diff straight.txt resumed.txt >&2 || true
    fail "$what: the step lines from step $from differ between the straight and the resumed run"
  fi
  pass "$what: step lines $from..$(tail -n 1 resumed.txt | awk '{ split($2, a, "/"); print a[1] }') identical"
}

# ------------------------------------------------------------------------------------ 1. constant lr
CONST=("${BASE[@]}" --warmup 0 --lr-min-frac 1)

check "constant lr: 6 steps straight"
train_ok const_a "${CONST[@]}" --steps 6 --checkpoint-out "$WORK/const_a.h5"
[[ "$(attr "$WORK/const_a.h5" step)" == 6 ]] || fail "const_a.h5 is not at step 6"
pass "const_a.h5 at step 6"

check "constant lr: 3 steps, then resume to 6"
train_ok const_b3 "${CONST[@]}" --steps 3 --checkpoint-out "$WORK/const_b3.h5"
[[ "$(attr "$WORK/const_b3.h5" step)" == 3 ]] || fail "const_b3.h5 has step $(attr "$WORK/const_b3.h5" step), expected 3"
[[ "$(attr "$WORK/const_b3.h5" data_row)" == 12 ]] ||
  fail "const_b3.h5 has data_row $(attr "$WORK/const_b3.h5" data_row), expected 3 steps x 2 x 2 = 12"
train_ok const_c "${CONST[@]}" --steps 6 --resume "$WORK/const_b3.h5" --checkpoint-out "$WORK/const_c.h5"
same_checkpoint "constant lr, 3 + 3" "$WORK/const_a.h5" "$WORK/const_c.h5"
same_steps "constant lr, 3 + 3" 4 const_a.out const_c.out

check "constant lr: 2 steps, resume to 4, resume to 6"
train_ok const_d2 "${CONST[@]}" --steps 2 --checkpoint-out "$WORK/const_d2.h5"
train_ok const_d4 "${CONST[@]}" --steps 4 --resume "$WORK/const_d2.h5" --checkpoint-out "$WORK/const_d4.h5"
train_ok const_d6 "${CONST[@]}" --steps 6 --resume "$WORK/const_d4.h5" --checkpoint-out "$WORK/const_d6.h5"
same_checkpoint "constant lr, 2 + 2 + 2" "$WORK/const_a.h5" "$WORK/const_d6.h5"
same_steps "constant lr, 2 + 2 + 2 (last leg)" 5 const_a.out const_d6.out

check "resuming the step-6 checkpoint with --steps 6 is refused: there is nothing to train"
rc=0
timeout "$PARITY_TIMEOUT" "$PARITY" train "${CONST[@]}" --steps 6 --resume "$WORK/const_a.h5" >const_e.out 2>const_e.err || rc=$?
[[ $rc -eq 1 ]] || fail "expected exit 1, got $rc"
grep -q "already at step 6; nothing to train" const_e.err || { show_file "stderr" const_e.err; fail "no clear message"; }
grep -qE '^step ' const_e.out && fail "it ran steps"
pass "refused: $(cat const_e.err)"

# ------------------------------------------------------------------------------------ 2. warm-up only
WARM=("${BASE[@]}" --warmup 6)

check "warm-up schedule (lr changes every step): 6 straight vs 3 + 3"
train_ok warm_a "${WARM[@]}" --steps 6 --checkpoint-out "$WORK/warm_a.h5"
train_ok warm_b3 "${WARM[@]}" --steps 3 --checkpoint-out "$WORK/warm_b3.h5"
train_ok warm_c "${WARM[@]}" --steps 6 --resume "$WORK/warm_b3.h5" --checkpoint-out "$WORK/warm_c.h5"
lrs="$(step_lines warm_a.out | sed -E 's/.*\| lr ([^ ]+).*/\1/' | sort -u | wc -l)"
[[ "$lrs" == 6 ]] || fail "the warm-up run should use 6 different learning rates, used $lrs"
same_checkpoint "warm-up, 3 + 3" "$WORK/warm_a.h5" "$WORK/warm_c.h5"
same_steps "warm-up, 3 + 3" 4 warm_a.out warm_c.out

# ------------------------------------------------------------------------------------ 3. cosine schedule
# b=8 makes a step ~4x longer than above, which widens the window (steps 4-6) in which the step-3 file
# can be linked.
COS=(--model tiny --micro-batches 2 --micro-batch-size 8 --lr 1e-3 --warmup 1 --steps 6)

check "cosine schedule: 6 steps straight, and with --save-every 3 into cos_b.{step}.h5 (saving must not perturb the run)"
train_ok cos_a "${COS[@]}" --checkpoint-out "$WORK/cos_a.h5"
train_ok cos_b "${COS[@]}" --save-every 3 --checkpoint-out "$WORK/cos_b.{step}.h5"
[[ -e "$WORK/cos_b.3.h5" && "$(attr "$WORK/cos_b.3.h5" step)" == 3 ]] || fail "no step-3 checkpoint cos_b.3.h5"
pass "cos_b.3.h5 holds step 3"
same_checkpoint "cosine, final checkpoint with --save-every 3" "$WORK/cos_a.h5" "$WORK/cos_b.6.h5"
cp "$WORK/cos_b.3.h5" "$WORK/cos_b3.h5"

check "cosine schedule: resume the step-3 checkpoint to 6"
train_ok cos_c "${COS[@]}" --resume "$WORK/cos_b3.h5" --checkpoint-out "$WORK/cos_c.h5"
same_checkpoint "cosine, 3 + 3" "$WORK/cos_a.h5" "$WORK/cos_c.h5"
same_steps "cosine, 3 + 3" 4 cos_a.out cos_c.out

finish
