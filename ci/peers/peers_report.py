#!/usr/bin/python3
"""Collects the runs of ci/bench-peers.sh into results/peers.h5 and results/peers.md (see docs/peers.md).

Input: the manifest written by ci/bench-peers.sh (one tab-separated line per configuration: name, peer,
numerics, ranks, threads per rank, BLAS threads, cores, allocator, OPENBLAS_CORETYPE, note, load average
before and after, command) and each configuration's log, whose `step ... | N tok/s` lines are the timed steps
(for parity the first --warmup steps are dropped here)."""
import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys

import h5py
import numpy as np

SHAPE = {"batch": 4, "seq": 256, "layers": 4, "channels": 256, "heads": 4, "vocab": 8192}
PEAK_PER_CORE = 220.0  # GFLOP/s, fp32 FMA, AVX-512; the build machine's figure (kernels/bench/ceilings.hpp)
LLMC_SOURCE = ("llm.c train_gpt2.c (CPU, -Ofast -march=native -fopenmp), random weights; reported for the "
               "earlier build machine, not rerun here")
LLMC = {1: 604.0, 2: 919.0}  # tokens/s by cores (threads)


def flops_per_token(V, T, L, C):
    n = V * C + L * (12 * C * C + 13 * C) + 2 * C  # parameters without wpe
    return 6 * n + 12 * L * T * C


FPT = flops_per_token(SHAPE["vocab"], SHAPE["seq"], SHAPE["layers"], SHAPE["channels"])


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if ":" in line:
                k, v = (s.strip() for s in line.split(":", 1))
                info.setdefault(k, v)
    flags = info.get("flags", "").split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return (f"{info.get('model name', platform.processor())} (family {info.get('cpu family', '?')}, model "
            f"{info.get('model', '?')}), {os.cpu_count()} cores, {simd}")


def git_commit():
    head = sh("git", "rev-parse", "HEAD")
    dirty = sh("git", "status", "--porcelain", "--untracked-files=no")
    return head + ("-dirty" if dirty else "")


def step_tps(log, skip):
    vals = []
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("step"):
                m = re.search(r"\|\s*([0-9.]+) tok/s\s*$", line)
                if m:
                    vals.append(float(m.group(1)))
    return vals[skip:]


def attr(v):
    """h5py stores plain str as a UTF-8 string; str subclasses (torch.__version__) become numpy <U arrays."""
    return v.encode().decode() if isinstance(v, str) else v


