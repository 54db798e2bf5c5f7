#!/usr/bin/env python3
"""Generation speed of the reference language model in PyTorch: the peer of bench/generation.

Vocab 256, d_model 256, 4 layers, 4 heads, FFN 1024, pre-norm; batch 1, one token at a time:
softmax attention with a KV cache, linear attention (elu + 1) with the recurrent (S, z) state,
Performer (FAVOR+, m features) with the same state. Written as a PyTorch user would, in
torch.no_grad() and eval mode.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 generation_peer.py \
      --attention linear --positions 256,1024,4096 [--jump 1]

With --jump 1, as bench/generation: each position starts from a state at p - window - 8 holding
that many random keys and values (a filled KV cache, or the (S, z) sums of their features), then
8 untimed tokens and the timed window are decoded.
"""
import argparse
import json
import math
import time

import torch


class Layer(torch.nn.Module):
    def __init__(self, d, heads, ff, attention, features, gen):
        super().__init__()
        self.h, self.dh, self.attention = heads, d // heads, attention
        self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
        self.n1, self.n2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.f1, self.f2 = torch.nn.Linear(d, ff), torch.nn.Linear(ff, d)
        if attention == "performer":
            self.w = torch.randn(features, self.dh, generator=gen)
            self.m = features

    def features(self, x, is_query):
        if self.attention == "linear":
            return torch.nn.functional.elu(x) + 1
        xs = x * self.dh ** -0.25
        a = xs @ self.w.t() - (xs * xs).sum(-1, keepdim=True) / 2
        return torch.exp(a - a.amax(-1, keepdim=True)) / math.sqrt(self.m)

    def jump_state(self, n, gen):
        """The state after n positions of random keys and values."""
        k = torch.randn(self.h, n, self.dh, generator=gen)
        v = torch.randn(self.h, n, self.dh, generator=gen)
        if self.attention == "softmax":
            state = [torch.empty(self.h, self.capacity, self.dh), torch.empty(self.h, self.capacity, self.dh), n]
            state[0][:, :n] = k
            state[1][:, :n] = v
            return state
        fk = self.features(k, False)  # (h, n, m)
        return (fk.transpose(1, 2) @ v, fk.sum(1))

    def step(self, x, state):
        h = self.n1(x)
        q = self.q(h).view(self.h, self.dh)
        k = self.k(h).view(self.h, self.dh)
        v = self.v(h).view(self.h, self.dh)
        if self.attention == "softmax":
            if state is None:  # a cache preallocated for the whole run, filled in place
                state = [torch.empty(self.h, self.capacity, self.dh), torch.empty(self.h, self.capacity, self.dh), 0]
            n = state[2]
            state[0][:, n] = k
            state[1][:, n] = v
            state[2] = n + 1
            keys, values = state[0][:, :n + 1], state[1][:, :n + 1]
            s = (keys @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.dh)
            a = (torch.softmax(s, -1).unsqueeze(1) @ values).squeeze(1)
        else:
            fq, fk = self.features(q, True), self.features(k, False)
            if state is None:
                state = (torch.zeros(self.h, fk.shape[-1], self.dh), torch.zeros(self.h, fk.shape[-1]))
            s_, z_ = state
            s_ = s_ + fk.unsqueeze(-1) * v.unsqueeze(1)
            z_ = z_ + fk
            state = (s_, z_)
            a = (fq.unsqueeze(1) @ s_).squeeze(1) / ((fq * z_).sum(-1, keepdim=True) + 1e-6)
        x = x + self.o(a.reshape(-1))
        x = x + self.f2(torch.relu(self.f1(self.n2(x))))
        return x, state


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--attention", default="linear", choices=["softmax", "linear", "performer"])
    p.add_argument("--positions", default="256,1024,4096,16384")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--jump", default="0")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(1)
    positions = [int(x) for x in a.positions.split(",")]
    last = max(positions)
    d, vocab = 256, 256
    emb = torch.nn.Embedding(vocab, d)
    layers = [Layer(d, 4, 1024, a.attention, a.features, gen) for _ in range(4)]
    for layer in layers:
        layer.capacity = last
    norm = torch.nn.LayerNorm(d)
    pos = torch.arange(last + 1).unsqueeze(1) / torch.pow(10000, torch.arange(0, d, 2) / d)
    pe = torch.zeros(last + 1, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos), torch.cos(pos)
    ms = [0.0] * last
    token = 65

    def decode(states, start, end):
        nonlocal token
        for t in range(start, end):
            t0 = time.perf_counter()
            x = emb.weight[token] * math.sqrt(d) + pe[t]
            for i, layer in enumerate(layers):
                x, states[i] = layer.step(x, states[i])
            logits = norm(x) @ emb.weight.t()
            t1 = time.perf_counter()
            ms[t] = (t1 - t0) * 1e3
            token = int(torch.randint(0, vocab, (1,), generator=gen))
            del logits

    with torch.no_grad():
        if a.jump != "1":
            decode([None] * 4, 0, last)
        else:
            for p_ in positions:
                start = max(0, p_ - a.window - 8)
                decode([layer.jump_state(start, gen) if start > 0 else None for layer in layers], start, p_)
    out = {str(p_): sum(ms[max(0, p_ - a.window):p_]) / (p_ - max(0, p_ - a.window)) for p_ in positions}
    print(json.dumps({"impl": "torch", "attention": a.attention, "threads": a.threads, "ms_per_token": out}))


if __name__ == "__main__":
    main()
