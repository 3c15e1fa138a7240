#!/usr/bin/python3
"""A plain GPT-2 trainer in PyTorch: the peer that parity's throughput is measured against.

Same semantics as parity's reference trainer (docs/design.md, "Model semantics"): learned token and
position embeddings; pre-LN blocks (LN -> causal multi-head attention with a fused qkv linear and an output
projection -> residual; LN -> MLP C->4C, GELU (tanh approximation), 4C->C -> residual); final LN; LM head tied
to the token embedding; mean cross-entropy over all B*T positions; AdamW (betas 0.9/0.95, eps 1e-8, weight
decay on 2-D weights only), global gradient-norm clipping at 1.0; no dropout; fp32. Data are random tokens
(irrelevant for speed). Weights are initialised like parity (normal 0.02, residual projections / sqrt(2L)).

Prints one line per timed step, the median tokens/s, and one JSON line (prefixed `RESULT `) with the figures.

Examples (Debian's python3-torch; use /usr/bin/python3, not a pyenv python):
  /usr/bin/python3 ci/peers/gpt2_torch.py --check
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/bin/python3 ci/peers/gpt2_torch.py \
      --threads 1 --blas-threads 2 --steps 20 --warmup-steps 3
  /usr/bin/python3 ci/peers/gpt2_torch.py --ddp 2 --threads 1     # 2 processes (gloo), B/2 sequences each
  /usr/bin/python3 ci/peers/gpt2_torch.py --device cuda --dtype bf16 --peak-gflops 989000
"""
import argparse
import contextlib
import ctypes
import json
import math
import os
import socket
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------------------------- model
class Attention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self._masks = {}

    def mask(self, T, device):
        # Not a registered buffer: DDP would broadcast it and gloo cannot broadcast bool tensors.
        key = (T, str(device))
        if key not in self._masks:
            self._masks[key] = torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
        return self._masks[key]

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.H
        q, k, v = self.qkv(x).split(C, dim=2)  # rows of qkv.weight: Q then K then V, heads contiguous
        q = q.view(B, T, self.H, hs).transpose(1, 2)
        k = k.view(B, T, self.H, hs).transpose(1, 2)
        v = v.view(B, T, self.H, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(self.mask(T, x.device), float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc = nn.Linear(C, 4 * C)
        self.proj = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.ln1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = Attention(C, H)
        self.ln2 = nn.LayerNorm(C, eps=1e-5)
        self.mlp = MLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT2(nn.Module):
    def __init__(self, V, T, L, C, H):
        super().__init__()
        assert C % H == 0
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.lnf = nn.LayerNorm(C, eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("attn.proj.weight", "mlp.proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith(".weight"):  # layernorm gains
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.lnf(x) @ self.wte.weight.t()  # tied LM head
        return F.cross_entropy(logits.float().view(B * T, -1), targets.view(B * T))  # mean over B*T


def param_count(V, T, L, C):
    """N without the position embedding, as in FLOPs/token = 6N + 12LTC."""
    return V * C + L * (12 * C * C + 13 * C) + 2 * C


def flops_per_token(V, T, L, C):
    return 6 * param_count(V, T, L, C) + 12 * L * T * C


# ------------------------------------------------------------------------------------------- threads
def openblas_handle():
    """The OpenBLAS that torch loaded (Debian: libopenblasp-r0.3.*.so via libblas.so.3), or None."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "openblas" in line.split()[-1]}
    # the library itself first (libopenblasp-r0.3.21.so), then the libblas.so.3 in the openblas directory
    for path in sorted(paths, key=lambda q: "libopenblas" not in os.path.basename(q)):
        if not path.startswith("/"):
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads  # noqa: B018 (probe the symbol)
            return lib, path
        except (OSError, AttributeError):
            continue
    return None, None


def set_threads(threads, blas_threads):
    torch.set_num_threads(threads)
    lib, path = openblas_handle()
    got = None
    if lib is not None:
        lib.openblas_set_num_threads(blas_threads)
        lib.openblas_get_num_threads.restype = ctypes.c_int
        got = lib.openblas_get_num_threads()
    return path, got


def allocator():
    with open("/proc/self/maps") as f:
        maps = f.read()
    if "tcmalloc" in maps:
        return "tcmalloc"
    if "jemalloc" in maps:
        return "jemalloc"
    return "glibc"


# ------------------------------------------------------------------------------------------- training
def make_optimizer(model, lr, weight_decay, foreach):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kw = {"foreach": True} if foreach else {}
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, **kw)


def parity_name(torch_name):
    return {"wte.weight": "wte", "wpe.weight": "wpe"}.get(torch_name, torch_name)


def against_parity(args):
    """One training step from parity's checkpoint of step K-1, on parity's batch of step K: the loss, every
    gradient (before clipping) and every updated parameter must agree with parity's to fp32 rounding."""
    import h5py
    import numpy as np
    ckpt, grads, after = args.against_parity
    with h5py.File(grads, "r") as g:
        a = g.attrs
        V, T, L, C, H = (int(a[k]) for k in ("vocab", "seq_len", "layers", "channels", "heads"))
        inputs = torch.from_numpy(g["batch/inputs"][...].astype(np.int64))
        targets = torch.from_numpy(g["batch/targets"][...].astype(np.int64))
        ref_loss = float(a["loss"])
        ref_grads = {k: torch.from_numpy(g["grads"][k][...]) for k in g["grads"]}
        m, b = int(a["micro_batches"]), int(a["micro_batch_size"])
    model = GPT2(V, T, L, C, H)
    opt = make_optimizer(model, args.check_lr, args.weight_decay, args.foreach)
    with h5py.File(ckpt, "r") as f:
        for name, p in model.named_parameters():
            p.data.copy_(torch.from_numpy(f["params"][parity_name(name)][...]))
            opt.state[p] = {"step": torch.tensor(float(f.attrs["step"])),
                            "exp_avg": torch.from_numpy(f["adam/m"][parity_name(name)][...]).clone(),
                            "exp_avg_sq": torch.from_numpy(f["adam/v"][parity_name(name)][...]).clone()}
    # the step's loss is the mean over the m micro-batches of b sequences (each a mean over b*T positions)
    loss = sum(model(inputs[i * b:(i + 1) * b], targets[i * b:(i + 1) * b]) for i in range(m)) / m
    loss.backward()
    worst = {"loss": abs(loss.item() - ref_loss) / abs(ref_loss)}

    def rel(x, y):
        return ((x.double() - y.double()).norm() / max(y.double().norm().item(), 1e-30)).item()

    worst["grad"] = max((rel(p.grad, ref_grads[parity_name(n)]), n) for n, p in model.named_parameters())
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
    opt.step()
    with h5py.File(after, "r") as f:
        worst["param"] = max((rel(p.detach(), torch.from_numpy(f["params"][parity_name(n)][...])), n)
                             for n, p in model.named_parameters())
        before = {}
        with h5py.File(ckpt, "r") as f0:
            for n, _ in model.named_parameters():
                before[n] = torch.from_numpy(f0["params"][parity_name(n)][...])
        # relative to the size of the update, which is what the optimizer semantics decide
        worst["update"] = max((rel(p.detach() - before[n], torch.from_numpy(f["params"][parity_name(n)][...])
                                   - before[n]), n) for n, p in model.named_parameters())
    print(f"against parity: loss {loss.item():.6f} vs {ref_loss:.6f} (rel {worst['loss']:.1e}); grad norm "
          f"{norm:.4f}; worst gradient rel. difference {worst['grad'][0]:.1e} ({worst['grad'][1]}); worst "
          f"update rel. difference {worst['update'][0]:.1e} ({worst['update'][1]}); worst parameter "
          f"{worst['param'][0]:.1e}")
    ok = worst["loss"] < 1e-5 and worst["grad"][0] < 1e-3 and worst["update"][0] < 1e-2
    print("against parity:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def worker(rank, world, args):
    device = torch.device(args.device if args.device == "cpu" else f"cuda:{rank % torch.cuda.device_count()}")
    blas_path, blas_threads = set_threads(args.threads, args.blas_threads)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    torch.manual_seed(args.seed)  # same init on every rank (DDP broadcasts from rank 0 anyway)
    V, T, L, C, H = args.vocab, args.seq, args.layers, args.channels, args.heads
    model = GPT2(V, T, L, C, H).to(device)
    n_all = sum(p.numel() for p in model.parameters())
    n = n_all - model.wpe.weight.numel()
    assert n == param_count(V, T, L, C), (n, param_count(V, T, L, C))
    ddp_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = make_optimizer(model, args.lr, args.weight_decay, args.foreach)
    assert args.batch % world == 0, "--batch must divide by the number of processes"
    b = args.batch // world
    gen = torch.Generator().manual_seed(args.seed * 1000 + rank)
    amp = args.dtype == "bf16"
    if amp and device.type != "cuda":
        raise SystemExit("--dtype bf16 is only for --device cuda")

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step():
        tokens = torch.randint(0, V, (b, T + 1), generator=gen).to(device, non_blocking=True)
        x, y = tokens[:, :-1], tokens[:, 1:].contiguous()
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext():
            loss = ddp_model(x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss, norm

    if args.check:
        with torch.no_grad():
            tokens = torch.randint(0, V, (b, T + 1), generator=gen).to(device)
            loss0 = model(tokens[:, :-1], tokens[:, 1:].contiguous()).item()
        # uniform prediction gives ln(V); random logits of variance s2 add about s2/2
        expected = math.log(V) + C * 0.02 ** 2 / 2
        if rank == 0:
            fpt = flops_per_token(V, T, L, C)
            print(f"parameters: {n_all} in all, N = {n} without wpe (formula {param_count(V, T, L, C)}); "
                  f"FLOPs/token = 6N + 12LTC = {fpt / 1e6:.3f} M")
            print(f"loss at init {loss0:.4f}; ln(V) = {math.log(V):.4f}; expected {expected:.4f} "
                  f"(logits = lnf(x).wte^T have variance C*0.02^2 = {C * 4e-4:.3f}, adding half of it), "
                  f"difference {loss0 - expected:+.4f}")
        ok = abs(loss0 - expected) < 0.03
        losses = [step()[0].item() for _ in range(args.check_steps)]
        if rank == 0:
            print("loss over", args.check_steps, "steps:", " ".join(f"{l:.4f}" for l in losses))
            print("check", "ok" if ok else "FAILED")
        if world > 1:
            torch.distributed.destroy_process_group()
        if not ok:
            raise SystemExit(1)
        return

    times = []
    for i in range(args.warmup_steps + args.steps):
        sync()
        t0 = time.perf_counter()
        loss, norm = step()
        lossv = loss.item()  # forces completion on a GPU as well
        sync()
        dt = time.perf_counter() - t0
        if i >= args.warmup_steps:
            times.append(dt)
        if rank == 0 and not args.quiet:
            tag = "warm-up" if i < args.warmup_steps else "step"
            print(f"{tag} {i + 1}/{args.warmup_steps + args.steps} | loss {lossv:.6f} | grad norm {norm:.4f} | "
                  f"{dt * 1e3:.1f} ms | {args.batch * T / dt:.0f} tok/s", flush=True)
    if world > 1:
        # every rank's step ends with the same all-reduce, so rank 0's times are the global step times
        torch.distributed.destroy_process_group()
    if rank != 0:
        return
    tps = sorted(args.batch * T / t for t in times)
    fpt = flops_per_token(V, T, L, C)
    if args.peak_gflops is not None:
        peak = args.peak_gflops * 1e9
    elif device.type == "cpu":
        cores = min(os.cpu_count() or 1, world * max(args.threads, args.blas_threads))
        peak = 220e9 * cores
    else:
        peak = None
    med = statistics.median(tps)
    result = {
        "name": args.name, "peer": "pytorch", "torch": torch.__version__, "device": device.type,
        "dtype": args.dtype, "batch": args.batch, "seq": T, "layers": L, "channels": C, "heads": H, "vocab": V,
        "processes": world, "threads": args.threads, "blas_threads": args.blas_threads,
        "blas_threads_reported": blas_threads, "blas": blas_path, "allocator": allocator(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""), "foreach": args.foreach,
        "steps": args.steps, "warmup_steps": args.warmup_steps, "params_n": n, "flops_per_token": fpt,
        "tokens_per_s_median": med, "tokens_per_s_min": tps[0], "tokens_per_s_max": tps[-1],
        "peak_gflops": peak / 1e9 if peak else None, "mfu": med * fpt / peak if peak else None,
    }
    print(f"median {med:.0f} tokens/s (min {tps[0]:.0f}, max {tps[-1]:.0f}) over {len(tps)} steps"
          + (f", MFU {result['mfu'] * 100:.1f}% of {peak / 1e9:.0f} GFLOP/s" if peak else ""))
    print("RESULT " + json.dumps(result), flush=True)


def _spawned(rank, world, args, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    worker(rank, world, args)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", default="pytorch", help="configuration name for the JSON line")
    p.add_argument("--batch", type=int, default=4, help="global batch (sequences per step)")
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup-steps", type=int, default=3, help="steps before timing (excluded)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (and OpenBLAS threads)")
    p.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: --threads)")
    p.add_argument("--ddp", type=int, default=1, metavar="P",
                   help="P processes with DistributedDataParallel (gloo on cpu), B/P sequences each; "
                        "spawned here, or one rank of torchrun (RANK/WORLD_SIZE set)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast (cuda only)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--foreach", action="store_true", help="AdamW foreach implementation")
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="peak for MFU (default on cpu: 220 GFLOP/s per core used)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--check", action="store_true",
                   help="self-check: N against the formula, loss at init ~ ln(V), loss falls on a few steps")
    p.add_argument("--check-steps", type=int, default=5)
    p.add_argument("--quiet", action="store_true", help="no per-step lines")
    p.add_argument("--against-parity", nargs=3, metavar=("CKPT_K-1", "GRADS_K", "CKPT_K"),
                   help="one step from parity's checkpoint of step K-1 on its dumped batch of step K: compare "
                        "loss, gradients and the updated parameters with parity's (see docs/peers.md)")
    p.add_argument("--check-lr", type=float, default=3e-5, help="--against-parity: the lr of step K")
    p.add_argument("--grad-clip", type=float, default=1.0)
    args = p.parse_args()
    if args.blas_threads is None:
        args.blas_threads = args.threads
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible to this torch")

    if args.against_parity:
        set_threads(args.threads, args.blas_threads)
        return against_parity(args)
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # launched by torchrun / torch.distributed.run
        worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
    elif args.ddp > 1:
        import torch.multiprocessing as mp
        mp.start_processes(_spawned, args=(args.ddp, args, free_port()), nprocs=args.ddp,
                           join=True, start_method="spawn")
    else:
        worker(0, 1, args)


if __name__ == "__main__":
    sys.exit(main())
