#!/usr/bin/env python3
"""Training tokens/s of the reference character LM: kat against PyTorch in the same run.

Cases (the performance issue's): softmax B=16 N=256; softmax, linear and Performer (m=64) B=4
N=1024. Runs bench/train_step (kat) and bench/peers/train_step_peer.py alternately, ROUNDS times
each, in fresh processes, and prints a Markdown table of median tokens/s, the ratio kat / PyTorch,
kat's achieved GEMM GFLOP/s, and each side's peak memory above its model and batch.

  bench/train_step.py --build build [--rounds 3] [--steps 8] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_ENV = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")


def use_kats_kernels(build):
    """Runs the peer on the OpenBLAS kernel family kat chose for this CPU (or the one set in the
    environment): both sides on the best kernels that compute correctly here. Returns the family."""
    sgemm = os.path.abspath(os.path.join(build, "bench", "sgemm"))
    family = run([sgemm, "--n", "64", "--reps", "1", "--threads", "1"])["blas_kernels"]
    PEER_ENV.setdefault("OPENBLAS_CORETYPE", family)
    return PEER_ENV["OPENBLAS_CORETYPE"]

CASES = [("softmax", 16, 256), ("softmax", 4, 1024), ("linear", 4, 1024), ("performer", 4, 1024)]


def run(cmd, env=None, cwd=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if out.returncode != 0:
        sys.exit(f"train_step.py: {' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    kat_bin = os.path.abspath(os.path.join(a.build, "bench", "train_step"))
    if not os.path.exists(kat_bin):
        sys.exit(f"train_step.py: {kat_bin} not found; build it: cmake --build {a.build} --target train_step sgemm")
    print(f"OpenBLAS kernels: {use_kats_kernels(a.build)}", file=sys.stderr)
    rows = []
    for attention, batch, seq in CASES:
        common = ["--attention", attention, "--batch", str(batch), "--seq", str(seq), "--steps", str(a.steps),
                  "--threads", str(a.threads)]
        k_runs, t_runs = [], []
        for _ in range(a.rounds):
            k_runs.append(run([kat_bin] + common))
            t_runs.append(run(["/usr/bin/python3", "train_step_peer.py"] + common, env=PEER_ENV,
                              cwd=os.path.join(HERE, "peers")))
        k = statistics.median(r["tokens_per_s"] for r in k_runs)
        t = statistics.median(r["tokens_per_s"] for r in t_runs)
        rows.append((attention, batch, seq, k, min(r["tokens_per_s"] for r in k_runs),
                     max(r["tokens_per_s"] for r in k_runs), t, min(r["tokens_per_s"] for r in t_runs),
                     max(r["tokens_per_s"] for r in t_runs), statistics.median(r["gemm_gflops"] for r in k_runs),
                     statistics.median(r["rss_extra_mb"] for r in k_runs),
                     statistics.median(r["rss_extra_mb"] for r in t_runs)))
        print(f"{attention:9s} B{batch} N{seq}: kat {k:.0f} tok/s, torch {t:.0f} tok/s, x{k / t:.2f}", file=sys.stderr)
    print("| attention | B x N | kat tokens/s | PyTorch tokens/s | kat / PyTorch | kat GEMM GFLOP/s | kat extra MB | PyTorch extra MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} x {r[2]} | {r[3]:.0f} [{r[4]:.0f}-{r[5]:.0f}] | {r[6]:.0f} [{r[7]:.0f}-{r[8]:.0f}] | "
              f"{r[3] / r[6]:.2f} | {r[9]:.0f} | {r[10]:.0f} | {r[11]:.0f} |")


if __name__ == "__main__":
    main()
