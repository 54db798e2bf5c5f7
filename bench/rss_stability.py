#!/usr/bin/env python3
"""Long-run memory stability: trains tiny models for 5,000 steps each (validation, BLEU decoding and
a checkpoint every 500 steps) while sampling the resident set size of the kat process from
/proc/PID/status, and reports whether it grows after warm-up.

Warm-up is the first 40% of the steps (--warmup): the allocator keeps the pages of the largest
pattern of allocations it has met, and validation (every 500 steps) makes the largest, so the RSS
settles only after a few validations. For each experiment the script prints the RSS early (median
of the samples between 10% and 20% of the steps), after warm-up (40% to 50%), at the end (the last
10%), the largest sample, the growth from the end of warm-up to the end and the least-squares
slope after warm-up. "no growth" means the end is within 1 MiB (or 2%) of the level after warm-up;
the script exits 1 otherwise.

Usage: bench/rss_stability.py [--kat build/bin/kat] [--steps 5000] [--set KEY=VALUE ...]
                              [--samples DIR] [CONFIG.yaml ...]
       (default: configs/lm-tiny.yaml configs/copy-tiny.yaml configs/copy-performer-tiny.yaml;
        --samples writes each run's (step, MiB) samples to DIR/<config>.csv)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIGS = ["configs/lm-tiny.yaml", "configs/copy-tiny.yaml", "configs/copy-performer-tiny.yaml"]


def rss_mb(pid):
    """The process's current resident set size (VmRSS) in MiB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def step_at(records, t):
    """The step the run had reached t seconds after it started, from its metrics records."""
    step = 0
    for r in records:
        if r["wall_time"] <= t:
            step = max(step, r["step"])
    return step


def slope_per_1000_steps(points):
    """Least-squares slope of (step, MiB) points, in MiB per 1,000 steps."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return 0.0
    return 1000.0 * sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def measure(kat, config, steps, interval, workdir, sets, samples_dir, warmup):
    run = os.path.join(workdir, os.path.splitext(os.path.basename(config))[0])
    every = max(steps // 10, 1)
    cmd = [kat, "train", config, "--set", f"output.dir={run}", "--set", f"train.steps={steps}",
           "--set", f"train.valid_interval={every}", "--set", f"train.checkpoint_interval={every}",
           "--set", f"train.log_interval={max(steps // 200, 1)}", "--set", "train.patience=0"]
    for kv in sets:
        cmd += ["--set", kv]
    start = time.monotonic()
    with open(os.path.join(workdir, os.path.basename(run) + ".log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        samples = []  # (seconds since start, MiB)
        while proc.poll() is None:
            mb = rss_mb(proc.pid)
            if mb is not None:
                samples.append((time.monotonic() - start, mb))
            time.sleep(interval)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        with open(log.name) as f:
            sys.exit(f"rss_stability: {' '.join(cmd)} failed ({proc.returncode}):\n{f.read()[-3000:]}")
    with open(os.path.join(run, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    train = [r for r in records if "train_loss" in r]
    points = [(step_at(train, t), mb) for t, mb in samples]
    if samples_dir:
        os.makedirs(samples_dir, exist_ok=True)
        name = os.path.splitext(os.path.basename(config))[0]
        with open(os.path.join(samples_dir, name + ".csv"), "w") as f:
            f.write("seconds,step,rss_mib\n")
            for (t, mb), (step, _) in zip(samples, points):
                f.write(f"{t:.3f},{step},{mb:.3f}\n")

    def window(lo, hi):
        return [mb for s, mb in points if lo * steps <= s < hi * steps] or [points[-1][1]]

    early = statistics.median(window(0.1, 0.2))
    warm = statistics.median(window(warmup, warmup + 0.1))
    end = statistics.median(window(0.9, 1.01))
    after_warmup = [p for p in points if p[0] >= warmup * steps]
    growth = end - warm
    return {
        "config": config,
        "steps": steps,
        "seconds": seconds,
        "samples": len(samples),
        "early": early,
        "warm": warm,
        "end": end,
        "max": max(mb for _, mb in points),
        "growth": growth,
        "slope": slope_per_1000_steps(after_warmup),
        "peak_rss_first": train[0]["peak_rss_mb"],
        "peak_rss_last": train[-1]["peak_rss_mb"],
        "stable": growth <= max(1.0, 0.02 * warm),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kat", default=os.path.join(ROOT, "build", "bin", "kat"))
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between RSS samples")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="KEY=VALUE passed to kat train")
    parser.add_argument("--samples", help="folder for each run's samples as CSV")
    parser.add_argument("--warmup", type=float, default=0.4, help="fraction of the steps counted as warm-up")
    parser.add_argument("configs", nargs="*", default=[os.path.join(ROOT, c) for c in DEFAULT_CONFIGS])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="kat-rss-") as workdir:
        for config in args.configs:
            r = measure(args.kat, config, args.steps, args.interval, workdir, args.sets, args.samples, args.warmup)
            results.append(r)
            print(f"{os.path.basename(config)}: {r['steps']} steps in {r['seconds']:.0f} s, {r['samples']} samples: "
                  f"RSS {r['early']:.1f} MiB early, {r['warm']:.1f} MiB after warm-up, {r['end']:.1f} MiB at the end "
                  f"({r['growth']:+.2f} MiB, slope {r['slope']:+.3f} MiB per 1,000 steps), "
                  f"max {r['max']:.1f} MiB; peak_rss_mb {r['peak_rss_first']:.1f} -> {r['peak_rss_last']:.1f}: "
                  f"{'no growth' if r['stable'] else 'GROWS'}", flush=True)
    w = int(100 * args.warmup)
    print()
    print(f"| experiment | steps | RSS at 10-20% (MiB) | at {w}-{w + 10}% | at 90-100% | growth after warm-up "
          "| slope after warm-up (MiB / 1,000 steps) | max | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {os.path.basename(r['config'])} | {r['steps']} | {r['early']:.1f} | {r['warm']:.1f} | {r['end']:.1f} "
              f"| {r['growth']:+.2f} | {r['slope']:+.3f} | {r['max']:.1f} | {'no growth' if r['stable'] else 'grows'} |")
    return 0 if all(r["stable"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
