#!/usr/bin/env python3
"""Generation ms/token of the reference LM, batch 1: kat against PyTorch in the same run.

Runs bench/generation (kat) and bench/peers/generation_peer.py alternately, ROUNDS times per
attention, each in a fresh process, and prints a Markdown table of the medians per position with
the ratio PyTorch / kat.

  bench/generation.py --build build [--positions 256,1024,4096,16384] [--rounds 3] [--threads 1]
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


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"generation.py: {' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--positions", default="256,1024,4096,16384")
    p.add_argument("--softmax-max", type=int, default=4096, help="longest position run for softmax")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--attentions", default="softmax,linear,performer")
    a = p.parse_args()
    kat_bin = os.path.join(a.build, "bench", "generation")
    if not os.path.exists(kat_bin):
        sys.exit(f"generation.py: {kat_bin} not found; build it: cmake --build {a.build} --target generation")
    use_kats_kernels(a.build)  # the peer on the kernels kat chose for this CPU
    peer = os.path.join(HERE, "peers", "generation_peer.py")
    rows = []
    for attention in a.attentions.split(","):
        positions = [int(x) for x in a.positions.split(",")]
        if attention == "softmax":
            positions = [x for x in positions if x <= a.softmax_max]
        pos = ",".join(map(str, positions))
        common = ["--attention", attention, "--positions", pos, "--threads", str(a.threads)]
        kat_runs, torch_runs = [], []
        for _ in range(a.rounds):
            kat_runs.append(run([kat_bin] + common)["ms_per_token"])
            torch_runs.append(run(["/usr/bin/python3", peer] + common, env=PEER_ENV)["ms_per_token"])
        for x in positions:
            k = [r[str(x)] for r in kat_runs]
            t = [r[str(x)] for r in torch_runs]
            km, tm = statistics.median(k), statistics.median(t)
            rows.append((attention, x, km, min(k), max(k), tm, min(t), max(t)))
            print(f"{attention:10s} @{x:6d}: kat {km:.3f} ms  torch {tm:.3f} ms  x{tm / km:.2f}", file=sys.stderr)
    print("| attention | position | kat ms/token | PyTorch ms/token | PyTorch / kat |")
    print("| --- | --- | --- | --- | --- |")
    for attention, x, km, kmin, kmax, tm, tmin, tmax in rows:
        print(f"| {attention} | {x} | {km:.3f} [{kmin:.3f}-{kmax:.3f}] | {tm:.3f} [{tmin:.3f}-{tmax:.3f}] | {tm / km:.2f} |")


if __name__ == "__main__":
    main()
