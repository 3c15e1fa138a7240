# Helpers shared by the CLI suite scripts (suites/cli/*.sh). Sourced, never run on its own; the .bash
# suffix keeps it out of the suites/CMakeLists.txt glob that registers every *.sh as a test.
#
# Each script is run as `bash script.sh PATH/TO/parity SOURCE_DIR` and passes with exit status 0.

set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: bash $0 PATH/TO/parity [SOURCE_DIR]" >&2
  exit 2
fi
PARITY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
export SOURCE_DIR="${2:-}"  # the source tree (unused so far; part of the calling convention)
[[ -x "$PARITY" ]] || { echo "FAIL: parity binary '$1' is missing or not executable" >&2; exit 1; }
for tool in h5diff h5dump h5ls; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool (hdf5-tools) is not installed" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/parity-cli.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Seconds any one parity invocation may take before it counts as hung.
PARITY_TIMEOUT="${PARITY_TIMEOUT:-120}"

SCRIPT_NAME="$(basename "$0")"
NCHECKS=0

# check DESCRIPTION: announce what the next lines verify.
check() {
  NCHECKS=$((NCHECKS + 1))
  echo "[$SCRIPT_NAME] check $NCHECKS: $*"
}

# fail REASON...: print the reason and stop with a non-zero status.
fail() {
  echo "[$SCRIPT_NAME] FAIL: $*" >&2
  exit 1
}

pass() { echo "[$SCRIPT_NAME]   ok: $*"; }

# show_file LABEL FILE: the file's contents, indented, on stderr (for failure diagnostics).
show_file() {
  echo "---- $1 ($2) ----" >&2
  sed 's/^/    /' "$2" >&2 || true
  echo "----" >&2
}

# run_parity OUT ERR ARGS...: run `parity ARGS...` with stdout to OUT and stderr to ERR; sets RC.
run_parity() {
  local out="$1" err="$2"
  shift 2
  RC=0
  timeout "$PARITY_TIMEOUT" "$PARITY" "$@" >"$out" 2>"$err" || RC=$?
  if [[ $RC -eq 124 ]]; then
    fail "parity $* ran longer than ${PARITY_TIMEOUT}s (hung?)"
  fi
}

# train_ok NAME ARGS...: `parity train ARGS...` must succeed; its stdout is left in NAME.out.
train_ok() {
  local name="$1"
  shift
  run_parity "$name.out" "$name.err" train "$@"
  if [[ $RC -ne 0 ]]; then
    show_file "stdout" "$name.out"
    show_file "stderr" "$name.err"
    fail "parity train $* exited with status $RC, expected 0"
  fi
}

# step_lines FILE: the per-step lines of a parity train log without the timing columns (ms, tok/s), i.e.
# "step k/N | loss ... | grad norm ... | lr ...".
step_lines() {
  grep -E '^step +[0-9]+/' "$1" | cut -d'|' -f1-4 | sed 's/ *$//' || true
}

# losses FILE: the loss of every step line in FILE, one per line.
losses() {
  grep -E '^step +[0-9]+/' "$1" | sed -E 's/.*\| loss ([^ ]+) \|.*/\1/' || true
}

# no_leftovers DESCRIPTION PATH...: none of PATH exists and no temporary (*.tmp.*) file is left in the
# work directory.
no_leftovers() {
  local what="$1"
  shift
  local p
  for p in "$@"; do
    [[ ! -e "$p" ]] || fail "$what: left a file behind at $p"
  done
  local tmps
  tmps="$(find "$WORK" -name '*.tmp.*' -print)"
  [[ -z "$tmps" ]] || fail "$what: left temporary files behind: $tmps"
}

finish() { echo "[$SCRIPT_NAME] PASS ($NCHECKS checks, ${SECONDS}s)"; }
