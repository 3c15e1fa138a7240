#!/usr/bin/env bash
# Bad input is refused: every case below must exit non-zero (a clean error, not a crash), say why on stderr
# (a specific phrase is grepped for), and leave nothing behind at the --results / --checkpoint-out paths,
# nor any temporary (*.tmp.*) file of an interrupted atomic write.
#
# usage: bash bad_input.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

# expect_refused NAME PHRASE [--cli] [--outputs] -- ARGS...: `parity train ARGS... --results NAME.res.h5
# --checkpoint-out NAME.ckpt.h5` must fail with PHRASE (an extended regex, case-insensitive) on stderr.
# Without --cli the message must be one of parity's own ("parity: error: ..."), exit status 1; with --cli
# it comes from the command-line parser. With --outputs, ARGS name the output paths themselves.
expect_refused() {
  local name="$1" phrase="$2" own=1 outputs=1
  shift 2
  while [[ "$1" == --cli || "$1" == --outputs ]]; do
    [[ "$1" == --cli ]] && own=0
    [[ "$1" == --outputs ]] && outputs=0
    shift
  done
  [[ "$1" == "--" ]] && shift
  local res="$WORK/$name.res.h5" ckpt="$WORK/$name.ckpt.h5"
  local extra=(--results "$res" --checkpoint-out "$ckpt")
  [[ $outputs -eq 1 ]] || extra=()
  check "$name: parity train $* is refused with /$phrase/ on stderr"
  run_parity "$name.out" "$name.err" train "$@" "${extra[@]}"
  if [[ $RC -eq 0 ]]; then
    show_file "stdout" "$name.out"
    fail "$name: exit status 0, expected an error"
  fi
  if [[ $RC -ge 128 ]]; then
    show_file "stderr" "$name.err"
    fail "$name: killed by signal $((RC - 128)) (a crash, not a clean error)"
  fi
  if ! grep -E -i -q -- "$phrase" "$name.err"; then
    show_file "stderr" "$name.err"
    fail "$name: stderr does not contain /$phrase/"
  fi
  if [[ $own -eq 1 ]]; then
    if grep -q "internal error" "$name.err"; then
      show_file "stderr" "$name.err"
      fail "$name: reported as an internal error (an exception parity did not anticipate), exit status $RC"
    fi
    grep -q "^parity: error: " "$name.err" || { show_file "stderr" "$name.err"; fail "$name: no 'parity: error:' line"; }
    [[ $RC -eq 1 ]] || fail "$name: exit status $RC, expected 1 (a parity error)"
  fi
  no_leftovers "$name" "$res" "$ckpt"
  pass "$name: exit $RC, $(head -n 1 "$name.err")"
}

# --- command line and configuration ------------------------------------------------------------------

expect_refused unknown_flag "not expected|unknown|unrecognized" --cli -- --steps 1 --no-such-flag 3
expect_refused unknown_model "unknown model preset 'huge'" -- --model huge --steps 1
expect_refused heads_not_dividing "C=128 is not divisible by heads H=3" -- --heads 3 --steps 1
expect_refused micro_batches_not_pow2 "--micro-batches 3 is not a power of two" -- --micro-batches 3 --steps 1
expect_refused zero_steps "--steps must be a whole number in \\[1, " -- --steps 0
expect_refused unknown_precision "--precision must be one of fp32, bf16, fp16, got 'fp8'" -- --precision fp8 --steps 1
expect_refused too_large_for_memory "this run needs at least .* GiB per rank .* more than this machine's" -- \
  --channels 262144 --heads 4 --steps 1
expect_refused dump_step_out_of_range "--dump-step" -- --steps 2 --dump-grads "$WORK/g.h5" --dump-step 3
no_leftovers "dump_step_out_of_range" "$WORK/g.h5"

# --- data -----------------------------------------------------------------------------------------------

expect_refused missing_data "cannot read data file .*no-such-file.bin: No such file" -- \
  --data "$WORK/no-such-file.bin" --steps 1

# An llm.c token file (header: 256 int32, magic 20240520, version 1, token count; then uint16 tokens)
# whose header announces 1000 tokens while only 10 follow.
python3 - "$WORK/truncated.bin" <<'EOF'
import struct, sys
header = [20240520, 1, 1000] + [0] * 253
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<256i", *header) + struct.pack("<10H", *range(10)))
EOF
expect_refused corrupt_llmc_file "truncated: the header says 1000 tokens" -- --data "$WORK/truncated.bin" --steps 1

# --- checkpoints ----------------------------------------------------------------------------------------

head -c 65536 /dev/urandom >"$WORK/random.h5"
expect_refused resume_random_bytes "cannot open HDF5 file .*random.h5: not an HDF5 file" -- \
  --resume "$WORK/random.h5" --steps 2

# A genuine checkpoint of a model with C=64, resumed by the default tiny model (C=128).
check "write a checkpoint with --channels 64 (the input of the next two cases)"
train_ok c64 --channels 64 --steps 1 --quiet --checkpoint-out "$WORK/c64.h5"
[[ -s "$WORK/c64.h5" ]] || fail "no checkpoint written at $WORK/c64.h5"
pass "c64.h5 written"
expect_refused resume_other_shape "does not match this run: channels is 64 in the file, 128 here" -- \
  --resume "$WORK/c64.h5" --steps 2

