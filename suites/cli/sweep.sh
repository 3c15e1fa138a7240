#!/usr/bin/env bash
# `parity sweep` end to end with the local launcher (tiny model, 2 steps, a few layouts):
#   1. a passing sweep: merged file layout (root attributes, /runs groups with datasets and verdicts,
#      /skipped with reasons), exit status 0, run directories removed;
#   2. a sweep with failing runs: a crash (a bit flip caught by the consistency check), a run that hangs past
#      --timeout (a fake parity that sleeps for one layout), and a run whose numbers differ from the baseline
#      (a bit flip without the check): all recorded, the others still complete, exit status non-zero, nothing
#      of the hung run left running;
#   3. --resume runs only what is missing;
#   4. --launcher print runs nothing and writes nothing.
# Usage: bash sweep.sh PATH/TO/parity [SOURCE_DIR]
source "$(dirname "$0")/common.bash"

# attr FILE OBJECT NAME: the value of a scalar attribute (strings without quotes).
attr() {
  h5dump -a "$2/$3" "$1" 2>/dev/null | sed -n 's/^ *(0): //p' | sed 's/^"\(.*\)"$/\1/' | head -1
}
# attr_text FILE OBJECT NAME: the whole DATA block of an attribute (multi-line strings: spec, output_tail).
attr_text() {
  h5dump -a "$2/$3" "$1" 2>/dev/null | sed -n '/DATA {/,$p'
}
expect_attr() {  # expect_attr FILE OBJECT NAME VALUE
  local v
  v="$(attr "$1" "$2" "$3")"
  [[ "$v" == "$4" ]] || fail "$2@$3 is '$v', expected '$4' (in $1)"
}

# A fake parity in front of the real one (the hang sleeps for a number of seconds unique to this test run, so
# that its processes can be told apart from anything else on the machine): logs every start, sleeps for ever for the layout given in
# $HANG_LAYOUT (a string of its arguments, e.g. "--pp 2"), else runs the real binary.
HANG_SECONDS=$((100000 + RANDOM))
cat > fake-parity.sh <<EOF
#!/usr/bin/env bash
echo "\$*" >> "$WORK/starts.log"
if [[ -n "\${HANG_LAYOUT:-}" && " \$* " == *" \$HANG_LAYOUT "* ]]; then
  exec sleep $HANG_SECONDS
fi
exec "$PARITY" "\$@"
EOF
chmod +x fake-parity.sh
starts() { [[ -f starts.log ]] && grep -c ' train ' starts.log || echo 0; }

common='model = "tiny"
data = "synthetic"
steps = 2
seeds = [7]
micro_batches = 4
micro_batch_size = 2
lr = 1e-3'

sweep() {  # sweep NAME ARGS...: runs parity sweep, stdout+stderr in NAME.log, exit status in RC
  local name="$1"
  shift
  RC=0
  timeout 110 "$PARITY" sweep "$@" > "$name.log" 2>&1 || RC=$?
  [[ $RC -ne 124 ]] || { show_file "$name" "$name.log"; fail "parity sweep $* hung"; }
}

# ---------------------------------------------------------------------------------------------------------
check "a passing sweep: 1 baseline + 2 layouts, one layout skipped for --max-ranks, merged file layout"
cat > pass.toml <<EOF
$common
[grid]
layouts = ["dp1", "dp2", "tp2", "tp4"]
EOF
sweep pass pass.toml --out pass.h5 --max-ranks 2 --timeout 60 --oversubscribe
[[ $RC -eq 0 ]] || { show_file pass pass.log; fail "passing sweep exited $RC"; }
[[ -f pass.h5 ]] || fail "no merged file"
no_leftovers "passing sweep" pass.runs
h5ls -r pass.h5 > pass.ls
for g in /runs/dp1-tp1-pp1-fp32-exact-s7 /runs/dp2-tp1-pp1-fp32-exact-s7 /runs/dp1-tp2-pp1-fp32-exact-s7 \
         /skipped/dp1-tp4-pp1-fp32-exact-s7; do
  grep -q "^$g  *Group" pass.ls || { show_file "h5ls" pass.ls; fail "merged file lacks group $g"; }
done
[[ $(grep -c '^/runs/[^/]*  *Group' pass.ls) -eq 3 ]] || { show_file "h5ls" pass.ls; fail "expected 3 runs"; }
for d in step loss grad_norm lr loss_scale step_seconds tokens_per_second; do
  grep -q "^/runs/dp2-tp1-pp1-fp32-exact-s7/$d  *Dataset {2}" pass.ls || fail "run group lacks dataset $d"
done
expect_attr pass.h5 / format parity-sweep-1
for a in git_revision compiler kokkos_backend mpi_library hosts date spec; do
  [[ -n "$(attr pass.h5 / $a)" ]] || fail "root attribute $a missing or empty"
