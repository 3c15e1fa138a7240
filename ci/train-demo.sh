#!/usr/bin/env bash
# The main job until the sweep harness lands: set up (if needed), build, then a short training run of the
# default model on synthetic data, printing one line per step (loss falls from ln V towards the data's
# entropy rate), writing results and a checkpoint under results/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh default > /dev/null
mkdir -p results/demo
./build/parity train --model tiny --data synthetic --steps 60 --micro-batches 2 --micro-batch-size 8 \
  --lr 3e-3 --warmup 5 --results results/demo/train.h5 --checkpoint-out results/demo/checkpoint.h5 "$@"