# The same checkpoint cut in half: a truncated HDF5 file.
head -c $(($(stat -c %s "$WORK/c64.h5") / 2)) "$WORK/c64.h5" >"$WORK/half.h5"
expect_refused resume_truncated "half.h5.*(corrupt|truncated)" -- --resume "$WORK/half.h5" --channels 64 --steps 2

# A valid HDF5 file that is not a checkpoint (a results file).
check "write a results file (the input of the next case)"
train_ok res --steps 1 --quiet --results "$WORK/results.h5"
pass "results.h5 written"
expect_refused resume_not_a_checkpoint "is not a parity checkpoint" -- --resume "$WORK/results.h5" --steps 2

# --- outputs that cannot be written ---------------------------------------------------------------------

expect_refused results_dir_missing "cannot write .*no-dir/r.h5: directory .*no-dir does not exist" --outputs -- \
  --steps 1 --quiet --results "$WORK/no-dir/r.h5"
expect_refused checkpoint_dir_missing "cannot write .*no-dir/c.h5: directory .*no-dir does not exist" --outputs -- \
  --steps 1 --quiet --checkpoint-out "$WORK/no-dir/c.h5"
mkdir "$WORK/a-directory"
expect_refused checkpoint_onto_directory "a-directory: it is a directory" --outputs -- \
  --steps 1 --quiet --checkpoint-out "$WORK/a-directory"
[[ -z "$(ls -A "$WORK/a-directory")" ]] || fail "checkpoint_onto_directory: wrote into the directory"
expect_refused two_outputs_one_file "--results and --checkpoint-out name the same file" --outputs -- \
  --steps 1 --quiet --results "$WORK/same.h5" --checkpoint-out "$WORK/./same.h5"
[[ ! -e "$WORK/same.h5" ]] || fail "two_outputs_one_file: $WORK/same.h5 was written"

head -c 4096 /dev/urandom > "$WORK/not-tokens.bin"
printf 'abcd' | dd of="$WORK/not-tokens.bin" conv=notrunc status=none
expect_refused bin_without_magic "named .bin but does not start with the llm.c token-file magic 20240520" -- \
  --data "$WORK/not-tokens.bin" --steps 1
expect_refused hdf5_as_data "is an HDF5 file" -- --data "$WORK/results.h5" --steps 1

PY="${PARITY_TORCH_PYTHON:-/usr/bin/python3}"  # Debian's, where python3-h5py installs
if "$PY" -c "import h5py" 2>/dev/null; then
  train_ok nanck --steps 1 --quiet --checkpoint-out "$WORK/nan.h5"
  "$PY" - "$WORK/nan.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    v = f["/adam/v/blocks.1.mlp.fc.weight"]
    x = v[...]
    x.flat[17] = float("nan")
    v[...] = x
PY
  expect_refused resume_nan_moment "/adam/v/blocks.1.mlp.fc.weight holds NaN at flat index 17" -- \
    --resume "$WORK/nan.h5" --steps 2
else
  echo "[$SCRIPT_NAME] no python3-h5py: the NaN-in-a-checkpoint case is skipped"
fi

# --- other commands ----------------------------------------------------------------------------------------

check "a flag parity does not know: the parser's words as one 'parity: error:' line, exit 2"
run_parity unknown.out unknown.err train --steps 1 --no-such-flag 3
[[ $RC -eq 2 ]] || { show_file stderr unknown.err; fail "unknown flag: exit status $RC, expected 2"; }
grep -q "^parity: error: .*--no-such-flag.*(see parity train --help)" unknown.err || { show_file stderr unknown.err; fail "unknown flag: unclear message"; }
pass "$(head -n 1 unknown.err)"
check "parity bound takes the run definition's ranges: --layers -1 and --channels 100 are refused"
run_parity bound1.out bound1.err bound --layers -1
[[ $RC -eq 1 ]] && grep -q "^parity: error: --layers must be a whole number in \[1, " bound1.err || { show_file stderr bound1.err; fail "bound --layers -1: exit $RC"; }
[[ ! -s bound1.out ]] || { show_file stdout bound1.out; fail "bound --layers -1 printed a bound"; }
run_parity bound2.out bound2.err bound --channels 100
[[ $RC -eq 1 ]] && grep -q "must be a multiple of 32" bound2.err || { show_file stderr bound2.err; fail "bound --channels 100: exit $RC"; }
pass "$(head -n 1 bound1.err); $(head -n 1 bound2.err)"

# --- divergence -----------------------------------------------------------------------------------------

# lr 1e30 without clipping: step 1 (loss 5.57) moves every weight by ~1e30 (Adam's first step is lr *
# sign(g)), so the logits of step 2 overflow and its loss is NaN. Training must stop with an error instead
# of writing a results file or checkpoint full of NaN.
expect_refused nan_loss "loss is (NaN|infinite)" -- --lr 1e30 --grad-clip 0 --steps 5

finish