done
attr_text pass.h5 / spec | grep -q 'layouts' || fail "root attribute spec does not hold the spec text"
b=/runs/dp1-tp1-pp1-fp32-exact-s7
expect_attr pass.h5 $b parity baseline
expect_attr pass.h5 $b baseline dp1-tp1-pp1-fp32-exact-s7
for g in /runs/dp2-tp1-pp1-fp32-exact-s7 /runs/dp1-tp2-pp1-fp32-exact-s7; do
  expect_attr pass.h5 $g parity bitwise
  expect_attr pass.h5 $g baseline dp1-tp1-pp1-fp32-exact-s7
  expect_attr pass.h5 $g status ok
  expect_attr pass.h5 $g first_diff_step -1
  expect_attr pass.h5 $g first_diff_tensor ""
  expect_attr pass.h5 $g max_abs_diff 0
  expect_attr pass.h5 $g max_rel_diff 0
  expect_attr pass.h5 $g bound 0
  expect_attr pass.h5 $g ranks 2
  expect_attr pass.h5 $g launcher local
  expect_attr pass.h5 $g seed 7
  [[ -n "$(attr_text pass.h5 $g output_tail)" ]] || fail "$g has no output_tail"
done
attr pass.h5 /skipped/dp1-tp4-pp1-fp32-exact-s7 reason | grep -q 'more than --max-ranks 2' ||
  fail "the skipped layout's reason does not name --max-ranks"
grep -q '^\[3/3\]' pass.log || { show_file pass pass.log; fail "no progress line [3/3]"; }
grep -q 'elapsed' pass.log || fail "progress lines lack the elapsed time"
pass "3 runs merged with their datasets and verdicts, 1 skipped with its reason, exit 0"

