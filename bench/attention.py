#!/usr/bin/env python3
"""Causal attention layer, forward + backward: kat against PyTorch, in the same run.

For each sequence length N and each method, runs kat's bench/attention_layer and the PyTorch
peer (bench/peers/attention_peer.py) alternately, each in a fresh process (so that peak memory
is the process's own), ROUNDS times, and prints a Markdown table of median times (min-max over
all timed repetitions), the ratio PyTorch / kat, and the peak extra memory.

  bench/attention.py --build build [--n 256 512 ... 16384] [--rounds 2] [--reps 3] [--json out.jsonl]

Run it on an otherwise idle machine; the numbers go into bench/RESULTS.md with the command.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import PEER_ENV, use_kats_kernels  # noqa: E402

# (label, kat method, kat features, torch method, largest N worth running for each side)
CASES = [
    ("softmax", "softmax", 0, "softmax", 8192),
    ("linear (elu)", "linear", 0, "linear_chunked", 16384),
    ("linear (elu), PyTorch cumsum", "linear", 0, "linear_cumsum", 8192),
    ("performer m=64", "performer", 64, "performer_chunked", 16384),
    ("performer m=256", "performer", 256, "performer_chunked", 16384),
]


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"attention.py: {' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--n", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096, 8192, 16384])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cases", nargs="*", help="labels to run (default: all)")
    p.add_argument("--json", help="append every measurement to this file")
    a = p.parse_args()
    kat_bin = os.path.join(a.build, "bench", "attention_layer")
    if not os.path.exists(kat_bin):
        sys.exit(f"attention.py: {kat_bin} not found; build it: cmake --build {a.build} --target attention_layer")
    use_kats_kernels(a.build)  # the peer on the kernels kat chose for this CPU
    peer = os.path.join(HERE, "peers", "attention_peer.py")
    rows = []
    for n in a.n:
        for label, kmethod, feats, tmethod, nmax in CASES:
            if a.cases and label not in a.cases:
                continue
            if n > nmax:
                continue
            common = ["--n", str(n), "--reps", str(a.reps), "--threads", str(a.threads),
                      "--features", str(feats or 64)]
            kat_ms, torch_ms, kat_mem, torch_mem = [], [], [], []
            for _ in range(a.rounds):
                k = run([kat_bin, "--method", kmethod] + common)
                t = run(["/usr/bin/python3", peer, "--method", tmethod] + common, env=PEER_ENV)
                kat_ms.append(k["ms_median"])
                torch_ms.append(t["ms_median"])
                kat_mem.append(k["rss_extra_mb"])
                torch_mem.append(t["rss_extra_mb"])
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps(k) + "\n" + json.dumps(t) + "\n")
            km, tm = statistics.median(kat_ms), statistics.median(torch_ms)
            rows.append((n, label, km, min(kat_ms), max(kat_ms), tm, min(torch_ms), max(torch_ms),
                         tm / km, statistics.median(kat_mem), statistics.median(torch_mem)))
            print(f"N={n:6d} {label:30s} kat {km:9.1f} ms  torch {tm:9.1f} ms  x{tm / km:5.2f}", file=sys.stderr)
    print("| N | case | kat ms | PyTorch ms | PyTorch / kat | kat extra MB | PyTorch extra MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, label, km, kmin, kmax, tm, tmin, tmax, ratio, kmem, tmem in rows:
        print(f"| {n} | {label} | {km:.1f} [{kmin:.1f}-{kmax:.1f}] | {tm:.1f} [{tmin:.1f}-{tmax:.1f}] | "
              f"{ratio:.2f} | {kmem:.0f} | {tmem:.0f} |")


if __name__ == "__main__":
    main()
