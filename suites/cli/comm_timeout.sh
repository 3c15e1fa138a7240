#!/usr/bin/env bash
# A rank that stops progressing, or falls out of step with the others, ends the run within seconds with a
# message naming who waits on whom, never a hang that only a test timeout ends (--comm-timeout).
source "$(dirname "$0")/common.bash"
MPIEXEC="${MPIEXEC:-mpiexec}"
command -v "$MPIEXEC" >/dev/null || { echo "[$SCRIPT_NAME] no $MPIEXEC: skipped"; exit 0; }
ARGS=(train --model tiny --steps 4 --micro-batches 2 --micro-batch-size 1 --quiet --comm-timeout 3)

# stalled LAYOUT...: world rank 1 stops at step 2; the run must end with the timeout's message well before
# the stalled rank would wake (an hour), and before the test's own limit.
stalled() {
  local tag=$1; shift
  check "$tag: world rank 1 stops at step 2; the others give up after --comm-timeout 3 s"
  local t0=$SECONDS
  RC=0
  timeout 60 "$MPIEXEC" -n 2 --oversubscribe "$PARITY" "${ARGS[@]}" "$@" --inject-stall 2:1 > "$tag.out" 2> "$tag.err" || RC=$?
  local took=$((SECONDS - t0))
  [[ $RC -ne 124 ]] || { show_file stderr "$tag.err"; fail "$tag: the run hung until the test's 60 s limit"; }
  [[ $RC -ne 0 ]] || fail "$tag: a stalled rank went unnoticed (exit 0)"
  grep -q "parity: error: world rank 0 .*waited" "$tag.err" || { show_file stderr "$tag.err"; fail "$tag: no message naming the waiting rank"; }
  grep -q "world ranks\? 1" "$tag.err" || { show_file stderr "$tag.err"; fail "$tag: the message does not name the rank waited on"; }
  ((took <= 30)) || fail "$tag: took ${took} s to notice"
  pass "$tag: exit $RC after ${took} s: $(grep -m1 'parity: error' "$tag.err")"
}
stalled dp2 --dp 2
stalled pp2 --pp 2
stalled tp2 --tp 2

check "a bad --comm-timeout is refused"
run_parity bad.out bad.err train --model tiny --steps 1 --comm-timeout -1
[[ $RC -ne 0 ]] && grep -q -- "--comm-timeout must be" bad.err || { show_file stderr bad.err; fail "--comm-timeout -1 accepted"; }
pass "$(cat bad.err)"
echo "[$SCRIPT_NAME] all $NCHECKS checks passed"