# ---------------------------------------------------------------------------------------------------------
check "failing runs: a crash, a hang past --timeout, a numeric difference; the rest completes, exit non-zero"
cat > fail.toml <<EOF
$common
[grid]
layouts = ["dp1", "dp2", "tp2", "pp2", "dp2-z1"]
[extra_args_by_run]
# dp2: a bit flip on replica 1 after step 1, caught by the consistency check -> the run exits non-zero
"dp2-tp1-pp1-fp32-exact" = ["--inject-bitflip", "1:1:wte", "--check-consistency", "1"]
# tp2: a bit flip on one shard, not checked -> the run completes with numbers that differ
"dp1-tp2-pp1-fp32-exact-s7" = ["--inject-bitflip", "1:0:wte"]
EOF
rm -f starts.log
SECONDS_BEFORE=$SECONDS
HANG_LAYOUT="--pp 2" sweep fail fail.toml --out fail.h5 --timeout 15 --parity ./fake-parity.sh --oversubscribe
took=$((SECONDS - SECONDS_BEFORE))
[[ $RC -ne 0 ]] || { show_file fail fail.log; fail "a sweep with failed runs exited 0 (the CI gate must fail)"; }
[[ -f fail.h5 ]] || { show_file fail fail.log; fail "no merged file after failures"; }
h5ls fail.h5/runs > fail.ls
[[ $(wc -l < fail.ls) -eq 5 ]] || { show_file h5ls fail.ls; show_file fail fail.log; fail "expected 5 runs recorded"; }
g=/runs/dp2-tp1-pp1-fp32-exact-s7
expect_attr fail.h5 $g status crashed
expect_attr fail.h5 $g parity failed
attr_text fail.h5 $g output_tail | grep -q 'consistency check failed' || fail "the crash's output_tail lacks the error"
[[ "$(attr fail.h5 $g exit_code)" != 0 ]] || fail "the crashed run's exit_code is 0"
g=/runs/dp1-tp1-pp2-fp32-exact-1f1b-s7
expect_attr fail.h5 $g status timeout
expect_attr fail.h5 $g parity failed
attr_text fail.h5 $g output_tail | grep -q 'timeout' || fail "the hung run's output_tail does not say it was killed"
g=/runs/dp1-tp2-pp1-fp32-exact-s7
expect_attr fail.h5 $g status ok
expect_attr fail.h5 $g parity failed
[[ "$(attr fail.h5 $g first_diff_tensor)" == /* ]] || fail "the differing run names no first differing tensor"
[[ "$(attr fail.h5 $g max_abs_diff)" != 0 ]] || fail "the differing run has max_abs_diff 0"
expect_attr fail.h5 /runs/dp2-tp1-pp1-fp32-exact-z1-s7 parity bitwise
expect_attr fail.h5 /runs/dp1-tp1-pp1-fp32-exact-s7 parity baseline
hung="$(attr fail.h5 /runs/dp1-tp1-pp2-fp32-exact-1f1b-s7 seconds)"
awk -v s="$hung" 'BEGIN { exit !(s >= 15 && s < 25) }' ||
  fail "the hung run was recorded after ${hung}s: not cut off at --timeout 15 (+ 5 s grace)"
if pgrep -f "sleep $HANG_SECONDS" > /dev/null; then fail "processes of the hung run are still alive: $(pgrep -af "sleep $HANG_SECONDS")"; fi
[[ -d fail.runs/dp2-tp1-pp1-fp32-exact-s7 ]] || fail "the failed run's directory was not kept for inspection"
pass "crash, timeout (killed after ${hung}s) and difference recorded; the other layouts bitwise; exit $RC (${took}s)"

# ---------------------------------------------------------------------------------------------------------
check "--resume runs only what is missing"
cat > resume.toml <<EOF
$common
[grid]
layouts = ["dp1", "dp2", "tp2"]
EOF
before="$(attr pass.h5 /runs/dp2-tp1-pp1-fp32-exact-s7 date)"
rm -f starts.log
sweep resume pass.toml --out pass.h5 --max-ranks 2 --resume --parity ./fake-parity.sh --oversubscribe
[[ $RC -eq 0 ]] || { show_file resume resume.log; fail "resume of a complete sweep exited $RC"; }
[[ $(starts) -eq 0 ]] || { show_file starts starts.log; fail "resume of a complete sweep started runs"; }
# Now a spec with one layout more than pass.h5 holds: only that one (and the baseline again, for its
# checkpoint, since the passing sweep removed its run directories) may run.
cp pass.toml more.toml
sed -i 's/layouts = .*/layouts = ["dp1", "dp2", "tp2", "pp2"]/' more.toml
sweep more more.toml --out pass.h5 --resume --parity ./fake-parity.sh --oversubscribe
[[ $RC -eq 0 ]] || { show_file more more.log; fail "resume with one more layout exited $RC"; }
grep -q -- '--pp 2' starts.log || { show_file starts starts.log; fail "the missing pp2 layout did not run"; }
if grep -- '--dp 2' starts.log | grep -q .; then fail "resume ran dp2 again"; fi
if grep -- '--tp 2' starts.log | grep -q .; then fail "resume ran tp2 again"; fi
expect_attr pass.h5 /runs/dp1-tp1-pp2-fp32-exact-1f1b-s7 parity bitwise
[[ "$(attr pass.h5 /runs/dp2-tp1-pp1-fp32-exact-s7 date)" == "$before" ]] || fail "resume replaced a kept run group"
[[ $(h5ls pass.h5/runs | wc -l) -eq 4 ]] || fail "expected 4 runs after the resume"
# The failing sweep resumed: everything is recorded, nothing runs, the gate still fails.
rm -f starts.log
sweep fail-resume fail.toml --out fail.h5 --resume --parity ./fake-parity.sh --timeout 15
[[ $RC -ne 0 ]] || fail "resuming a sweep with recorded failures exited 0"
[[ $(starts) -eq 0 ]] || { show_file starts starts.log; fail "resuming a fully recorded sweep started runs"; }
pass "a complete file runs nothing; one new layout runs alone (plus the baseline for its checkpoint)"

# ---------------------------------------------------------------------------------------------------------
check "--launcher print shows the commands and runs nothing"
rm -f starts.log
sweep print fail.toml --out print.h5 --launcher print --parity ./fake-parity.sh
[[ $RC -eq 0 ]] || { show_file print print.log; fail "print launcher exited $RC"; }
[[ ! -e print.h5 && ! -e print.runs ]] || fail "the print launcher wrote files"
[[ $(starts) -eq 0 ]] || fail "the print launcher started runs"
[[ $(grep -c 'mpiexec -n' print.log) -eq 5 ]] || { show_file print print.log; fail "expected 5 commands"; }
grep -q 'mpiexec -n 2 .*--inject-bitflip 1:1:wte' print.log || fail "the per-run extra arguments are not in the command"
pass "5 commands printed, nothing run or written"

check "a bad spec is refused with the file, line and key"
printf '%s\nstepz = 3\n[grid]\ndp = [1, 2]\n' "$common" > bad.toml
sweep bad bad.toml --out bad.h5
[[ $RC -ne 0 ]] || fail "a spec with an unknown key was accepted"
grep -q "bad.toml:8: unknown key 'stepz'" bad.log || { show_file bad bad.log; fail "the error does not name file:line and key"; }
[[ ! -e bad.h5 ]] || fail "a refused spec wrote a file"
pass "$(grep -o "bad.toml:8: unknown key 'stepz'" bad.log)"

finish
