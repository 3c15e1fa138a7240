#!/usr/bin/env bash
# `parity compare` and `parity report` on files written by real `parity train` runs:
# - two identical runs: checkpoints, gradient dumps and results files are bit-identical (exit 0), and
#   h5diff agrees;
# - a run with another seed: every file differs (exit 1), the summary names the first differing tensor
#   and index, and h5diff agrees;
# - trouble (missing file, missing group) exits 2 with "parity: error: ...";
# - `parity report` reads a results file, prints the parity and scaling sections, and with --out writes the
#   tables (Markdown, CSV) and SVG plots, atomically (no temporary files left).
#
# usage: bash report.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

ARGS=(--model tiny --steps 2 --micro-batches 2 --micro-batch-size 2 --lr 1e-3 --quiet)

check "three tiny runs of 2 steps: two identical (seed 1), one with seed 2"
for run in a b; do
  train_ok "train_$run" "${ARGS[@]}" --seed 1 --checkpoint-out "$WORK/$run.h5" --results "$WORK/r$run.h5" \
    --dump-grads "$WORK/g$run.h5" --dump-step 2
done
train_ok train_c "${ARGS[@]}" --seed 2 --checkpoint-out "$WORK/c.h5" --results "$WORK/rc.h5" \
  --dump-grads "$WORK/gc.h5" --dump-step 2
pass "checkpoints, results and gradient dumps written"

# compare_rc EXPECTED NAME ARGS...: `parity compare ARGS` exits with EXPECTED; output in NAME.out/.err.
compare_rc() {
  local want="$1" name="$2"
  shift 2
  run_parity "$name.out" "$name.err" compare "$@"
  if [[ $RC -ne $want ]]; then
    show_file stdout "$name.out"
    show_file stderr "$name.err"
    fail "parity compare $* exited with status $RC, expected $want"
  fi
}

check "identical runs: checkpoints are bit-identical (exit 0), 156 tensors = 52 parameters x (params, m, v)"
compare_rc 0 same a.h5 b.h5
first="$(head -n 1 same.out)"
[[ "$first" =~ ^bit-identical:\ 156\ tensors,\ [0-9]+\ elements$ ]] || fail "summary line is '$first'"
grep -q '^/params/wte  *same  *256x128 ' same.out || { show_file stdout same.out; fail "no table row for /params/wte"; }
[[ $(grep -c ' same ' same.out) -eq 156 ]] || fail "expected 156 table rows with status same"
h5diff -q a.h5 b.h5 >/dev/null || fail "h5diff disagrees: it finds a difference"
pass "$first"

check "identical runs: gradient dumps and results files are bit-identical too"
compare_rc 0 same_grads ga.h5 gb.h5
grep -q '^bit-identical: 52 tensors' same_grads.out || fail "grad dumps: '$(head -n 1 same_grads.out)'"
compare_rc 0 same_results ra.h5 rb.h5
pass "grads: $(head -n 1 same_grads.out); results: $(head -n 1 same_results.out)"

check "another seed: the checkpoints differ (exit 1) and the summary names the first difference"
compare_rc 1 differ a.h5 c.h5
first="$(head -n 1 differ.out)"
[[ "$first" =~ ^differ:\ [0-9]+\ of\ 156\ tensors\;\ first\ /adam/m/blocks\.0\.[a-z0-9.]+\[[0-9]+\]\ \(flat\ [0-9]+\):\ .*\ vs\ .*ULP$ ]] ||
  fail "summary line is '$first'"
grep -q '^/params/wte  *DIFF ' differ.out || fail "no DIFF row for /params/wte"
if h5diff -q a.h5 c.h5 >/dev/null 2>&1; then fail "h5diff disagrees: it finds no difference"; fi
pass "$first"

check "--group /params and --format csv: one header and 52 rows, all differing"
compare_rc 1 differ_csv a.h5 c.h5 --group /params --format csv
head -n 1 differ_csv.out | grep -q '^tensor,status,shape_a,shape_b,elements,differing,max_abs,max_rel,max_ulp,first_index,first_index_nd$' ||
  fail "CSV header is '$(head -n 1 differ_csv.out)'"
