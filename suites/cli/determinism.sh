#!/usr/bin/env bash
# Determinism: two identical runs produce identical checkpoints (every parameter and Adam moment, bit for
# bit), identical per-step lines (loss, grad norm, lr; the timing columns are dropped) and identical
# per-step loss / grad-norm datasets in the results file.
#
# usage: bash determinism.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

# Two micro-batches of two sequences, so that the micro-batch tree is exercised.
ARGS=(--model tiny --steps 4 --micro-batches 2 --micro-batch-size 2 --lr 1e-3 --warmup 1)
RUN_ID=dp1-tp1-pp1-fp32-exact

check "two identical runs: parity train ${ARGS[*]}"
train_ok run1 "${ARGS[@]}" --checkpoint-out "$WORK/a.h5" --results "$WORK/ra.h5"
train_ok run2 "${ARGS[@]}" --checkpoint-out "$WORK/b.h5" --results "$WORK/rb.h5"
for f in a.h5 b.h5 ra.h5 rb.h5; do [[ -s "$WORK/$f" ]] || fail "$f was not written"; done
pass "both runs finished and wrote a checkpoint and a results file"

check "the checkpoints have no differences (h5diff, datasets and attributes)"
if ! h5diff -c "$WORK/a.h5" "$WORK/b.h5" >h5diff.txt 2>&1; then
  head -n 40 h5diff.txt >&2
  fail "h5diff a.h5 b.h5 reports differences (exit status nonzero)"
fi
pass "h5diff exit 0"

check "the checkpoints contain what a comparison needs (so that h5diff did not compare two empty files)"
for obj in /params/wte /params/blocks.3.mlp.proj.weight /adam/m/wte /adam/v/lnf.bias; do
  h5ls "$WORK/a.h5$obj" >/dev/null 2>&1 || fail "a.h5 lacks $obj"
done
step="$(h5dump -a /step "$WORK/a.h5" | sed -n 's/^ *(0): *//p')"
[[ "$step" == 4 ]] || fail "a.h5 has step attribute '$step', expected 4"
pass "params, adam moments and step=4 present"

check "h5dump -d /params/wte text (full precision) is identical"
h5dump -m '%.9g' -d /params/wte "$WORK/a.h5" | sed 1d >wte_a.txt
h5dump -m '%.9g' -d /params/wte "$WORK/b.h5" | sed 1d >wte_b.txt
[[ $(wc -l <wte_a.txt) -gt 100 ]] || fail "h5dump of /params/wte is implausibly short: $(wc -l <wte_a.txt) lines"
cmp -s wte_a.txt wte_b.txt || { diff wte_a.txt wte_b.txt | head -n 20 >&2; fail "/params/wte differs"; }
pass "$(wc -l <wte_a.txt) lines identical"

check "the training actually changed the parameters (the checkpoint is not the initialisation)"
train_ok init --model tiny --steps 1 --micro-batches 2 --micro-batch-size 2 --lr 0 --quiet \
  --checkpoint-out "$WORK/init.h5"
if h5diff -q "$WORK/init.h5" "$WORK/a.h5" /params/wte /params/wte >/dev/null 2>&1; then
  fail "/params/wte after 4 steps at lr 1e-3 equals the one after a step at lr 0"
fi
pass "wte moved"

check "the per-step lines without timing columns are identical"
step_lines run1.out >steps1.txt
step_lines run2.out >steps2.txt
[[ $(wc -l <steps1.txt) -eq 4 ]] || { show_file "stdout" run1.out; fail "expected 4 step lines, got $(wc -l <steps1.txt)"; }
grep -q 'loss [0-9]' steps1.txt || fail "the step lines carry no loss"
cmp -s steps1.txt steps2.txt || { diff steps1.txt steps2.txt >&2; fail "the per-step lines differ"; }
sed 's/^/    /' steps1.txt

check "threads per rank change no bit: --threads 2, exact and fast (fast with BLAS off the team's threads)"
train_ok run3 "${ARGS[@]}" --threads 2 --checkpoint-out "$WORK/c.h5"
if ! h5diff -c "$WORK/a.h5" "$WORK/c.h5" >h5diff3.txt 2>&1; then
  head -n 40 h5diff3.txt >&2
  fail "--threads 2 gives a different checkpoint from --threads 1"
fi
train_ok run4 "${ARGS[@]}" --numerics fast --checkpoint-out "$WORK/f1.h5"
train_ok run5 "${ARGS[@]}" --numerics fast --threads 2 --checkpoint-out "$WORK/f2.h5"
# fast mode: the units' bits do not depend on the thread count either, except through BLAS's own blocking,
# which may depend on its thread count; only check that it runs and trains to a close loss
l4="$(step_lines run4.out | tail -n 1 | sed 's/.*loss \([0-9.]*\).*/\1/')"
l5="$(step_lines run5.out | tail -n 1 | sed 's/.*loss \([0-9.]*\).*/\1/')"
awk -v a="$l4" -v b="$l5" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 1e-3) }' ||
  fail "fast loss with 1 thread ($l4) and 2 threads ($l5) differ by more than 1e-3"
pass "exact: identical checkpoints; fast: final loss $l4 vs $l5"

check "the results files hold identical loss and grad_norm series"
for ds in loss grad_norm lr; do
  h5diff -c "$WORK/ra.h5" "$WORK/rb.h5" "/runs/$RUN_ID/$ds" "/runs/$RUN_ID/$ds" >/dev/null 2>&1 ||
    fail "/runs/$RUN_ID/$ds differs between the two results files (or is missing)"
done
pass "loss, grad_norm and lr identical"

finish
