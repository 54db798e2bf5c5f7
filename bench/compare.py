#!/usr/bin/env python3
"""kat against PyTorch on every case of the performance targets, in one run: one Markdown table.

bench/compare.sh builds the programs, installs the peer if missing, and runs this. For each case
it alternates kat and PyTorch (kat, PyTorch, kat, ...), ROUNDS fresh processes each, and prints
the medians [min-max], the ratio kat / PyTorch, the target and whether it is met:

  SGEMM 2048^3 on 1 and 2 threads          bench/sgemm                bench/peers/sgemm_peer.py
  training step of the reference char-LM   bench/train_step           bench/peers/train_step_peer.py
    (tokens/s, GEMM FLOP/s, peak memory, heap allocations per step)
  generation, batch 1, ms/token            bench/generation --jump 1  bench/peers/generation_peer.py --jump 1
    (and kat with float16 decoding weights, --weights f16, in the same rounds; the peer has no such mode)

  bench/compare.py --build build [--rounds 5] [--steps 3] [--quick]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train_step import PEER_ENV, run, use_kats_kernels  # noqa: E402  (the drivers' runner: one JSON line per process)

PEERS = os.path.join(HERE, "peers")
PYTHON = "/usr/bin/python3"  # Debian's interpreter, the one with torch
TRAIN_CASES = [("softmax", 16, 256, 2.0), ("softmax", 4, 1024, None), ("linear", 4, 1024, 2.0),
               ("performer", 4, 1024, 2.0)]
POSITIONS = [256, 1024, 4096, 16384]


def alternate(rounds, kat_cmd, peer_cmd, label, kat_also=None):
    """Runs kat and the peer alternately, `rounds` times each; returns their JSON results. With
    kat_also, a second kat command runs right after the first in every round, and its results come
    third."""
    kat, peer, also = [], [], []
    for r in range(rounds):
        t0 = time.monotonic()
        kat.append(run(kat_cmd))
        if kat_also:
            also.append(run(kat_also))
        t1 = time.monotonic()
        peer.append(run([PYTHON] + peer_cmd, env=PEER_ENV, cwd=PEERS))
        t2 = time.monotonic()
        print(f"  {label}: round {r + 1}/{rounds} (kat {t1 - t0:.1f} s, PyTorch {t2 - t1:.1f} s)", file=sys.stderr)
    return (kat, peer, also) if kat_also else (kat, peer)


def stat(values, fmt):
    """'median [min-max]' of the values, formatted."""
    m = statistics.median(values)
    if len(values) == 1:
        return m, fmt.format(m)
    return m, f"{fmt.format(m)} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, case, target, kat, peer, ratio, met):
        mark = "" if met is None else ("yes" if met else "**no**")
        self.rows.append((case, target, kat, peer, "" if ratio is None else f"{ratio:.2f}", mark))

    def print(self):
        print("| case | target | kat | PyTorch | kat / PyTorch | met |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in self.rows:
            print("| " + " | ".join(r) + " |")


class OtherLoad:
    """CPU time of the processes other than this one and its children, since construction: the
    machine's busy time (/proc/stat) minus our own (getrusage). A load average would count the
    benchmark itself, and a build that just ended."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.monotonic(), self.machine_busy(), self.own()

    @staticmethod
    def machine_busy():
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq = (int(x) for x in f.readline().split()[1:8])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def own():
        total = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            r = resource.getrusage(who)
            total += r.ru_utime + r.ru_stime
        return total

    def cores(self):
        """Cores the other processes kept busy on average."""
        wall = max(time.monotonic() - self.t0, 1e-3)
        return max(0.0, (self.machine_busy() - self.busy0) - (self.own() - self.own0)) / wall


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--rounds", type=int, default=5, help="fresh processes per side and case (>= 5 for the record)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per process (after 2 warm-up)")
    p.add_argument("--threads", type=int, default=2, help="threads of the training step (generation uses 1)")
    p.add_argument("--quick", action="store_true", help="a smoke test: 1 round, small training cases")
    a = p.parse_args()
    rounds = 1 if a.quick else a.rounds
    start = time.monotonic()
    others = OtherLoad()
    time.sleep(2)
    if others.cores() > 0.2:
        print(f"compare.py: other processes use {others.cores():.1f} cores: the figures will be disturbed "
              "(and PyTorch's 2-thread steps can take many times longer)", file=sys.stderr)
    binary = {name: os.path.abspath(os.path.join(a.build, "bench", name)) for name in ("sgemm", "train_step", "generation")}
    for path in binary.values():
        if not os.path.exists(path):
            sys.exit(f"compare.py: {path} not found; bench/compare.sh builds it")
    family = use_kats_kernels(a.build)
    print(f"OpenBLAS kernels: {family} for kat and PyTorch alike", file=sys.stderr)
    table = Table()

    # SGEMM ceiling.
    print("SGEMM 2048^3", file=sys.stderr)
    k, t = alternate(rounds, [binary["sgemm"], "--threads", "1,2"], ["sgemm_peer.py", "--threads", "1,2"], "sgemm")
    ceiling = 0.0
    for th in ("1", "2"):
        km, ks = stat([r["gflops"][th] for r in k], "{:.1f}")
        tm, ts = stat([r["gflops"][th] for r in t], "{:.1f}")
        table.add(f"SGEMM 2048³, {th} thread{'s' if th != '1' else ''}, GFLOP/s", "the ceiling", ks, ts, km / tm, None)
        if th == "2":
            ceiling = max(km, tm)

    # Training step.
    train = {}
    for attention, batch, seq, target in TRAIN_CASES:
        if a.quick:
            batch, seq = (2, 128) if seq == 256 else (1, 256)
        label = f"train {attention} B{batch} N{seq}"
        print(label, file=sys.stderr)
        common = ["--attention", attention, "--batch", str(batch), "--seq", str(seq), "--steps", str(a.steps),
                  "--warmup", "2", "--threads", str(a.threads)]
        train[(attention, batch, seq)] = alternate(rounds, [binary["train_step"]] + common,
                                                   ["train_step_peer.py"] + common, label)
    for attention, batch, seq, target in TRAIN_CASES:
        if a.quick:
            batch, seq = (2, 128) if seq == 256 else (1, 256)
        k, t = train[(attention, batch, seq)]
        km, ks = stat([r["tokens_per_s"] for r in k], "{:.0f}")
        tm, ts = stat([r["tokens_per_s"] for r in t], "{:.0f}")
        peer_form = "" if attention == "softmax" else " (PyTorch chunked)"
        table.add(f"train tokens/s, {attention} B{batch}×N{seq}{peer_form}",
                  f"kat / PyTorch ≥ {target}" if target else "(no target)", ks, ts, km / tm,
                  km / tm >= target if target else None)
    k, _ = train[next(iter(train))]
    gm, gs = stat([r["gemm_gflops"] for r in k], "{:.1f}")
    b0, n0 = next(iter(train))[1:]
    # The FLOPs kat's products run: its attention computes only this share of the N x N causal
    # scores (blocks of queries stop at their last key); the full N x N would count more.
    share = k[0].get("attention_score_share", 1.0)
    table.add(f"GEMM GFLOP/s of the softmax step B{b0}×N{n0} (attention over the {share:.3f} of the "
              "scores computed), against the 2-thread SGEMM ceiling",
              "≥ 0.75 of the ceiling", gs, f"ceiling {ceiling:.1f}", gm / ceiling, gm / ceiling >= 0.75)
    for (attention, batch, seq), (k, t) in train.items():
        km, ks = stat([r["rss_extra_mb"] for r in k], "{:.0f}")
        tm, ts = stat([r["rss_extra_mb"] for r in t], "{:.0f}")
        table.add(f"peak memory of a step, MB above model and batch, {attention} B{batch}×N{seq}",
                  "kat / PyTorch ≤ 0.7", ks, ts, km / tm, km / tm <= 0.7)
    for (attention, batch, seq), (k, _) in train.items():
        mm, ms = stat([r["mallocs_per_step"] for r in k], "{:.0f}")
        lm, ls = stat([r["large_mallocs_per_step"] for r in k], "{:.1f}")
        sizes = "; ".join(sorted({r["large_mallocs"] for r in k if r["large_mallocs"]}))
        table.add(f"heap allocations per steady-state step, {attention} B{batch}×N{seq}",
                  "no large (≥ 64 KiB) malloc", f"{ms} ({ls} large{': ' + sizes if sizes else ''})", "", None,
                  lm == 0)

    # bfloat16 products (kat's train.precision bf16; PyTorch's bf16 autocast on CPU) on the softmax
    # B16 N256 step, against kat's own float32 step of the same rounds above.
    b0, n0 = (2, 128) if a.quick else (16, 256)
    common = ["--attention", "softmax", "--batch", str(b0), "--seq", str(n0), "--steps", str(a.steps),
              "--warmup", "2", "--threads", str(a.threads), "--precision", "bf16"]
    probe = subprocess.run([binary["train_step"]] + common[:-2] + ["--steps", "1", "--warmup", "0",
                                                                    "--precision", "bf16"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["it failed"])[-1]
        table.add(f"train tokens/s, softmax B{b0}×N{n0}, bfloat16 products", "≥ 1.5× kat float32",
                  f"not available here: {why}", "", None, None)
    else:
        print(f"train softmax B{b0} N{n0} bf16", file=sys.stderr)
        k16, t16 = alternate(rounds, [binary["train_step"]] + common, ["train_step_peer.py"] + common,
                             "train softmax bf16")
        km, ks = stat([r["tokens_per_s"] for r in k16], "{:.0f}")
        tm, ts = stat([r["tokens_per_s"] for r in t16], "{:.0f}")
        table.add(f"train tokens/s, softmax B{b0}×N{n0}, bfloat16 products (PyTorch: bf16 autocast)",
                  "(no target)", ks, ts, km / tm, None)
        k32 = statistics.median(r["tokens_per_s"] for r in train[next(iter(train))][0])
        table.add(f"train tokens/s, softmax B{b0}×N{n0}: kat bfloat16 / kat float32 (kat's float32 row above)",
                  "≥ 1.5", f"{km / k32:.2f}", "", None, km / k32 >= 1.5)

    # Generation: kat with float32 weights against the peer, and kat with float16 decoding weights
    # in the same rounds.
    gen, gen16 = {}, {}
    for attention in ("softmax", "linear", "performer"):
        label = f"generation {attention}"
        print(label, file=sys.stderr)
        common = ["--attention", attention, "--positions", ",".join(map(str, POSITIONS)), "--threads", "1",
                  "--jump", "1"]
        k, t, k16 = alternate(rounds, [binary["generation"]] + common, ["generation_peer.py"] + common, label,
                              kat_also=[binary["generation"]] + common + ["--weights", "f16"])
        gen[attention], gen16[attention] = (k, t), k16
    # The floors under a recurrent token, from the same kat runs: reading every float32 weight once,
    # and (float16 decoding) as many bytes as such a token reads (bench/generation.cpp). The target
    # for linear and Performer: at most 1.1x the floor at every position, which also makes them
    # flat from 256 to 16,384.
    floor32 = {a: statistics.median(r["weights_read_ms"] for r in gen[a][0]) for a in ("linear", "performer")}
    floor16 = {a: statistics.median(r["token_weights_read_ms"] for r in gen16[a]) for a in ("linear", "performer")}
    for attention in ("softmax", "linear", "performer"):
        k, t = gen[attention]
        for pos in POSITIONS:
            km, ks = stat([r["ms_per_token"][str(pos)] for r in k], "{:.3f}")
            tm, ts = stat([r["ms_per_token"][str(pos)] for r in t], "{:.3f}")
            if attention == "softmax":
                target, met = "kat / PyTorch ≤ 1", km <= tm
            else:
                target, met = f"≤ 1.1 × floor {floor32[attention]:.3f}", km <= 1.1 * floor32[attention]
            table.add(f"generation ms/token, batch 1, {attention} at {pos}", target, ks, ts, km / tm, met)
    for attention in ("softmax", "linear", "performer"):
        for pos in POSITIONS:
            km, ks = stat([r["ms_per_token"][str(pos)] for r in gen16[attention]], "{:.3f}")
            if attention == "softmax":
                target, met = "(no target)", None
            else:
                target, met = f"≤ 1.1 × floor {floor16[attention]:.3f}", km <= 1.1 * floor16[attention]
            table.add(f"generation ms/token, batch 1, float16 weights, {attention} at {pos}", target, ks, "", None, met)

    # Two threads: the products of a token split over both cores (core/kernels/gemm.cpp, half.cpp);
    # `kat generate` times one thread against all and decodes on the faster. No target: whether two
    # pay depends on the machine.
    pos2 = POSITIONS[1]
    for attention in ("softmax", "linear", "performer"):
        for weights in ("f32", "f16"):
            # The position before warms the second thread up (its first tokens run slower).
            cmd = [binary["generation"], "--attention", attention, "--positions", f"{POSITIONS[0]},{pos2}",
                   "--threads", "2", "--jump", "1", "--weights", weights]
            two = [run(cmd) for _ in range(rounds)]
            one = gen[attention][0] if weights == "f32" else gen16[attention]
            km, ks = stat([r["ms_per_token"][str(pos2)] for r in two], "{:.3f}")
            k1 = statistics.median(r["ms_per_token"][str(pos2)] for r in one)
            kind = "float32" if weights == "f32" else "float16"
            table.add(f"generation ms/token, batch 1, {kind} weights, {attention} at {pos2}, 2 threads "
                      f"(1 thread: {k1:.3f})", "(no target)", ks, "", None, None)

    def at(runs, pos):
        return statistics.median(r["ms_per_token"][str(pos)] for r in runs)

    last = POSITIONS[-1]
    soft, lin = at(gen["softmax"][0], last), at(gen["linear"][0], last)
    table.add(f"generation at {last}: kat softmax ms / kat linear ms", "≥ 10", f"{soft / lin:.1f}×", "", None,
              soft / lin >= 10)
    soft16, lin16 = at(gen16["softmax"], last), at(gen16["linear"], last)
    table.add(f"generation at {last}, both with float16 weights: kat softmax ms / kat linear ms", "≥ 10",
              f"{soft16 / lin16:.1f}×", "", None, soft16 / lin16 >= 10)
    fm, fs = stat([r["weights_read_ms"] for a in ("linear", "performer") for r in gen[a][0]], "{:.3f}")
    table.add("generation: reading every float32 weight of the model once, 1 thread, ms (the float32 floor)",
              "(no target)", fs, "", None, None)
    _, fs16 = stat([r["token_weights_read_ms"] for a in ("linear", "performer") for r in gen16[a]], "{:.3f}")
    table.add("generation: reading the bytes of a float16 token once, 1 thread, ms (the float16 floor)", "(no target)",
              fs16, "", None, None)

    table.print()
    print(f"\nOpenBLAS kernels {family} for both (kat's choice for this CPU, or OPENBLAS_CORETYPE where set); the "
          "ceiling is the better SGEMM of the two.")
    elapsed = time.monotonic() - start
    if others.cores() > 0.2:
        print(f"\nBusy machine: other processes used {others.cores():.1f} cores on average beside this run, so these "
              "figures are disturbed. PyTorch's OpenMP threads spin at their barriers and slow down many times when "
              "another process holds a core; measure on an idle machine.")
    else:
        print(f"\nIdle machine: other processes used {others.cores():.2f} cores on average beside this run.")
    print(f"\n{rounds} rounds per case, kat and PyTorch alternating in fresh processes; training: "
          f"{a.steps} timed steps after 2 warm-up per process, {a.threads} threads; generation: 1 thread, "
          f"mean of the 64 tokens before each position. Wall time {elapsed / 60:.1f} min.")


if __name__ == "__main__":
    main()
