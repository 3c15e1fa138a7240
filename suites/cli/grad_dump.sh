#!/usr/bin/env bash
# Gradient dump: `--dump-grads FILE --dump-step K` writes the batch of step K (/batch/inputs and
# /batch/targets, int32 [m*b, T]), the gradient of every parameter under /grads/<name> in its file shape
# (wte [V, C] without the vocabulary padding, qkv [3C, C], ...) as float32, and attributes step = K and
# loss = the loss printed at step K. The gradients are those before clipping: their norm is the printed
# grad norm. Dumping does not perturb the run.
#
# usage: bash grad_dump.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail
# shellcheck source=suites/cli/common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash" "$@"

attr() { h5dump -m '%.17g' -a "/$2" "$1" | sed -n 's/^ *(0): *//p'; }

# dtype FILE DATASET: the HDF5 datatype of DATASET, e.g. H5T_IEEE_F32LE.
dtype() { h5dump -H -d "$2" "$1" | sed -n 's/^ *DATATYPE *\([A-Z0-9_]*\).*/\1/p' | head -n 1; }

# expected_shapes L C T V: "name dims" for every parameter, dims as h5ls prints them ("384, 128").
expected_shapes() {
  local L="$1" C="$2" T="$3" V="$4" l
  echo "wte $V, $C"
  echo "wpe $T, $C"
  for ((l = 0; l < L; ++l)); do
    echo "blocks.$l.ln1.weight $C"
    echo "blocks.$l.ln1.bias $C"
    echo "blocks.$l.attn.qkv.weight $((3 * C)), $C"
    echo "blocks.$l.attn.qkv.bias $((3 * C))"
    echo "blocks.$l.attn.proj.weight $C, $C"
    echo "blocks.$l.attn.proj.bias $C"
    echo "blocks.$l.ln2.weight $C"
    echo "blocks.$l.ln2.bias $C"
    echo "blocks.$l.mlp.fc.weight $((4 * C)), $C"
    echo "blocks.$l.mlp.fc.bias $((4 * C))"
    echo "blocks.$l.mlp.proj.weight $C, $((4 * C))"
    echo "blocks.$l.mlp.proj.bias $C"
  done
  echo "lnf.weight $C"
  echo "lnf.bias $C"
}

