#!/usr/bin/env bash
# The GPU check: one prepared script for a machine with an NVIDIA GPU that has the CUDA build but no package
# registry (docs/gpu.md). It needs build-cuda/gpu/ (ci/build-cuda.sh makes it: the binaries and their runtime
# libraries) and a CUDA runtime there (a CUDA toolkit, or PyTorch's nvidia-* wheels).
#
#   1. nvidia-smi;  2. the runtime libraries (bundle + this machine's CUDA);
#   3. the GPU tests (cuBLAS GEMM against fp64, NCCL communicator, the device tree against the host tree, and
#      every device-form kernel against its host form, bit for bit);
#   4. `parity train` for tiny, exact and fast, fp32 and bf16 (per-run HDF5 results), every kernel on the GPU;
#   4b. exact mode: 2-rank layouts (dp 2, tp 2, pp 2, sharing the one GPU through MPI on managed memory) must
#      give the 1-rank GPU checkpoint bit for bit; the GPU's exact checkpoint is compared with the same
#      binary's host kernels (--target host: the CPU's exact result) and the difference reported;
#   5a. `parity train` for gpt2-124m, fast (cuBLAS), fp32 and bf16: tokens/s and MFU;
#   5. the PyTorch peer (ci/peers/gpt2_torch.py), if that script exists: one step against parity's checkpoint
#      and gradients, and its own GPU throughput at parity's gpt2-124m size and batch, fp32 and bf16;
#   6. `parity train` for gpt2-124m, exact, fp32 and bf16, with the rest of the budget;
#   then results/gpu/summary.md (the tables) beside the logs and HDF5 files.
#
# Every command has a timeout, and the whole script a budget (PARITY_GPU_BUDGET seconds, default 480): runs
# that would start after it are recorded as skipped. Exit status 1 if a test or a run failed.
# Usage: bash ci/gpu-check.sh   Environment: PARITY_GPU_OUT (default results/gpu), PARITY_GPU_BUDGET,
# PARITY_GPU_STEPS (tiny, default 10), PARITY_GPU_B and PARITY_GPU_T (gpt2-124m sequences per step and their
# length, default 4 and 1024), PARITY_GPU_PEAK_FP32 and PARITY_GPU_PEAK_BF16 (FLOP/s, for MFU),
# PARITY_GPU_BUNDLE (default build-cuda/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
out=${PARITY_GPU_OUT:-results/gpu}
budget=${PARITY_GPU_BUDGET:-480}
bundle=${PARITY_GPU_BUNDLE:-build-cuda/gpu}
mkdir -p "$out"
summary=$out/summary.md
failures=0
say() { echo "ci/gpu-check.sh: $*"; }
left() { echo $((budget - (SECONDS - start))); }

{
  echo "# parity GPU check"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), git $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo
} >"$summary"

# 1. The GPU.
if timeout 30 nvidia-smi >"$out/nvidia-smi.txt" 2>&1; then
  gpu=$(timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n1)
  say "GPU: $gpu"
  echo "GPU: $gpu" >>"$summary"
else
  say "nvidia-smi failed (no GPU or no driver?):"
  cat "$out/nvidia-smi.txt"
  echo "nvidia-smi failed: $(head -n1 "$out/nvidia-smi.txt")" >>"$summary"
  failures=$((failures + 1))
fi

# 2. Runtime libraries: the bundle, then the CUDA runtime of this machine (toolkit or pip wheels).
if [ ! -x "$bundle/bin/parity" ]; then
  say "error: $bundle/bin/parity is missing; build with bash ci/build-cuda.sh and carry $bundle" >&2
  echo "error: $bundle/bin/parity missing" >>"$summary"
  exit 1
fi
rt=$(mktemp -d /tmp/parity-runtime.XXXXXX)
if command -v xz >/dev/null; then
  tar -C "$rt" -xJf "$bundle/runtime.tar.xz"
