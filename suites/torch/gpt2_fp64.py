#!/usr/bin/python3
"""An independent fp64 recomputation of one parity training step: the oracle of ctest's torch.fp64_oracle.

Given parity's weights before a step (a checkpoint, /params/<name>) and its gradient dump of that step
(--dump-grads: /batch/inputs, /batch/targets, /grads/<name>, the loss attribute), this recomputes the step's
mean loss and the gradient of every parameter in float64 with PyTorch autograd, and compares:

  loss:      |loss_parity - loss_ref| / |loss_ref|                 < LOSS_TOL
  gradients: max|g_parity - g_ref| / max|g_ref|, for every tensor  < GRAD_TOL

The model is written here from the semantics of docs/design.md ("Model semantics"), not from parity's
code (parity's backward is by hand; here it is autograd, and every forward formula is spelled out rather
than taken from torch.nn):

  x = wte[token] + wpe[position]
  per block: x += attn(ln1(x)); x += mlp(ln2(x))
  ln(x) = (x - mean) / sqrt(var + 1e-5) * w + b            (biased variance over C)
  attn: qkv = x W_qkv^T + b_qkv, rows Q then K then V, each with its H heads contiguous (hs = C/H);
        softmax(q k^T / sqrt(hs)) with a causal mask, times v; heads concatenated; output projection
  mlp: C -> 4C, gelu(u) = 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), 4C -> C
  lnf; logits = x wte^T (tied LM head); loss = mean cross-entropy over all m*b*T positions of the batch

Padded vocabulary: parity pads V to a multiple of 256 inside, with zero padding rows of wte whose logits are
masked out of the softmax (exact zeros in the denominator). That is the same as a softmax over the V real
rows, which is all the files hold (wte is [V, C] in checkpoints and dumps), so nothing about the padding
appears here; a model that let the padded logits (= 0) into the softmax would differ from this one, which
the padded-vocabulary case of the driver (V = 200) checks.

Tolerances (parity computes in fp32, unit roundoff u = 2^-24 ~ 6e-8; this reference in fp64 is exact by
comparison, so the differences are parity's fp32 rounding):
  - LOSS_TOL = 1e-6: the loss is a mean of m*b*T per-token cross-entropies, each log(sum exp) - logit of
    O(5) with an O(1) number of ulps of error from the forward pass (every reduction in parity is a
    32-element sequential block then a pairwise tree, error growth ~ (32 + log2(n/32)) u worst case, far
    less in practice since the errors are not aligned); summed canonically over the batch. The relative
    error is expected a few times u (we see 3e-8 .. 6e-8); 1e-6 is ~16 u, margin for any platform's
    rounding.
  - GRAD_TOL = 1e-5: a gradient element is a sum over up to m*b*T = 256 rows (weights) of products from a
    backward pass through L layers of GEMMs with k up to 4C = 512; the fp32 error of one element is
    ~ sqrt(depth * terms) u relative to the scale of its terms, amplified by LayerNorm's 1/sigma and the
    softmax Jacobian. Normalised by the tensor's largest gradient (elements near zero have no meaningful
    relative error), we see 4e-7 .. 6e-7 at worst (printed per case, ~10 u); 1e-5 (~170 u) leaves a margin
    of 15 and is still well below a semantic error. Measured once against this reference with one detail
    changed (tiny, step 2): LayerNorm eps 1e-6 instead of 1e-5 gives loss 8e-6 / gradients 9e-3; the erf
    GELU instead of the tanh form, gradients 1.4e-4 (the loss only 3e-8: the gradients are the sharper
    test); the padded logits let into the softmax (V = 200), loss 4e-2; a gradient scaled by 1.001 (checked
    on every run, below) 1e-3.

Each case also checks that the checker itself fails on a deliberately wrong gradient: a copy of the dump
with one tensor scaled by 1.001, and a copy with the loss scaled by 1 + 1e-5.

usage: gpt2_fp64.py [--threads N] NAME WEIGHTS.h5 DUMP.h5 [NAME WEIGHTS.h5 DUMP.h5 ...]
exit 0 if every case agrees, 1 otherwise (77 if torch or h5py cannot be imported: ctest's skip code).
"""
import math
import sys

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # the driver checks first; this keeps a direct call honest too
    print(f"SKIP: {e} (install Debian's python3-torch and python3-h5py; run with /usr/bin/python3)")
    sys.exit(77)

