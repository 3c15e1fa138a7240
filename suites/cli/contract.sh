#!/usr/bin/env bash
# The interface contract of the project (flags, checkpoint and gradient-dump layout): ../shared/contract-check
# beside the repository, when it is there (it is in the development and CI checkouts).
# Usage: contract.sh PARITY_BINARY SOURCE_DIR
set -euo pipefail
parity=$1 src=$2
check="$src/../shared/contract-check"
if [ ! -x "$check" ]; then
  echo "no $check beside this checkout: nothing to check"
  exit 0
fi
"$check" "$parity"