else  # no xz(1): Python's tarfile reads it
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle/runtime.tar.xz" "$rt"
fi
cuda_dirs=$(
  {
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
      [ -d "$d" ] && echo "$d"
    done
    python3 - 2>/dev/null <<'EOF' || true
import glob, os
try:
    import nvidia
    for p in nvidia.__path__:
        for lib in sorted(glob.glob(os.path.join(p, "*", "lib"))):
            print(lib)
except Exception:
    pass
EOF
  } | paste -sd: -
)
export LD_LIBRARY_PATH=$rt/lib${cuda_dirs:+:$cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Open MPI from the bundle, as a singleton (no mpirun, no daemon), shared memory and self only.
# Shared-memory transport without single-copy (process_vm_readv), which may fail on CUDA managed pages.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPAL_PREFIX=$rt PMIX_INSTALL_PREFIX=$rt OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_mca_base_component_show_load_errors=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ldd "$bundle/bin/parity" "$bundle/bin/parity_gpu_tests" >"$out/ldd.txt" 2>&1 || true
if grep -q "not found" "$out/ldd.txt"; then
  say "error: libraries not found (LD_LIBRARY_PATH=$LD_LIBRARY_PATH):"
  grep "not found" "$out/ldd.txt" | sort -u
  echo "libraries not found: $(grep "not found" "$out/ldd.txt" | awk '{print $1}' | sort -u | paste -sd' ' -)" >>"$summary"
  failures=$((failures + 1))
fi

# 3. GPU tests.
echo >>"$summary"
say "GPU tests"
if timeout 300 "$bundle/bin/parity_gpu_tests" --gtest_output="xml:$out/gpu_tests.xml" >"$out/gpu_tests.log" 2>&1; then
  echo "GPU tests: passed ($(grep -c '^\[       OK \]' "$out/gpu_tests.log") tests)" >>"$summary"
else
  rc=$?
  failures=$((failures + 1))
  echo "GPU tests: FAILED (exit $rc; see gpu_tests.log)" >>"$summary"
  grep -E "FAILED|error" "$out/gpu_tests.log" | head -n 20 | sed 's/^/    /' >>"$summary" || true
fi
tail -n 5 "$out/gpu_tests.log"

# 4. Trainer runs (tiny here, gpt2-124m in 6), --target device (the CUDA build's default): every layer
#    kernel, the micro-batch tree and AdamW on the GPU; MFU = tok/s x (6 N + 12 L T C) / peak, the peak of the
#    arithmetic the run asks for (fp32: PARITY_GPU_PEAK_FP32, default 67 TFLOP/s, H100/H200 SXM without
#    tensor cores; bf16: PARITY_GPU_PEAK_BF16, default 989 TFLOP/s dense).
threads=()
if "$bundle/bin/parity" train --help 2>/dev/null | grep -q -- "--threads"; then threads=(--threads "$(nproc)"); fi
steps=${PARITY_GPU_STEPS:-10}
peak_fp32=${PARITY_GPU_PEAK_FP32:-67e12}
peak_bf16=${PARITY_GPU_PEAK_BF16:-989e12}
runs=$out/runs.md  # the table, joined to the summary at the end
{
  echo "| model | precision | numerics | steps | status | final loss | grad norm | mean step ms | tok/s | MFU |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$runs"
run() {  # model precision numerics timeout args...
  local model=$1 prec=$2 num=$3 limit=$4
  shift 4
  local name=$model-$prec-$num
  local log=$out/$name.log
  if [ "$(left)" -lt "$limit" ]; then
    echo "| $model | $prec | $num | - | skipped (budget) | | | | | |" >>"$runs"
    return
  fi
  say "train $name"
  local rc=0
  timeout "$limit" "$bundle/bin/parity" train --model "$model" --precision "$prec" --numerics "$num" \
    --results "$out/$name.h5" "${threads[@]}" "$@" >"$log" 2>&1 || rc=$?
  local status=ok
  if [ $rc -eq 124 ]; then status="timeout (${limit} s)"; elif [ $rc -ne 0 ]; then status="FAILED (exit $rc)"; fi
  [ "$status" = ok ] || failures=$((failures + 1))
  # step 3/20 | loss 5.476522 | grad norm 2.5364 | lr 1.650e-04 | 39.4 ms | 6503 tok/s
  # The first step (allocation, first touch of managed memory, cuBLAS start-up) is left out of the means.
  # parity train: model gpt2-124m (L12 C768 H12 T1024 V50257), 124475904 params, ...
  local peak=$peak_fp32
  [ "$prec" = fp32 ] || peak=$peak_bf16
  awk -F'|' -v m="$model" -v p="$prec" -v n="$num" -v s="$status" -v peak="$peak" '
    /^parity train: model/ {
      if (match($0, /[0-9]+ params/)) np = substr($0, RSTART, RLENGTH) + 0
      if (match($0, /L[0-9]+ C[0-9]+ H[0-9]+ T[0-9]+/)) {
        split(substr($0, RSTART, RLENGTH), d, " "); L = substr(d[1], 2); C = substr(d[2], 2); T = substr(d[4], 2)
      }
    }
    /^step / { split($1, a, " "); st = a[2]; l = $2; g = $3; j++; if (j > 1) { ms += $5 + 0; ts += $6 + 0; k++ } }
    END {
      sub(/^ *loss /, "", l); sub(/^ *grad norm /, "", g); gsub(/ /, "", l); gsub(/ /, "", g)
      mfu = (k && np) ? sprintf("%.1f%%", 100 * (ts / k) * (6 * np + 12 * L * T * C) / peak) : ""
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m, p, n, (j ? st : "-"), s, l, g,
             (k ? sprintf("%.1f", ms / k) : ""), (k ? sprintf("%.0f", ts / k) : ""), mfu
    }' "$log" >>"$runs"
  grep -m1 "parity: error" "$log" || true
}
for prec in fp32 bf16; do
  for num in exact fast; do
    run tiny "$prec" "$num" 120 --steps "$steps" --micro-batch-size 4
  done
done

# 4b. Exact mode on the GPU: layouts against one rank (must be bit-identical), and the GPU against the CPU.
echo >>"$summary"
echo "| exact check (tiny, 3 steps) | result |" >>"$summary"
echo "|---|---|" >>"$summary"
ex=$out/exact
mkdir -p "$ex"
xargs_common=(--model tiny --steps 3 --micro-batches 2 --micro-batch-size 2 --quiet)
compare() {  # label a.h5 b.h5 must_match
  local line rc=0
  line=$(timeout 120 "$bundle/bin/parity" compare "$2" "$3" 2>&1 | grep -E "bit-identical|differ" | head -n1) || rc=$?
  [ -n "$line" ] || line="compare failed (exit $rc)"
  echo "| $1 | $line |" >>"$summary"
  if [ "$4" = 1 ] && ! echo "$line" | grep -q "^bit-identical"; then failures=$((failures + 1)); fi
}
for prec in fp32 bf16; do
  if ! timeout 120 "$bundle/bin/parity" train "${xargs_common[@]}" --precision $prec --target device       --checkpoint-out "$ex/gpu-$prec.h5" >"$ex/gpu-$prec.log" 2>&1; then
    echo "| $prec, 1 rank on the GPU | FAILED (exact/gpu-$prec.log) |" >>"$summary"
    failures=$((failures + 1))
    continue
  fi
  timeout 300 "$bundle/bin/parity" train "${xargs_common[@]}" --precision $prec --target host     --checkpoint-out "$ex/cpu-$prec.h5" >"$ex/cpu-$prec.log" 2>&1 &&
    compare "$prec: GPU (device kernels) vs CPU (host kernels), 1 rank (expected: bit-identical)" "$ex/gpu-$prec.h5" "$ex/cpu-$prec.h5" 0
  if [ -x "$rt/bin/orterun" ] && [ "$prec" = fp32 ]; then
    for layout in "--dp 2" "--tp 2" "--pp 2" "--dp 2 --zero 1"; do
      tag=$(echo "$layout" | tr -d ' -')
      if timeout 180 "$rt/bin/orterun" -n 2 --oversubscribe -x LD_LIBRARY_PATH -x OPAL_PREFIX -x PMIX_INSTALL_PREFIX \
          "$bundle/bin/parity" train "${xargs_common[@]}" --precision $prec $layout --target device \
          --checkpoint-out "$ex/gpu-$prec-$tag.h5" >"$ex/gpu-$prec-$tag.log" 2>&1; then
        compare "$prec: 2 ranks on one GPU ($layout) vs 1 rank" "$ex/gpu-$prec-$tag.h5" "$ex/gpu-$prec.h5" 1
      else
        echo "| $prec: 2 ranks ($layout) | FAILED (exact/gpu-$prec-$tag.log) |" >>"$summary"
        failures=$((failures + 1))
      fi
    done
  fi
done

# 5a. gpt2-124m through parity, fast (cuBLAS): the throughput that goes next to PyTorch's.
for prec in fp32 bf16; do
  run gpt2-124m "$prec" fast 150 --steps 6 --micro-batch-size "${PARITY_GPU_B:-4}" --seq-len "${PARITY_GPU_T:-1024}"
done

# 5. The PyTorch peer (ci/peers/gpt2_torch.py, docs/peers.md), if present: (a) semantics: one step of the
#    PyTorch model from parity's checkpoint of step 1 on parity's batch of step 2, compared with parity's
#    gradients and update; (b) its throughput on the GPU at parity's gpt2-124m size and batch, fp32 and bf16
#    (autocast). Python runs without the bundle's libraries.
peer() { env -u LD_LIBRARY_PATH -u OPAL_PREFIX PYTHONUNBUFFERED=1 timeout "$@"; }
if [ -f ci/peers/gpt2_torch.py ]; then
  echo >>"$summary"
  sem=$out/semantics
  mkdir -p "$sem"
  if [ "$(left)" -lt 100 ]; then
    echo "PyTorch semantics check: skipped (budget)" >>"$summary"
  elif ! timeout 120 "$bundle/bin/parity" train --model tiny --steps 2 --micro-batch-size 2 --checkpoint-out \
      "$sem/ckpt_{step}.h5" --save-every 1 --dump-grads "$sem/grads_2.h5" --dump-step 2 >"$sem/parity.log" 2>&1; then
    echo "PyTorch semantics check: parity run FAILED (semantics/parity.log)" >>"$summary"
    failures=$((failures + 1))
  elif peer 120 python3 ci/peers/gpt2_torch.py --against-parity "$sem/ckpt_1.h5" "$sem/grads_2.h5" "$sem/ckpt_2.h5" \
      --check-lr 3e-5 >"$sem/against.log" 2>&1; then
    echo "PyTorch semantics check (tiny, one step from parity's checkpoint): passed" >>"$summary"
    tail -n 4 "$sem/against.log" | sed 's/^/    /' >>"$summary"
  else
    echo "PyTorch semantics check: FAILED (semantics/against.log)" >>"$summary"
    tail -n 6 "$sem/against.log" | sed 's/^/    /' >>"$summary"
    failures=$((failures + 1))
  fi
  echo >>"$summary"
  echo "| PyTorch on the GPU | dtype | status | tok/s (median) |" >>"$summary"
  echo "|---|---|---|---|" >>"$summary"
  for spec in "gpt2-124m 12 768 12 ${PARITY_GPU_T:-1024} 50257 ${PARITY_GPU_B:-4}"; do
    read -r model L C H T V B <<<"$spec"
    for dtype in fp32 bf16; do
      if [ "$(left)" -lt 120 ]; then
        echo "| $model | $dtype | skipped (budget) | |" >>"$summary"
        continue
      fi
      say "PyTorch $model $dtype"
      log=$out/torch-$model-$dtype.log
      if peer 120 python3 ci/peers/gpt2_torch.py --device cuda --dtype "$dtype" --name "torch-$model-$dtype" \
          --layers "$L" --channels "$C" --heads "$H" --seq "$T" --vocab "$V" --batch "$B" --steps 10 \
          --warmup-steps 3 --quiet >"$log" 2>&1; then
        tps=$(sed -n 's/^RESULT //p' "$log" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["tokens_per_s_median"])' 2>/dev/null || echo "?")
        echo "| $model (b=$B, T=$T) | $dtype | ok | $tps |" >>"$summary"
      else
        echo "| $model | $dtype | FAILED ($(basename "$log")) | |" >>"$summary"
        failures=$((failures + 1))
      fi
    done
  done
else
  echo >>"$summary"
  echo "PyTorch peer: ci/peers/gpt2_torch.py not present, skipped" >>"$summary"
fi

# 6. gpt2-124m through parity in exact mode (the canonical-order kernels), with what is left of the budget.
for prec in fp32 bf16; do
  run gpt2-124m "$prec" exact 180 --steps 3 --micro-batch-size "${PARITY_GPU_B:-4}" --seq-len "${PARITY_GPU_T:-1024}"
done

{
  echo
  echo "## parity train (CUDA build, --target device; gpt2-124m: b=${PARITY_GPU_B:-4}, T=${PARITY_GPU_T:-1024}; means leave out step 1)"
  echo
  cat "$runs"
  echo
  echo "$failures failure(s); $((SECONDS - start)) s. Logs and per-run HDF5 files beside this file."
} >>"$summary"
rm -rf "$rt" "$runs"
cat "$summary"
# On the workplace's device machine, hand the summary and a tarball of the rest back through $OUT.
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp "$summary" "$OUT/"
  tar -C "$out" -czf "$OUT/gpu-results.tar.gz" .
fi
[ "$failures" -eq 0 ]