[[ $(tail -n +2 differ_csv.out | wc -l) -eq 52 ]] || fail "expected 52 CSV rows, got $(tail -n +2 differ_csv.out | wc -l)"
[[ $(grep -c ',differ,' differ_csv.out) -eq 52 ]] || fail "not every parameter differs between seeds"
grep -q '^/params/wte,differ,256x128,256x128,32768,' differ_csv.out || fail "no CSV row for /params/wte"
pass "52 parameters differ"

check "another seed: the per-step results differ (loss) and the gradient dumps differ"
compare_rc 1 differ_results ra.h5 rc.h5
grep -q '^differ: .*first /runs/dp1-tp1-pp1-fp32-exact/' differ_results.out || fail "results: '$(head -n 1 differ_results.out)'"
compare_rc 1 differ_grads ga.h5 gc.h5
pass "$(head -n 1 differ_results.out | cut -c1-100)"

check "trouble exits 2 with parity: error"
compare_rc 2 missing a.h5 "$WORK/nope.h5"
grep -q "^parity: error: cannot open HDF5 file $WORK/nope.h5" missing.err || { show_file stderr missing.err; fail "message"; }
compare_rc 2 nogroup a.h5 b.h5 --group /grads
grep -q "^parity: error: group /grads not found in HDF5 file a.h5" nogroup.err || { show_file stderr nogroup.err; fail "message"; }
pass "missing file and missing group"

check "parity report on a results file: parity and scaling sections on stdout"
run_parity rep.out rep.err report ra.h5
[[ $RC -eq 0 ]] || { show_file stderr rep.err; fail "parity report exited with $RC"; }
for s in '^# parity report: ra.h5$' '^## Parity$' '^## Scaling$' '^| dp1·tp1·pp1 | 1 | 2×2 | [0-9]+ | 1.00 | 100.0% | [0-9.]+% |'; do
  grep -Eq "$s" rep.out || { show_file stdout rep.out; fail "report lacks a line matching $s"; }
done
pass "$(grep -c . rep.out) lines"

check "parity report --out DIR writes the tables and the plots, and nothing half-written"
run_parity rep2.out rep2.err report ra.h5 --out "$WORK/tables" --peak-gflops 100
[[ $RC -eq 0 ]] || { show_file stderr rep2.err; fail "parity report --out exited with $RC"; }
for f in parity.md scaling.md parity.csv scaling.csv report.md loss-fp32-exact.svg scaling-fp32-exact.svg; do
  [[ -s "tables/$f" ]] || fail "tables/$f was not written"
done
cmp -s rep2.out tables/report.md || fail "stdout and tables/report.md differ"
[[ $(wc -l <tables/parity.csv) -eq 2 ]] || fail "parity.csv should hold a header and one run"
head -n 1 tables/scaling.csv | grep -q '^run_id,model,precision,numerics,' || fail "scaling.csv header"
grep -q ',5349888,100,' tables/scaling.csv || fail "scaling.csv lacks FLOPs/token 5349888 and the peak 100"
grep -q '<polyline' tables/loss-fp32-exact.svg || fail "the loss plot has no curve"
tail -n 1 tables/loss-fp32-exact.svg | grep -q '^</svg>$' || fail "the loss plot is not a complete SVG"
no_leftovers "parity report"
pass "$(ls tables | tr '\n' ' ')"

if command -v rsvg-convert >/dev/null 2>&1; then
  check "--plots png (rsvg-convert is installed): PNGs next to the SVGs"
  run_parity rep3.out rep3.err report ra.h5 --out "$WORK/png" --plots png
  [[ $RC -eq 0 ]] || { show_file stderr rep3.err; fail "parity report --plots png exited with $RC"; }
  head -c 4 png/loss-fp32-exact.png | grep -q 'PNG' || fail "png/loss-fp32-exact.png is not a PNG"
  pass "$(ls png | grep -c png) PNG files"
fi

finish
