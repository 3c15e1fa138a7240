#!/usr/bin/env bash
# parity against its peers at the `small` shape, in one go on this machine (docs/peers.md):
#   B=4 sequences, T=256, L=4, C=256, H=4, V=8192, fp32, same global batch and core count for everyone;
#   parity exact and fast (1 rank; 2 ranks with --dp 2; 1 rank with 2 threads), PyTorch 1.13 (Debian's
#   python3-torch: glibc malloc / tcmalloc, 1 or 2 threads, 2 OpenBLAS threads, DDP gloo 2 x 1 thread), each
#   parity fast and the best PyTorch configurations with OPENBLAS_CORETYPE as set and unset; llm.c quoted.
# Writes results/peers.h5 (one group per configuration) and results/peers.md (the table); the logs of every
# run go to results/peers.runs/ (not committed).
# Usage: bash ci/bench-peers.sh [STEPS [WARMUP [ROUNDS]]]
#   STEPS timed steps (default 20) after WARMUP untimed ones (default 3); ROUNDS whole passes over the
#   configurations (default 1; each row then reports its best round's median, as a busy neighbour only slows).
#   PEERS_WAIT_IDLE=S: first wait up to S seconds for the machine to be idle (under 5% of all cores busy over
#   2 s), as the machine is shared; PEERS_ROW_WAIT=S: the same before every row; both default 0.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}
warmup=${2:-3}
rounds=${3:-1}
out=${PEERS_OUT:-results}   # PEERS_OUT: another directory (e.g. for a trial run)
runs=$out/peers.runs
P=build/parity
PY=/usr/bin/python3                     # Debian's python, where python3-torch lives (not a pyenv python3)
G=ci/peers/gpt2_torch.py
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4

# ---- set-up (idempotent) ----------------------------------------------------------------------------------
missing=()
for p in python3-torch python3-h5py libtcmalloc-minimal4; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bench-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
[[ -x $P ]] || bash ci/setup.sh default

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
coretype=${OPENBLAS_CORETYPE:-}         # the environment's value (Haswell on the CI machines)
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_WAIT_POLICY LD_PRELOAD
rm -rf "$runs"
mkdir -p "$runs"
manifest=$runs/manifest.tsv
: > "$manifest"
# busy share of all cores (every process on the machine) over 2 s, in percent, from /proc/stat
busy() { local a b; read -ra a < /proc/stat; sleep 2; read -ra b < /proc/stat
  local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (total - idle) / total : 0)); }
if ((${PEERS_WAIT_IDLE:-0} > 0)); then
  waited=0
  while (( $(busy) > 5 && waited < PEERS_WAIT_IDLE )); do waited=$((waited + 2)); done
  echo "bench-peers: waited ${waited} s for an idle machine (busy now: $(busy)% of all cores)"
fi
start=$(date +%s)
start_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# ---- semantics gate: the PyTorch model is the same function as parity's ------------------------------------
echo "== semantics: PyTorch model against parity (one step from parity's checkpoint, its batch) =="
sem=$runs/semantics
mkdir -p "$sem"
$P train --model small --steps 2 --micro-batch-size 2 --checkpoint-out "$sem/ckpt_{step}.h5" --save-every 1 \
  --dump-grads "$sem/grads_2.h5" --dump-step 2 --results "$sem/results.h5" > "$sem/parity.log"
$PY $G --check | tee "$sem/check.log"
$PY $G --against-parity "$sem/ckpt_1.h5" "$sem/grads_2.h5" "$sem/ckpt_2.h5" --check-lr 3e-5 | tee "$sem/against.log"
rm -f "$sem"/ckpt_*.h5 "$sem/grads_2.h5"   # 150 MB; parity's results file (its git revision) stays