LOSS_TOL = 1e-6
GRAD_TOL = 1e-5
LN_EPS = 1e-5

torch.set_default_dtype(torch.float64)


def param_names(L):
    names = ["wte", "wpe"]
    for l in range(L):
        p = f"blocks.{l}."
        names += [p + s for s in ("ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias",
                                  "attn.proj.weight", "attn.proj.bias", "ln2.weight", "ln2.bias",
                                  "mlp.fc.weight", "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias")]
    return names + ["lnf.weight", "lnf.bias"]


def layernorm(x, w, b):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + LN_EPS) * w + b


def gelu_tanh(u):
    return 0.5 * u * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u ** 3)))


def linear(x, w, b):  # w is [out, in]
    return x @ w.t() + b


def attention(x, wqkv, bqkv, wproj, bproj, H):
    B, T, C = x.shape
    hs = C // H
    qkv = linear(x, wqkv, bqkv)
    q, k, v = qkv[..., :C], qkv[..., C:2 * C], qkv[..., 2 * C:]
    q = q.reshape(B, T, H, hs).transpose(1, 2)  # [B, H, T, hs]
    k = k.reshape(B, T, H, hs).transpose(1, 2)
    v = v.reshape(B, T, H, hs).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    scores = scores - scores.amax(dim=-1, keepdim=True)
    e = torch.exp(scores)
    att = e / e.sum(dim=-1, keepdim=True)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    return linear(y, wproj, bproj)


def mean_loss(P, inputs, targets, L, H):
    """The step's loss: mean cross-entropy over every position of the whole batch (all micro-batches)."""
    B, T = inputs.shape
    x = P["wte"][inputs] + P["wpe"][:T].unsqueeze(0)
    for l in range(L):
        p = lambda s: P[f"blocks.{l}.{s}"]  # noqa: E731
        x = x + attention(layernorm(x, p("ln1.weight"), p("ln1.bias")), p("attn.qkv.weight"),
                          p("attn.qkv.bias"), p("attn.proj.weight"), p("attn.proj.bias"), H)
        h = gelu_tanh(linear(layernorm(x, p("ln2.weight"), p("ln2.bias")), p("mlp.fc.weight"), p("mlp.fc.bias")))
        x = x + linear(h, p("mlp.proj.weight"), p("mlp.proj.bias"))
    x = layernorm(x, P["lnf.weight"], P["lnf.bias"])
    logits = x @ P["wte"].t()  # [B, T, V]: the V real rows only (see the padding note above)
    mx = logits.amax(dim=-1, keepdim=True)
    logz = (mx + torch.log(torch.exp(logits - mx).sum(dim=-1, keepdim=True))).squeeze(-1)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (logz - picked).sum() / (B * T)


def reference(weights_path, dump_path):
    """fp64 loss and gradients at the checkpoint's weights on the dump's batch."""
    with h5py.File(dump_path, "r") as d:
        a = d.attrs
        L, C, H, T, V = (int(a[k]) for k in ("layers", "channels", "heads", "seq_len", "vocab"))
        m, b = int(a["micro_batches"]), int(a["micro_batch_size"])
        inputs = torch.from_numpy(d["batch/inputs"][...].astype(np.int64))
        targets = torch.from_numpy(d["batch/targets"][...].astype(np.int64))
        grads = {n: d["grads"][n][...].astype(np.float64) for n in d["grads"]}
        loss = float(a["loss"])
    if inputs.shape != (m * b, T):
        raise SystemExit(f"FAIL: {dump_path}: /batch/inputs is {tuple(inputs.shape)}, expected ({m * b}, {T})")
    names = param_names(L)
    if sorted(grads) != sorted(names):
        raise SystemExit(f"FAIL: {dump_path}: /grads holds {sorted(set(grads) ^ set(names))} unexpectedly/missing")
    P = {}
    with h5py.File(weights_path, "r") as w:
        for n in names:
            P[n] = torch.tensor(w["params"][n][...].astype(np.float64), requires_grad=True)
    if P["wte"].shape != (V, C):
        raise SystemExit(f"FAIL: {weights_path}: wte is {tuple(P['wte'].shape)}, expected ({V}, {C})")
    ref_loss = mean_loss(P, inputs, targets, L, H)
    ref_loss.backward()
    ref = {n: P[n].grad.numpy() for n in names}
    shape = dict(L=L, C=C, H=H, T=T, V=V, m=m, b=b)
    return ref_loss.item(), ref, loss, grads, shape


