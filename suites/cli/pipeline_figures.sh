#!/usr/bin/env bash
# The pipeline figures are computed once, by the trainer, and `parity report` shows the same numbers: for
# dp2·pp2 with m = 4 and for pp4 with m = 8, the report's idle and bubble columns equal the trainer's summary
# line, and the bubble is (p−1)/(m/dp+p−1) (each data-parallel replica pipelines its own m/dp micro-batches).
source "$(dirname "$0")/common.bash"
MPIEXEC="${MPIEXEC:-mpiexec}"
command -v "$MPIEXEC" >/dev/null || { echo "[$SCRIPT_NAME] no $MPIEXEC: skipped"; exit 0; }

# figures TAG BUBBLE M FLAGS...: one run of 4 ranks, then its report.
figures() {
  local tag=$1 bubble=$2 m=$3; shift 3
  check "$tag, m = $m: report = trainer, bubble $bubble%"
  RC=0
  timeout 300 "$MPIEXEC" -n 4 --oversubscribe "$PARITY" train --model tiny --steps 3 --micro-batches "$m" \
    --micro-batch-size 1 --results "$tag.h5" "$@" > "$tag.out" 2> "$tag.err" || RC=$?
  [[ $RC -eq 0 ]] || { show_file stderr "$tag.err"; fail "$tag: train exited $RC"; }
  local line idle bub
  line=$(grep '^pipeline idle per stage:' "$tag.out") || { show_file stdout "$tag.out"; fail "$tag: no pipeline summary"; }
  idle=$(sed -n 's/.*(mean \([0-9.]*\)%).*/\1/p' <<< "$line")
  bub=$(sed -n 's/.*theoretical bubble .* = \([0-9.]*\)%$/\1/p' <<< "$line")
  [[ "$bub" == "$bubble" ]] || fail "$tag: the trainer's bubble is '$bub'%, expected $bubble% ($line)"
  run_parity "$tag.report" "$tag.report.err" report "$tag.h5"
  [[ $RC -eq 0 ]] || { show_file stderr "$tag.report.err"; fail "$tag: report exited $RC"; }
  # The scaling table's row: ... | comm | idle | bubble |
  local row
  row=$(awk -F'|' 'NF == 12 && $2 ~ /·pp/' "$tag.report") || true
  [[ -n "$row" ]] || { show_file stdout "$tag.report"; fail "$tag: no scaling row in the report"; }
  local r_idle r_bub
  r_idle=$(awk -F'|' '{gsub(/[ %]/, "", $10); print $10}' <<< "$row")
  r_bub=$(awk -F'|' '{gsub(/[ %]/, "", $11); print $11}' <<< "$row")
  [[ "$r_idle" == "$idle" ]] || fail "$tag: report idle $r_idle% != trainer's $idle% ($row / $line)"
  [[ "$r_bub" == "$bub" ]] || fail "$tag: report bubble $r_bub% != trainer's $bub% ($row / $line)"
  pass "$tag: idle $idle%, bubble $bub% in both"
}
figures dp2-pp2 33.3 4 --dp 2 --pp 2
figures pp4 27.3 8 --pp 4
echo "[$SCRIPT_NAME] all $NCHECKS checks passed"
