#!/usr/bin/env bash
# The main job: set up (if needed) and build, then a short sweep on this machine — a few parallel layouts of
# the tiny model against the single-device run, in exact numerics (bit for bit) and fast numerics (within a
# bound) — print the parity table and write the merged HDF5 file to results/demo/sweep.h5. Under 3 minutes on
# 2 cores. Extra arguments go to `parity sweep` (e.g. --launcher print to see the commands only).
# The full CI gate is `build/parity sweep suites/ci.toml --out results/ci.h5 --oversubscribe`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh default > /dev/null
mkdir -p results/demo
spec="$(mktemp "${TMPDIR:-/tmp}/parity-demo.XXXXXX.toml")"
trap 'rm -f "$spec"' EXIT
cat > "$spec" << 'TOML'
# ci/sweep-demo.sh: a few layouts of tiny against one device.
name = "demo"
model = "tiny"
data = "synthetic"
steps = 4
seeds = [7]
micro_batches = 4
micro_batch_size = 2
lr = 1e-3
warmup = 1
check_consistency = 2
fast_loss_bound = "derived"

[grid]
numerics = ["exact", "fast"]
layouts = ["dp1", "dp2", "tp2", "pp2-1f1b", "dp2-tp2-pp2"]
TOML
out=results/demo/sweep.h5
rc=0
./build/parity sweep "$spec" --out "$out" --oversubscribe --timeout 300 "$@" || rc=$?
if [[ -f "$out" ]] && ./build/parity report --help > /dev/null 2>&1; then
  echo
  ./build/parity report "$out" --table parity || true
fi
[[ -f "$out" ]] && echo "results: $out (inspect with: h5ls -r $out; build/parity report $out)"
exit $rc
