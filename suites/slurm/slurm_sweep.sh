#!/usr/bin/env bash
# The Slurm launcher for real: starts a private single-host Slurm (Debian's slurm-wlm and munge, installed if
# missing) on loopback — munged, slurmctld and slurmd with a generated slurm.conf and every state file under a
# temporary directory — submits a small sweep through `parity sweep --launcher slurm`, checks the merged
# file, and tears everything down again, on failure too.
#
# The sweep: tiny, 2 steps; a baseline, two layouts that must be bitwise (one with 4 ranks on the 2 CPUs via
# --oversubscribe -> --overcommit), one run that crashes (a bit flip caught by the consistency check) and one
# that hangs (a fake parity sleeping for the pp2 layout) until the sweep's --timeout scancels it. The job
# script comes from an edited copy of the shipped template (--slurm-template).
#
# No cgroups needed (containers usually lack them): ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
# no accounting. Needs root (to install packages and to run slurmd, which starts jobs as their users).
# Usage: bash slurm_sweep.sh PATH/TO/parity SOURCE_DIR
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: bash $0 PATH/TO/parity SOURCE_DIR" >&2; exit 2; }
PARITY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
SOURCE_DIR="$(cd "$2" && pwd)"
NAME=slurm_sweep.sh
fail() { echo "[$NAME] FAIL: $*" >&2; exit 1; }
say() { echo "[$NAME] $*"; }
[[ -x "$PARITY" ]] || fail "parity binary '$1' is missing or not executable"
[[ $(id -u) -eq 0 ]] || fail "needs root (installs slurm-wlm and munge if missing, runs slurmd)"