# check_dump NAME FILE LOG K M B L C T V: the whole contract for one dump.
check_dump() {
  local name="$1" f="$2" log="$3" K="$4" M="$5" Bs="$6" L="$7" C="$8" T="$9" V="${10}"
  local rows=$((M * Bs))
  [[ -s "$f" ]] || fail "$name: no dump written at $f"

  check "$name: /batch/inputs and /batch/targets are int32 [m*b, T] = [$rows, $T]"
  local ds
  for ds in inputs targets; do
    h5ls "$f/batch/$ds" | grep -q "Dataset {$rows, $T}" ||
      fail "$name: /batch/$ds is '$(h5ls "$f/batch/$ds" 2>&1)', expected Dataset {$rows, $T}"
    [[ "$(dtype "$f" "/batch/$ds")" == H5T_STD_I32LE ]] ||
      fail "$name: /batch/$ds has type $(dtype "$f" "/batch/$ds"), expected H5T_STD_I32LE (int32)"
  done
  pass "$name: both [$rows, $T] int32"

  check "$name: /grads holds exactly the $((2 + 12 * L + 2)) parameters, each float32 in its file shape"
  expected_shapes "$L" "$C" "$T" "$V" | sort >expected_shapes.txt
  h5ls -r "$f/grads" | sed -n -E 's|^/([^ ]+) +Dataset \{([^}]*)\}.*|\1 \2|p' | sed 's|/.*||; s| *$||' |
    sort >actual_shapes.txt
  if ! cmp -s expected_shapes.txt actual_shapes.txt; then
    diff expected_shapes.txt actual_shapes.txt | head -n 20 >&2
    fail "$name: the datasets under /grads (> lines) differ from the expected names and shapes (< lines)"
  fi
  local t
  for t in wte blocks.0.attn.qkv.weight lnf.bias; do
    [[ "$(dtype "$f" "/grads/$t")" == H5T_IEEE_F32LE ]] || fail "$name: /grads/$t is $(dtype "$f" "/grads/$t"), not float32"
  done
  pass "$name: $(wc -l <actual_shapes.txt) tensors, wte [$V, $C], qkv [$((3 * C)), $C]"

  check "$name: attributes step = $K and loss = the loss printed at step $K"
  [[ "$(attr "$f" step)" == "$K" ]] || fail "$name: step attribute is '$(attr "$f" step)', expected $K"
  local loss printed
  loss="$(attr "$f" loss)"
  printed="$(grep -E "^step +$K/" "$log" | sed -E 's/.*\| loss ([^ ]+) \|.*/\1/')"
  [[ -n "$loss" && -n "$printed" ]] || fail "$name: no loss attribute ('$loss') or no printed loss ('$printed')"
  [[ "$(printf '%.6f' "$loss")" == "$printed" ]] ||
    fail "$name: loss attribute $loss rounds to $(printf '%.6f' "$loss"), the step-$K line prints $printed"
  pass "$name: loss $loss (printed $printed)"

  check "$name: the gradients are finite, not all zero, and their norm is the grad norm printed at step $K"
  local norm_printed
  norm_printed="$(grep -E "^step +$K/" "$log" | sed -E 's/.*\| grad norm ([^ ]+) \|.*/\1/')"
  mkdir -p "bin_$name"
  # Binary dumps: every gradient concatenated (the group), wte alone, the batch.
  h5dump -g /grads -b LE -o "bin_$name/grads.bin" "$f" >/dev/null
  h5dump -d /grads/wte -b LE -o "bin_$name/wte.bin" "$f" >/dev/null
  h5dump -d /batch/inputs -b LE -o "bin_$name/inputs.bin" "$f" >/dev/null
  h5dump -d /batch/targets -b LE -o "bin_$name/targets.bin" "$f" >/dev/null
  python3 - "bin_$name" "$norm_printed" "$rows" "$T" "$V" <<'EOF' || fail "$name: see the line above"
import math, os, struct, sys
d, norm_printed, rows, T, V = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def floats(fn):
    raw = open(os.path.join(d, fn), "rb").read()
    return struct.unpack("<%df" % (len(raw) // 4), raw)
g = floats("grads.bin")
bad = sum(1 for v in g if not math.isfinite(v))
if bad:
    sys.exit("FAIL: the gradients hold %d non-finite values" % bad)
if not any(floats("wte.bin")):
    sys.exit("FAIL: the wte gradient is all zero")
norm = math.sqrt(sum(v * v for v in g))
# printed with 4 decimals; the trainer's canonical fp32 sum differs from this double sum by ~1e-6 relative
if abs(norm - norm_printed) > 1e-4 + 1e-5 * norm_printed:
    sys.exit("FAIL: the norm of the dumped gradients is %.6f, the printed grad norm %.4f "
             "(a missing tensor, a clipped or a different step's gradient?)" % (norm, norm_printed))
print("    norm of the dumped gradients %.6f, printed %.4f" % (norm, norm_printed))
ins = struct.unpack("<%di" % (rows * T), open(os.path.join(d, "inputs.bin"), "rb").read())
tgs = struct.unpack("<%di" % (rows * T), open(os.path.join(d, "targets.bin"), "rb").read())
for name, a in (("inputs", ins), ("targets", tgs)):
    if min(a) < 0 or max(a) >= V:
        sys.exit("FAIL: /batch/%s has tokens outside [0, %d): min %d max %d" % (name, V, min(a), max(a)))
for r in range(rows):
    for t in range(T - 1):
        if tgs[r * T + t] != ins[r * T + t + 1]:
            sys.exit("FAIL: /batch: targets[%d][%d] = %d but inputs[%d][%d] = %d (targets must be the inputs "
                     "shifted by one)" % (r, t, tgs[r * T + t], r, t + 1, ins[r * T + t + 1]))
EOF
  pass "$name: finite, norm matches, tokens in range, targets = inputs shifted by one"
}

# ------------------------------------------------------------------------------------ tiny, synthetic
ARGS=(--model tiny --steps 3 --micro-batches 2 --micro-batch-size 2)
check "parity train ${ARGS[*]} --dump-grads g.h5 --dump-step 2"
train_ok dump "${ARGS[@]}" --dump-grads "$WORK/g.h5" --dump-step 2
pass "ran"
check_dump tiny "$WORK/g.h5" dump.out 2 2 2 4 128 64 256

check "dumping does not perturb the run (the same run without --dump-grads prints the same step lines)"
train_ok nodump "${ARGS[@]}"
step_lines dump.out >with.txt
step_lines nodump.out >without.txt
cmp -s with.txt without.txt || { diff with.txt without.txt >&2; fail "the step lines differ with and without the dump"; }
pass "identical"

# ------------------------------------------------------------------------------------ padded vocabulary
# V = 200 is padded to 256 inside the trainer; the file holds wte as [200, C].
ARGS_V=(--model tiny --vocab 200 --layers 2 --steps 2 --micro-batches 1 --micro-batch-size 3)
check "parity train ${ARGS_V[*]} --dump-grads gv.h5 --dump-step 2 (wte padded inside, [V, C] in the file)"
train_ok dumpv "${ARGS_V[@]}" --dump-grads "$WORK/gv.h5" --dump-step 2
pass "ran"
check_dump vocab200 "$WORK/gv.h5" dumpv.out 2 1 3 2 128 64 200

# ------------------------------------------------------------------------------------ text data
# With a text file the batch can be checked against the bytes: rows are consecutive windows of T tokens
# (data.cpp: row r of the stream starts at byte r*T while that is within the file), and step K reads
# rows (K-1)*m*b .. K*m*b-1, so the dumped batch proves it is step K's.
python3 - "$WORK/text.txt" <<'EOF'
import sys
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike".split()
out, i = [], 0
while sum(map(len, out)) < 20000:
    out.append(words[(i * 7 + i // 13) % len(words)] + (" " if i % 9 else ".\n"))
    i += 1
open(sys.argv[1], "w").write("".join(out))
EOF
ARGS_T=(--model tiny --data "$WORK/text.txt" --steps 3 --micro-batches 2 --micro-batch-size 2)
check "parity train ${ARGS_T[*]} --dump-grads gt.h5 --dump-step 3 (the batch is step 3's bytes)"
train_ok dumpt "${ARGS_T[@]}" --dump-grads "$WORK/gt.h5" --dump-step 3
check_dump text "$WORK/gt.h5" dumpt.out 3 2 2 4 128 64 256
python3 - "$WORK/text.txt" bin_text/inputs.bin 3 2 2 64 <<'EOF' || fail "text: the dumped batch is not step 3's data"
import struct, sys
text = open(sys.argv[1], "rb").read()
K, m, b, T = map(int, sys.argv[3:7])
ins = struct.unpack("<%di" % (m * b * T), open(sys.argv[2], "rb").read())
for r in range(m * b):
    row = (K - 1) * m * b + r
    want = list(text[row * T:row * T + T])
    got = list(ins[r * T:(r + 1) * T])
    if got != want:
        sys.exit("FAIL: /batch/inputs row %d is %r..., expected bytes %d.. of the file %r..."
                 % (r, bytes(got[:16]), row * T, bytes(want[:16])))
print("    /batch/inputs rows 0..%d are bytes %d..%d of the file" % (m * b - 1, (K - 1) * m * b * T, K * m * b * T - 1))
EOF
pass "text: the batch is step 3's"

finish
