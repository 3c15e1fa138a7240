#!/usr/bin/env bash
# The CI gate as part of the test command: `parity sweep suites/ci.toml` (every hybrid-parallel layout of tiny
# against one device, exact bitwise and fast within the bound) must pass, and its merged file must hold every
# run with a passing verdict. About 2.5 minutes on 2 cores.
# Usage: bash sweep_ci.sh PATH/TO/parity SOURCE_DIR
source "$(dirname "$0")/common.bash"
[[ -n "$SOURCE_DIR" && -f "$SOURCE_DIR/suites/ci.toml" ]] || fail "needs the source directory (suites/ci.toml)"

check "parity sweep suites/ci.toml passes"
RC=0
timeout 900 "$PARITY" sweep "$SOURCE_DIR/suites/ci.toml" --out ci.h5 --oversubscribe --timeout 300 > ci.log 2>&1 || RC=$?
sed -n '/^run  /,$p' ci.log
[[ $RC -eq 0 ]] || { show_file "sweep output" ci.log; fail "the CI sweep exited $RC"; }
[[ -f ci.h5 ]] || fail "no merged file"

check "every run of the merged file passed"
runs=$(h5ls ci.h5/runs | awk '{print $1}')
n=0
for id in $runs; do
  n=$((n + 1))
  v=$(h5dump -a "/runs/$id/parity" ci.h5 | sed -n 's/^ *(0): "\(.*\)"$/\1/p')
  case "$id:$v" in
    *-exact-*:bitwise | *-fast-*:within-bound | *-fast-*:bitwise | dp1-tp1-pp1-*-exact-*:baseline) ;;
    *) fail "run $id has verdict '$v'" ;;
  esac
done
[[ $n -eq 78 ]] || fail "expected 78 runs (13 layouts x exact, fast x fp32, bf16, fp16), found $n"
pass "$n runs: $(grep -o '[0-9]* bitwise, [0-9]* within bound, [0-9]* failed' ci.log)"
finish