# ---- one configuration ------------------------------------------------------------------------------------
# run NAME PEER NUMERICS RANKS THREADS_PER_RANK BLAS_THREADS CORES ALLOCATOR CORETYPE NOTE -- COMMAND...
# COMMAND is run as given (with `env` for its environment); its output goes to $runs/NAME.rROUND.log.
run() {
  local name=$1 peer=$2 numerics=$3 ranks=$4 threads=$5 blas=$6 cores=$7 alloc=$8 ct=$9 note=${10}
  shift 11
  local log=$runs/$name.r$round.log load0 t0 skip=1 busy0
  local waited=0
  busy0=$(busy)   # what the rest of the machine is doing just before (2 s)
  while ((busy0 > 5 && waited < ${PEERS_ROW_WAIT:-0})); do busy0=$(busy); waited=$((waited + 2)); done
  [[ $peer == parity ]] && skip=$((warmup + 1))   # parity prints every step; the PyTorch peer only timed ones
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  t0=$(date +%s%N)
  printf '%-40s ' "$name"
  if "$@" > "$log" 2>&1; then
    local tps
    tps=$(grep '^step' "$log" | awk -F'|' '{gsub(/ tok\/s/, "", $NF); print $NF + 0}' |
          tail -n +$skip | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    printf '%6s tokens/s  (%2d s, machine %3d%% busy before)\n' "$tps" $((($(date +%s%N) - t0) / 1000000000)) "$busy0"
  else
    echo "FAILED (exit $?, see $log)"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$peer" "$numerics" "$ranks" \
    "$threads" "$blas" "$cores" "$alloc" "$ct" "$note" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$*" "$busy0" \
    "$round" >> "$manifest"
}
# the environment with OPENBLAS_CORETYPE as set ("set") or unset ("unset")
ct_env() { if [[ $1 == set && -n $coretype ]]; then echo "OPENBLAS_CORETYPE=$coretype"; else echo "-u OPENBLAS_CORETYPE"; fi; }
ct_label() { if [[ $1 == set && -n $coretype ]]; then echo "$coretype"; else echo "unset"; fi; }

n=$((steps + warmup))
ptrain="$P train --model small --steps $n"
mpi="mpiexec -n 2 --bind-to core"
tg="$PY $G --steps $steps --warmup-steps $warmup --foreach"
have_threads=0
$P train --help | grep -q -- '--threads' && have_threads=1

parity_rows() {
  echo "== parity, round $round of $rounds ($n steps, median of the last $steps) =="
  # exact mode does not call BLAS: one row each, with the environment as it is
  run parity-exact-1x1 parity exact 1 1 1 1 glibc "$(ct_label set)" "" -- \
    env $(ct_env set) OPENBLAS_NUM_THREADS=1 $ptrain --micro-batch-size 4
  run parity-exact-dp2 parity exact 2 1 1 2 glibc "$(ct_label set)" "" -- \
    env $(ct_env set) OPENBLAS_NUM_THREADS=1 $mpi $ptrain --micro-batches 2 --micro-batch-size 2 --dp 2
  local ct sfx
  for ct in set unset; do
    sfx=$([[ $ct == set ]] && echo "" || echo "-coretype-unset")
    run parity-fast-1x1$sfx parity fast 1 1 1 1 glibc "$(ct_label $ct)" "" -- \
      env $(ct_env $ct) OPENBLAS_NUM_THREADS=1 $ptrain --micro-batch-size 4 --numerics fast
    run parity-fast-dp2$sfx parity fast 2 1 1 2 glibc "$(ct_label $ct)" "" -- \
      env $(ct_env $ct) OPENBLAS_NUM_THREADS=1 $mpi $ptrain --micro-batches 2 --micro-batch-size 2 --dp 2 \
      --numerics fast
    run parity-fast-1x1-blas2$sfx parity fast 1 1 2 2 glibc "$(ct_label $ct)" "OpenBLAS on 2 threads" -- \
      env $(ct_env $ct) OPENBLAS_NUM_THREADS=2 $ptrain --micro-batch-size 4 --numerics fast
    if ((have_threads)); then
      # like the PyTorch 2-thread row: two thread pools on two cores, so passive waiting
      run parity-fast-1x2$sfx parity fast 1 2 2 2 glibc "$(ct_label $ct)" "--threads 2, OMP_WAIT_POLICY=PASSIVE" -- \
        env $(ct_env $ct) OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=2 $ptrain --micro-batch-size 4 \
        --numerics fast --threads 2
    fi
  done
  if ((have_threads)); then
    run parity-fast-1x2-active-coretype-unset parity fast 1 2 2 2 glibc unset "--threads 2, OpenMP's default waiting" -- \
      env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=2 $ptrain --micro-batch-size 4 --numerics fast --threads 2
  elif ((round == 1)); then
    printf 'parity-fast-1x2\tparity\tfast\t1\t2\t2\t2\t-\t-\tskipped: this build of parity train has no --threads\t\t\t\t\t1\n' >> "$manifest"
  fi
}

torch_rows() {
  echo "== PyTorch, round $round of $rounds ($warmup warm-up + $steps timed steps) =="
  run torch-1x1-glibc torch fp32 1 1 1 1 glibc unset "" -- \
    env -u OPENBLAS_CORETYPE $tg --name torch-1x1-glibc --threads 1
  local ct sfx
  for ct in unset set; do
    sfx=$([[ $ct == unset ]] && echo "" || echo "-coretype-set")
    run torch-1x1-tcmalloc$sfx torch fp32 1 1 1 1 tcmalloc "$(ct_label $ct)" "" -- \
      env $(ct_env $ct) LD_PRELOAD=$TCMALLOC $tg --name torch-1x1-tcmalloc$sfx --threads 1
    if [[ $ct == unset ]]; then
      run torch-1x2-tcmalloc torch fp32 1 2 2 2 tcmalloc unset "OMP_WAIT_POLICY=PASSIVE" -- \
        env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=PASSIVE LD_PRELOAD=$TCMALLOC $tg --name torch-1x2-tcmalloc \
        --threads 2
    fi
    run torch-1x1-blas2-tcmalloc$sfx torch fp32 1 1 2 2 tcmalloc "$(ct_label $ct)" "1 torch thread, OpenBLAS on 2" -- \
      env $(ct_env $ct) LD_PRELOAD=$TCMALLOC $tg --name torch-1x1-blas2-tcmalloc$sfx --threads 1 --blas-threads 2
    run torch-ddp2-tcmalloc$sfx torch fp32 2 1 1 2 tcmalloc "$(ct_label $ct)" "DDP, gloo, B=2 per process" -- \
      env $(ct_env $ct) LD_PRELOAD=$TCMALLOC $tg --name torch-ddp2-tcmalloc$sfx --threads 1 --ddp 2
  done
}

# whole passes, so that a disturbance of the shared machine hits different rows in different rounds
for ((round = 1; round <= rounds; round++)); do
  parity_rows
  torch_rows
done

# ---- HDF5 and the table -----------------------------------------------------------------------------------
$PY ci/peers/peers_report.py --manifest "$manifest" --runs "$runs" --steps "$steps" --warmup "$warmup" \
  --rounds "$rounds" --date "$start_date" \
  --h5 $out/peers.h5 --md $out/peers.md --seconds $(($(date +%s) - start))
echo "wrote $out/peers.h5 and $out/peers.md ($(($(date +%s) - start)) s)"
