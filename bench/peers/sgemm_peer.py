#!/usr/bin/env python3
"""The SGEMM ceiling through PyTorch: torch.mm on square float32 matrices into a preallocated output.

The peer of bench/sgemm: median GFLOP/s (2 n^3 per product) of REPS products after one warm-up, per
thread count; one JSON line.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 sgemm_peer.py --threads 1,2
"""
import argparse
import json
import statistics
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(a.n, a.n, generator=gen)
    y = torch.randn(a.n, a.n, generator=gen)
    out = torch.empty(a.n, a.n)
    flops = 2.0 * a.n ** 3
    result = {}
    for t in [int(s) for s in a.threads.split(",")]:
        torch.set_num_threads(t)
        rates = []
        for r in range(a.reps + 1):
            t0 = time.perf_counter()
            torch.mm(x, y, out=out)
            s = time.perf_counter() - t0
            if r > 0:
                rates.append(flops / s / 1e9)
        result[str(t)] = statistics.median(rates)
    print(json.dumps({"impl": "torch", "n": a.n, "gflops": result}))


if __name__ == "__main__":
    main()