def fmt(x):
    return f"{x:,.0f}"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--manifest", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--h5", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--seconds", type=int, default=0)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--date", default=None, help="start of the measurements (UTC, ISO 8601); default: now")
    a = p.parse_args()

    rows, by_name = [], {}
    with open(a.manifest) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            fields += [""] * (15 - len(fields))
            (name, peer, numerics, ranks, threads, blas, cores, alloc, ct, note, load0, load1, cmd, busy0,
             rnd) = fields[:15]
            if name not in by_name:
                by_name[name] = {
                    "name": name, "peer": peer, "numerics": numerics, "ranks": int(ranks),
                    "threads_per_rank": int(threads), "blas_threads": int(blas), "cores": int(cores),
                    "allocator": alloc, "openblas_coretype": ct, "note": note, "command": cmd, "steps": a.steps,
                    "warmup_steps": a.warmup, "rounds": []}
                rows.append(by_name[name])
            r = by_name[name]
            if note.startswith("skipped"):
                r["status"] = note
                continue
            rnd = int(rnd or 1)
            log = os.path.join(a.runs, f"{name}.r{rnd}.log")
            tps = step_tps(log, a.warmup if peer == "parity" else 0) if os.path.exists(log) else []
            r["rounds"].append({"round": rnd, "tokens_per_s": tps, "ok": len(tps) >= a.steps, "log": log,
                                "busy_before_percent": int(busy0) if busy0 else -1,
                                "loadavg_before": load0, "loadavg_after": load1,
                                "median": statistics.median(tps) if tps else 0.0})
    for r in rows:
        if r.get("status", "").startswith("skipped"):
            continue
        good = [x for x in r["rounds"] if x["ok"]]
        if not good:
            r["status"] = "failed: too few timed steps in " + ", ".join(x["log"] for x in r["rounds"])
            continue
        best = max(good, key=lambda x: x["median"])  # a busy neighbour only slows a round down
        tps = best["tokens_per_s"]
        r.update({"status": "ok", "chosen_round": best["round"], "tokens_per_s": tps,
                  "tokens_per_s_median": best["median"], "tokens_per_s_min": min(tps),
                  "tokens_per_s_max": max(tps), "busy_before_percent": best["busy_before_percent"],
                  "loadavg_before": best["loadavg_before"], "loadavg_after": best["loadavg_after"],
                  "round_medians": [x["median"] for x in r["rounds"]],
                  "mfu": best["median"] * FPT / (PEAK_PER_CORE * 1e9 * r["cores"])})
    ok = [r for r in rows if r["status"] == "ok"]
    torch_best = {}
    for r in ok:
        if r["peer"] == "torch":
            c = r["cores"]
            if c not in torch_best or r["tokens_per_s_median"] > torch_best[c]["tokens_per_s_median"]:
                torch_best[c] = r

    sem_dir = os.path.join(a.runs, "semantics")
    semantics = ""
    for fn in ("check.log", "against.log"):
        path = os.path.join(sem_dir, fn)
        if os.path.exists(path):
            semantics += open(path).read()
    parity_rev = ""
    try:
        with h5py.File(os.path.join(sem_dir, "results.h5"), "r") as f:
            for run in f["runs"].values():
                parity_rev = str(run.attrs.get("git_revision", ""))
    except (OSError, KeyError):
        pass
    import torch  # noqa: E402 (only for its version)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    root = {
        "date": a.date or now.isoformat().replace("+00:00", "Z"), "host_cpu": cpu_model(), "host": platform.node(),
        "git_commit": git_commit(), "torch_version": torch.__version__,
        "openblas": sh("dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread"),
        "mpi": sh("dpkg-query", "-W", "-f=${Version}", "openmpi-bin"),
        "environment_openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "flops_per_token": FPT, "peak_gflops_per_core": PEAK_PER_CORE, "steps": a.steps, "warmup_steps": a.warmup,
        "rounds": a.rounds, "seconds": a.seconds, "semantics_check": semantics, "llmc_source": LLMC_SOURCE,
        "script": "".join(f"{k}={os.environ[k]} " for k in ("PEERS_WAIT_IDLE", "PEERS_ROW_WAIT")
                          if os.environ.get(k, "0") != "0") + f"bash ci/bench-peers.sh {a.steps} {a.warmup} {a.rounds}",
        **{f"shape_{k}": v for k, v in SHAPE.items()},
    }
    if parity_rev:
        root["parity_build_git_revision"] = parity_rev

    tmp = a.h5 + ".tmp"
    with h5py.File(tmp, "w") as f:
        for k, v in root.items():
            f.attrs[k] = attr(v)
        for r in rows:
            g = f.create_group(r["name"])
            for k, v in r.items():
                if k == "tokens_per_s":
                    g.create_dataset(k, data=np.array(v, dtype=np.float64))
                elif k == "rounds":
                    for x in v:
                        d = g.create_dataset(f"tokens_per_s_round{x['round']}",
                                             data=np.array(x["tokens_per_s"], dtype=np.float64))
                        d.attrs["busy_before_percent"] = x["busy_before_percent"]
                        d.attrs["loadavg_before"] = attr(x["loadavg_before"])
                        d.attrs["loadavg_after"] = attr(x["loadavg_after"])
                elif k == "round_medians":
                    g.attrs[k] = np.array(v, dtype=np.float64)
                else:
                    g.attrs[k] = attr(v)
        for cores, tps in LLMC.items():
            g = f.create_group(f"llmc-{cores}-thread" + ("s" if cores > 1 else ""))
            g.attrs.update({"peer": "llm.c", "numerics": "fp32", "ranks": 1, "threads_per_rank": cores,
                            "cores": cores, "allocator": "", "openblas_coretype": "", "status": "quoted",
                            "tokens_per_s_median": tps, "mfu": tps * FPT / (PEAK_PER_CORE * 1e9 * cores),
                            "steps": 0, "command": "", "note": LLMC_SOURCE})
    os.replace(tmp, a.h5)

    # ---- markdown
    L = []
    L.append("# parity against its peers at the `small` shape\n")
    L.append(f"Measured from {root['date']} on this machine ({root['host_cpu']}; git {root['git_commit'][:12]}{'-dirty' if root['git_commit'].endswith('-dirty') else ''}, "
             f"parity binary {parity_rev or '?'}), by `{root['script']}` in {a.seconds} s: every configuration "
             f"in one run, one after the other. Shape: global batch B=4 sequences of T=256 tokens, L=4, C=256, "
             f"H=4, V=8192, fp32, AdamW, gradient clipping 1.0 — the same for every row (2 ranks or processes "
             f"take 2 sequences each). Figures are the median tokens/s (min–max) of {a.steps} timed steps after "
             f"{a.warmup} untimed ones" + (f", from the best of {a.rounds} rounds (whole passes over the rows; "
                                          f"every round's median is in the HDF5 file)" if a.rounds > 1 else "")
             + f". MFU = tokens/s · {FPT / 1e6:.2f} MFLOP/token (6·N + 12·L·T·C, N without "
             f"wpe) / ({PEAK_PER_CORE:.0f} GFLOP/s × cores used). The machine is shared: *machine busy before* is "
             f"the share of all cores in use (by anything) over the 2 s before the row started — a row that "
             f"began on a busy machine is suspect; compare rows of the same run only.\n")
    L.append("- **parity**: `build/parity train --model small` (exact: canonical order, no BLAS; fast: OpenBLAS "
             "GEMMs and MPI_Allreduce), 1 rank, or 2 ranks with `--dp 2` under `mpiexec -n 2 --bind-to core` "
             "(2 micro-batches of 2, global batch 4), glibc malloc.")
    L.append(f"- **PyTorch** {torch.__version__} (Debian's python3-torch, OpenBLAS {root['openblas']}): "
             "`ci/peers/gpt2_torch.py`, a plain GPT-2 with the same semantics (checked below), AdamW "
             "`foreach=True`, random tokens; threads set with `torch.set_num_threads` *and* "
             "`openblas_set_num_threads`; tcmalloc by `LD_PRELOAD`; DDP: 2 processes with gloo on loopback.")
    L.append(f"- **llm.c**: {LLMC_SOURCE}.")
    L.append(f"- `OPENBLAS_CORETYPE`: the environment sets `{root['environment_openblas_coretype'] or '(nothing)'}`, "
             "which makes OpenBLAS use its AVX2 kernels on this AVX-512 machine; `unset` lets it pick its "
             "AVX-512 (SkylakeX) kernels. Exact mode does not use BLAS.\n")
    best_txt = "; ".join(f"{c} core{'s' if c > 1 else ''}: **{fmt(r['tokens_per_s_median'])} tokens/s** "
                         f"(`{r['name']}`)" for c, r in sorted(torch_best.items()))
    L.append(f"PyTorch's best in this run — {best_txt}.\n")
    header = ("| configuration | peer | numerics | ranks × threads | allocator | OPENBLAS_CORETYPE "
              "| tokens/s median (min–max) | MFU | vs llm.c | vs PyTorch's best | machine busy before |"
              + (" every round's median |" if a.rounds > 1 else ""))
    ncol = 11 + (a.rounds > 1)
    order = {"parity": 0, "torch": 1}
    for c in sorted({r["cores"] for r in rows} | set(LLMC)):
        L.append(f"### {c} core{'s' if c > 1 else ''} (ratios against llm.c and PyTorch's best on {c})\n")
        L.append(header)
        L.append("|---" * ncol + "|")
        for r in sorted((r for r in rows if r["cores"] == c), key=lambda r: order.get(r["peer"], 2)):
            thr = f"{r['ranks']} × {r['threads_per_rank']}"
            if r["blas_threads"] != r["threads_per_rank"]:
                thr += f" (BLAS {r['blas_threads']})"
            if r["status"] != "ok":
                L.append(f"| `{r['name']}` | {r['peer']} | {r['numerics']} | {thr} | | | {r['status']} |" + " |" * (ncol - 7))
                continue
            med = r["tokens_per_s_median"]
            vs_llmc = f"{med / LLMC[c]:.2f}×" if c in LLMC else ""
            vs_torch = f"{med / torch_best[c]['tokens_per_s_median']:.2f}×" if c in torch_best else ""
            name = f"`{r['name']}`"
            if r["peer"] == "torch" and torch_best.get(c) is r:
                name = f"**{name} ★**"
            L.append(f"| {name} | {r['peer']} | {r['numerics']} | {thr} | {r['allocator']} | "
                     f"{r['openblas_coretype']} | {fmt(med)} ({fmt(r['tokens_per_s_min'])}–"
                     f"{fmt(r['tokens_per_s_max'])}) | {r['mfu'] * 100:.1f}% | {vs_llmc} | {vs_torch} | "
                     f"{r['busy_before_percent']}% |"
                     + (" " + ", ".join(fmt(m) for m in r["round_medians"]) + " |" if a.rounds > 1 else ""))
        if c in LLMC:
            tps = LLMC[c]
            vs_torch = f"{tps / torch_best[c]['tokens_per_s_median']:.2f}×" if c in torch_best else ""
            L.append(f"| llm.c, {c} thread{'s' if c > 1 else ''} (*quoted, not rerun*) | llm.c | fp32 | 1 × {c} | "
                     f"| | {fmt(tps)} | {tps * FPT / (PEAK_PER_CORE * 1e9 * c) * 100:.1f}% | 1.00× | {vs_torch} |" + " |" * (ncol - 10))
        L.append("")
    L.append("★ PyTorch's best configuration at that core count (the reference of the last column).\n")
    L.append("## Semantics check of the PyTorch model\n")
    L.append("`gpt2_torch.py --check` (parameter count against the FLOP formula, loss at initialisation) and "
             "`--against-parity`: parity's checkpoint after step 1 loaded into the PyTorch model, parity's batch "
             "of step 2 run through it, loss, gradients and the AdamW update compared with parity's "
             "(docs/peers.md):\n")
    L.append("```\n" + semantics.strip() + "\n```\n")
    L.append("## Commands\n")
    L.append(f"From the repository root, with `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`; "
             f"`--steps {a.steps + a.warmup}` for parity (the first {a.warmup} dropped).\n")
    L.append("| configuration | command |")
    L.append("|---|---|")
    for r in rows:
        if r["command"]:
            L.append(f"| `{r['name']}` | `{r['command']}` |")
    os.makedirs(os.path.dirname(a.md) or ".", exist_ok=True)
    with open(a.md, "w") as f:
        f.write("\n".join(L) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
