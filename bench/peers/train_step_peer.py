#!/usr/bin/env python3
"""One training step of the reference character LM in PyTorch: the peer of bench/train_step.

Vocab 256, d_model 256, 4 layers, 4 heads, FFN 1024, pre-norm, dropout 0.1, Adam; random tokens.
Attention: softmax (explicit causal mask as an additive bias), linear (elu + 1, chunked: blocks of 64 positions
quadratic under a mask, the (S, z) state carried between blocks), performer (FAVOR+ m features,
chunked the same way).

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 train_step_peer.py \
      --attention softmax --batch 16 --seq 256 --threads 2
"""
import argparse
import json
import math
import resource
import time

import torch

from attention_peer import Favor, elu_features, linear_chunked, softmax_attention


class Layer(torch.nn.Module):
    def __init__(self, d, heads, ff, attention, features, gen):
        super().__init__()
        self.h, self.dh, self.attention = heads, d // heads, attention
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.o = torch.nn.Linear(d, d)
        self.n1, self.n2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.f1, self.f2 = torch.nn.Linear(d, ff), torch.nn.Linear(ff, d)
        self.drop = torch.nn.Dropout(0.1)
        self.favor = Favor(self.dh, features, gen) if attention == "performer" else None

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, n, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        if self.attention == "softmax":
            a = softmax_attention(q, k, v)
        elif self.attention == "linear":
            a = linear_chunked(elu_features(q), elu_features(k), v)
        else:
            a = linear_chunked(self.favor(q, True), self.favor(k, False), v)
        x = x + self.drop(self.o(a.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.f2(self.drop(torch.relu(self.f1(self.n2(x))))))


class LM(torch.nn.Module):
    def __init__(self, attention, features, gen, vocab=256, d=256, layers=4, max_len=4096):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.layers = torch.nn.ModuleList(Layer(d, 4, 1024, attention, features, gen) for _ in range(layers))
        self.norm = torch.nn.LayerNorm(d)
        self.drop = torch.nn.Dropout(0.1)
        pos = torch.arange(max_len).unsqueeze(1) / torch.pow(10000, torch.arange(0, d, 2) / d)
        pe = torch.zeros(max_len, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos), torch.cos(pos)
        self.register_buffer("pe", pe)
        self.d = d

    def forward(self, ids):
        x = self.drop(self.emb(ids) * math.sqrt(self.d) + self.pe[: ids.shape[1]])
        for layer in self.layers:
            x = layer(x)
        return self.norm(x) @ self.emb.weight.t()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--attention", default="softmax", choices=["softmax", "linear", "performer"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(1)
    model = LM(a.attention, a.features, gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ids = torch.randint(0, 256, (a.batch, a.seq + 1), generator=gen)
    inp, tgt = ids[:, :-1], ids[:, 1:]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    secs = []
    for s in range(a.steps + a.warmup):
        t0 = time.perf_counter()
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = torch.nn.functional.cross_entropy(model(inp).reshape(-1, 256), tgt.reshape(-1))
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        if s >= a.warmup:
            secs.append(t1 - t0)
    secs.sort()
    med = secs[len(secs) // 2]
    tokens = a.batch * a.seq
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1e3
    print(json.dumps({"impl": "torch", "attention": a.attention, "batch": a.batch, "seq": a.seq, "threads": a.threads,
                      "precision": a.precision, "tokens_per_s": tokens / med, "tokens_per_s_min": tokens / secs[-1],
                      "tokens_per_s_max": tokens / secs[0], "step_ms": 1e3 * med, "rss_extra_mb": rss}))


if __name__ == "__main__":
    main()
