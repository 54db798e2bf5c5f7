#!/usr/bin/env python3
"""One causal attention layer, forward and backward, in PyTorch: the peer of bench/attention_layer.

Written the ways a PyTorch user would: softmax with an explicit causal mask (an additive bias);
causal linear attention (elu + 1 features) through a cumulative sum of outer products (materializes N x M x Dv)
or chunked (blocks computed quadratically under a mask, the (S, z) state carried between blocks);
the Performer (FAVOR+ features, Choromanski et al. 2021) chunked the same way. The chunked form is
vectorized over blocks (no Python loop): one batched product for the blocks, a cumulative sum over
block states.

Run with Debian's interpreter and the OpenMP OpenBLAS (bench/BENCHMARKING notes):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 attention_peer.py \
      --method linear_chunked --n 4096
Prints one JSON line with the same fields as bench/attention_layer.
"""
import argparse
import json
import math
import resource
import time

import torch


def elu_features(x):
    return torch.nn.functional.elu(x) + 1


class Favor:
    """FAVOR+ positive random features with orthogonal projections (chi-distributed row norms)."""

    def __init__(self, d, m, generator):
        blocks = []
        for _ in range((m + d - 1) // d):
            g = torch.randn(d, d, generator=generator)
            q, r = torch.linalg.qr(g)
            q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
            blocks.append(q.t())
        w = torch.cat(blocks, 0)[:m]
        norms = torch.randn(m, d, generator=generator).norm(dim=1, keepdim=True)
        self.w = w * norms
        self.d, self.m = d, m

    def __call__(self, x, is_query, eps=1e-6):
        xs = x * self.d ** -0.25
        a = xs @ self.w.t() - (xs * xs).sum(-1, keepdim=True) / 2
        if is_query:
            return (torch.exp(a - a.amax(-1, keepdim=True).detach()) + eps) / math.sqrt(self.m)
        return torch.exp(a - a.amax(dim=(-2, -1), keepdim=True).detach()) / math.sqrt(self.m)


_causal_bias = {}


def softmax_attention(q, k, v):
    """Scales q (N x D) rather than the N x N scores, and adds a cached -inf bias above the diagonal:
    two passes over the scores fewer than dividing them and masking with masked_fill."""
    n = q.shape[2]
    if n not in _causal_bias:
        _causal_bias[n] = torch.full((n, n), float("-inf")).triu(1)
    s = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-1, -2) + _causal_bias[n]
    return torch.softmax(s, -1) @ v


def linear_cumsum(fq, fk, v, eps=1e-6):
    kv = torch.einsum("bhnm,bhnd->bhnmd", fk, v).cumsum(2)
    num = torch.einsum("bhnm,bhnmd->bhnd", fq, kv)
    den = (fq * fk.cumsum(2)).sum(-1, keepdim=True) + eps
    return num / den


def linear_chunked(fq, fk, v, chunk=64, eps=1e-6):
    """Blocks of `chunk` positions, all at once: quadratic inside each block under a mask, and the
    (S, z) sums of the blocks before it through a cumulative sum over blocks (N / chunk states of
    M x Dv per head, not N)."""
    b, h, n, m = fq.shape
    dv = v.shape[-1]
    pad = (-n) % chunk
    if pad:
        fq, fk, v = (torch.nn.functional.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v))
    nc = (n + pad) // chunk
    q = fq.reshape(b, h, nc, chunk, m)
    k = fk.reshape(b, h, nc, chunk, m)
    vv = v.reshape(b, h, nc, chunk, dv)
    a = (q @ k.transpose(-1, -2)) * torch.ones(chunk, chunk).tril()  # (b, h, nc, chunk, chunk)
    kv = k.transpose(-1, -2) @ vv                                     # (b, h, nc, m, dv)
    s = kv.cumsum(2) - kv                                             # sums of the blocks before
    ks = k.sum(3)                                                     # (b, h, nc, m)
    z = ks.cumsum(2) - ks
    num = a @ vv + q @ s
    den = a.sum(-1) + (q * z.unsqueeze(3)).sum(-1) + eps
    out = (num / den.unsqueeze(-1)).reshape(b, h, nc * chunk, dv)
    return out[:, :, :n]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", default="linear_chunked",
                   choices=["softmax", "linear_cumsum", "linear_chunked", "performer_chunked"])
    p.add_argument("--b", type=int, default=1)
    p.add_argument("--h", type=int, default=8)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(1)
    shape = (a.b, a.h, a.n, a.d)
    q, k, v = (torch.randn(*shape, generator=gen).requires_grad_() for _ in range(3))
    g = torch.randn(*shape, generator=gen)
    favor = Favor(a.d, a.features, gen) if a.method == "performer_chunked" else None

    def layer():
        if a.method == "softmax":
            return softmax_attention(q, k, v)
        if a.method == "performer_chunked":
            return linear_chunked(favor(q, True), favor(k, False), v)
        fq, fk = elu_features(q), elu_features(k)
        return linear_cumsum(fq, fk, v) if a.method == "linear_cumsum" else linear_chunked(fq, fk, v)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for r in range(a.reps + 1):
        for t in (q, k, v):
            t.grad = None
        t0 = time.perf_counter()
        out = layer()
        out.backward(g)
        t1 = time.perf_counter()
        del out
        if r > 0:
            times.append((t1 - t0) * 1e3)
    times.sort()
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1e3
    print(json.dumps({"impl": "torch", "method": a.method, "b": a.b, "h": a.h, "n": a.n, "d": a.d,
                      "features": a.features, "threads": a.threads, "ms_median": times[len(times) // 2],
                      "ms_min": times[0], "ms_max": times[-1], "rss_extra_mb": rss_mb, "ms_all": times}))


if __name__ == "__main__":
    main()