# ---- install (only what is missing) ------------------------------------------------------------------------
missing=()
for cmd in slurmctld slurmd sbatch scontrol munged; do command -v $cmd > /dev/null || missing+=($cmd); done
if ((${#missing[@]})); then
  say "installing slurm-wlm and munge (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq > /dev/null || fail "apt-get update failed (no network?); install slurm-wlm and munge first"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null ||
    fail "apt-get install slurm-wlm munge failed"
fi
for tool in h5dump h5ls; do command -v $tool > /dev/null || fail "$tool (hdf5-tools) is not installed"; done

# ---- a private cluster under a temporary directory ---------------------------------------------------------
TMP="$(mktemp -d /tmp/parity-slurm.XXXXXX)"
chmod 755 "$TMP"
export SLURM_CONF="$TMP/slurm.conf"
cleanup() {
  local rc=$?
  set +e
  trap '' PIPE  # a reader that went away must not stop the clean-up half-way
  if [[ -f "$TMP/slurmctld.pid" ]]; then
    # Every job of this private cluster is ours.
    squeue -h -o %i 2> /dev/null | xargs -r scancel 2> /dev/null
    sleep 1
  fi
  # The daemons this script started, by the pids they wrote: TERM, then KILL.
  local pids=() p alive
  for f in "$TMP/slurmd.pid" "$TMP/slurmctld.pid" "$TMP/munge/munged.pid"; do
    [[ -s "$f" ]] && pids+=("$(cat "$f")")
  done
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2> /dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  if [[ $rc -ne 0 ]]; then
    for log in "$TMP"/log/*.log "$TMP"/munge/munged.log; do
      [[ -f "$log" ]] && { echo "---- $log (last lines) ----" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a TCP port on loopback that nothing listens on
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then echo $p; return; fi
  done
  fail "no free port found"
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [[ $slurmd_port -eq $ctld_port ]]; do slurmd_port=$(free_port); done

mkdir -p "$TMP/munge" "$TMP/state" "$TMP/spool" "$TMP/log" "$TMP/work"
chmod 755 "$TMP/munge"
dd if=/dev/urandom of="$TMP/munge/munge.key" bs=1 count=1024 status=none
chmod 600 "$TMP/munge/munge.key"
munged --key-file="$TMP/munge/munge.key" --socket="$TMP/munge/munge.socket" --pid-file="$TMP/munge/munged.pid" \
  --log-file="$TMP/munge/munged.log" --seed-file="$TMP/munge/munged.seed" --force ||
  fail "munged did not start"

cat > "$SLURM_CONF" << EOF
ClusterName=paritytest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$TMP/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# For the munge client library of the Slurm commands as well.
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
for _ in $(seq 100); do scontrol ping 2> /dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || fail "slurmctld does not answer: $(scontrol ping 2>&1)"
slurmd -f "$SLURM_CONF" -N localhost || fail "slurmd did not start"
state=""
for _ in $(seq 150); do
  state="$(sinfo -h -n localhost -o %T 2> /dev/null || true)"
  [[ "$state" == idle ]] && break
  sleep 0.2
done
[[ "$state" == idle ]] || fail "the node did not become idle (state '$state')"
say "single-host Slurm up (slurmctld :$ctld_port, slurmd :$slurmd_port, state under $TMP)"

# ---- the sweep ---------------------------------------------------------------------------------------------
cd "$TMP/work"
HANG_SECONDS=$((100000 + RANDOM))  # unique to this test run, to tell its processes apart
cat > fake-parity.sh << EOF
#!/usr/bin/env bash
if [[ " \$* " == *" --pp 2 "* ]]; then exec sleep $HANG_SECONDS; fi
exec "$PARITY" "\$@"
EOF
chmod +x fake-parity.sh
sed 's/^srun /echo custom-template-marker\nsrun /' "$SOURCE_DIR/harness/slurm-job.sh.in" > my-job.sh.in
grep -q custom-template-marker my-job.sh.in || fail "could not edit the template"
cat > spec.toml << EOF
model = "tiny"
data = "synthetic"
steps = 2
seeds = [7]
micro_batches = 4
micro_batch_size = 2
[grid]
layouts = ["dp1", "dp2", "tp2", "pp2", "dp2-tp2"]
[extra_args_by_run]
"dp2-tp1-pp1-fp32-exact" = ["--inject-bitflip", "1:1:wte", "--check-consistency", "1"]
EOF
rc=0
start=$SECONDS
timeout 200 "$PARITY" sweep spec.toml --out sweep.h5 --launcher slurm --slurm-template my-job.sh.in \
  --parity ./fake-parity.sh --timeout 25 --oversubscribe > sweep.log 2>&1 || rc=$?
took=$((SECONDS - start))
sed 's/^/    /' sweep.log
[[ $rc -ne 124 ]] || fail "the sweep hung"
[[ $rc -eq 1 ]] || fail "the sweep exited $rc, expected 1 (one crash and one timeout recorded)"

attr() { h5dump -a "$2/$3" "$1" 2> /dev/null | sed -n 's/^ *(0): //p' | sed 's/^"\(.*\)"$/\1/' | head -1; }
attr_text() { h5dump -a "$2/$3" "$1" 2> /dev/null | sed -n '/DATA {/,$p'; }
expect() {  # expect OBJECT NAME VALUE
  local v
  v="$(attr sweep.h5 "$1" "$2")"
  [[ "$v" == "$3" ]] || fail "$1@$2 is '$v', expected '$3'"
}
[[ $(h5ls sweep.h5/runs | wc -l) -eq 5 ]] || fail "expected 5 runs in the merged file: $(h5ls sweep.h5/runs)"
expect / format parity-sweep-1
expect / launcher slurm
for id in dp1-tp1-pp1-fp32-exact-s7 dp2-tp1-pp1-fp32-exact-s7 dp1-tp2-pp1-fp32-exact-s7 \
          dp1-tp1-pp2-fp32-exact-1f1b-s7 dp2-tp2-pp1-fp32-exact-s7; do
  expect /runs/$id launcher slurm
  attr_text sweep.h5 /runs/$id output_tail | grep -q custom-template-marker ||
    fail "$id: the job did not use the edited template (no marker in its output)"
  attr_text sweep.h5 /runs/$id output_tail | grep -q 'parity sweep: Slurm job [0-9]* ended in state' ||
    fail "$id: output_tail lacks the Slurm job's final state"
done
expect /runs/dp1-tp1-pp1-fp32-exact-s7 parity baseline
expect /runs/dp1-tp2-pp1-fp32-exact-s7 parity bitwise
expect /runs/dp2-tp2-pp1-fp32-exact-s7 parity bitwise
expect /runs/dp2-tp2-pp1-fp32-exact-s7 ranks 4
expect /runs/dp2-tp1-pp1-fp32-exact-s7 status crashed
expect /runs/dp2-tp1-pp1-fp32-exact-s7 parity failed
attr_text sweep.h5 /runs/dp2-tp1-pp1-fp32-exact-s7 output_tail | grep -q 'consistency check failed' ||
  fail "the crashed job's output_tail lacks the trainer's error"
expect /runs/dp1-tp1-pp2-fp32-exact-1f1b-s7 status timeout
expect /runs/dp1-tp1-pp2-fp32-exact-1f1b-s7 parity failed
attr_text sweep.h5 /runs/dp1-tp1-pp2-fp32-exact-1f1b-s7 output_tail | grep -q 'CANCELLED' ||
  fail "the hung job was not cancelled"
h5ls sweep.h5/runs/dp2-tp2-pp1-fp32-exact-s7 | grep -q '^loss ' || fail "the 4-rank run's datasets were not merged"
# Nothing of the cancelled job may be left: not in the queue, not as a process.
for _ in $(seq 30); do [[ -z "$(squeue -h -o %i)" ]] && ! pgrep -f "sleep $HANG_SECONDS" > /dev/null && break; sleep 0.2; done
[[ -z "$(squeue -h -o %i)" ]] || fail "jobs left in the queue: $(squeue)"
if pgrep -f "sleep $HANG_SECONDS" > /dev/null; then fail "the hung job's processes survived scancel"; fi
say "PASS: 5 runs through sbatch/srun (baseline, 2 bitwise incl. 4 ranks overcommitted, a crash, a timeout cancelled), ${took}s"