def compare(ref_loss, ref, loss, grads):
    """(ok, loss relative error, [(error, name)] sorted worst first)."""
    loss_err = abs(loss - ref_loss) / abs(ref_loss)
    errs = []
    for n, r in ref.items():
        g = grads[n]
        if g.shape != r.shape:
            errs.append((math.inf, n))
            continue
        scale = np.abs(r).max()
        err = np.abs(g - r).max() / scale if scale > 0 else (0.0 if not np.abs(g).max() else math.inf)
        errs.append((float(err), n))
    errs.sort(reverse=True)
    ok = loss_err < LOSS_TOL and all(e < GRAD_TOL for e, _ in errs)
    return ok, loss_err, errs


def run_case(name, weights_path, dump_path):
    ref_loss, ref, loss, grads, s = reference(weights_path, dump_path)
    ok, loss_err, errs = compare(ref_loss, ref, loss, grads)
    print(f"{name}: L{s['L']} C{s['C']} H{s['H']} T{s['T']} V{s['V']}, m={s['m']} b={s['b']}: "
          f"loss {loss:.9f} vs fp64 {ref_loss:.9f} (rel {loss_err:.2e}, tol {LOSS_TOL:g})")
    print(f"{name}: worst gradient max|diff|/max|ref| {errs[0][0]:.2e} ({errs[0][1]}), median "
          f"{errs[len(errs) // 2][0]:.2e}, over {len(errs)} tensors (tol {GRAD_TOL:g})")
    for e, n in errs:
        if e >= GRAD_TOL:
            print(f"{name}: FAIL: gradient of {n}: max|diff|/max|ref| = {e:.3e} >= {GRAD_TOL:g}")
    if loss_err >= LOSS_TOL:
        print(f"{name}: FAIL: loss relative error {loss_err:.3e} >= {LOSS_TOL:g}")

    # The checker must refuse a deliberately wrong gradient and a wrong loss.
    victim = "blocks.1.mlp.fc.weight" if "blocks.1.mlp.fc.weight" in grads else "blocks.0.mlp.fc.weight"
    bad = dict(grads)
    bad[victim] = grads[victim] * 1.001
    bad_ok, _, bad_errs = compare(ref_loss, ref, loss, bad)
    worst_bad = dict((n, e) for e, n in bad_errs)[victim]
    loss_ok, bad_loss_err, _ = compare(ref_loss, ref, loss * (1 + 1e-5), grads)
    if bad_ok or loss_ok:
        print(f"{name}: FAIL: the checker accepted a perturbed copy (gradient of {victim} x 1.001: "
              f"{'accepted' if bad_ok else 'refused'}; loss x (1 + 1e-5): {'accepted' if loss_ok else 'refused'})")
        return False
    print(f"{name}: self-test: {victim} x 1.001 -> {worst_bad:.2e}, loss x (1+1e-5) -> rel {bad_loss_err:.2e}: "
          f"both refused")
    print(f"{name}: {'ok' if ok else 'FAILED'}")
    return ok


def main(argv):
    threads = 1
    if len(argv) >= 2 and argv[0] == "--threads":
        threads, argv = int(argv[1]), argv[2:]
    if not argv or len(argv) % 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, h5py {h5py.__version__}, float64, {threads} thread(s)")
    results = [run_case(*argv[i:i + 3]) for i in range(0, len(argv), 3)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
