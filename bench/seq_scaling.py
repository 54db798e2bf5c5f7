#!/usr/bin/env python3
"""Time and memory against the sequence length N, as in Katharopoulos et al. 2020, Figure 1.

For each method and N = 256, 512, ... (doubling), at batch 1, in a fresh process each:
  - one causal attention layer, forward + backward (H 8, D 64): kat's bench/attention_layer
    (softmax, linear with elu features, Performer with m = 64 FAVOR+ features) and the PyTorch
    peers of bench/peers/attention_peer.py (softmax with a causal mask; linear attention through a
    cumulative sum, and chunked; the Performer chunked);
  - a whole training step of the reference model (4 layers, d 256: `kat bench --json`), softmax,
    linear and Performer.
Memory is the peak above the inputs: a layer's process resident set (kat and PyTorch alike), a
step's tensor peak above the model, its optimizer state and the batch. A method stops at the first N whose time passes --budget-s or whose memory passes --budget-mb (or
whose process fails, out of memory): the table says so, and the larger N are not tried.

Writes OUT/scaling.json (every measurement), OUT/scaling.md (the table and the fitted log-log
slopes of time and memory over the largest N each method reached) and the figure, time and peak
memory against N on log-log axes (gnuplot), to --figure.

  bench/seq_scaling.py --build build --out bench/results/scaling --figure docs/img/scaling.png

Run it on an otherwise idle machine (it takes tens of minutes up to N = 65,536).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_ENV = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/openblas-openmp")


def use_kats_kernels(build):
    """The peers run on the OpenBLAS kernel family kat chose for this CPU (or the one set)."""
    out = subprocess.run([os.path.join(build, "bin", "kat"), "--version"], capture_output=True, text=True).stdout
    family = out.split(" kernels:")[0].rsplit(" ", 1)[-1] if " kernels:" in out else "Haswell"
    PEER_ENV.setdefault("OPENBLAS_CORETYPE", family)

# (label, what, runner, method): what is "layer" (one attention layer) or "step" (a training step).
METHODS = [
    ("kat softmax", "layer", "kat", "softmax"),
    ("kat linear", "layer", "kat", "linear"),
    ("kat performer", "layer", "kat", "performer"),
    ("PyTorch softmax", "layer", "torch", "softmax"),
    ("PyTorch linear, cumsum", "layer", "torch", "linear_cumsum"),
    ("PyTorch linear, chunked", "layer", "torch", "linear_chunked"),
    ("PyTorch performer, chunked", "layer", "torch", "performer_chunked"),
    ("kat softmax", "step", "kat", "softmax"),
    ("kat linear", "step", "kat", "linear"),
    ("kat performer", "step", "kat", "performer"),
]


def clean_failure(text):
    """A process's last line of error as a table cell: the C++ runtime's prefix off, a SIGKILL named."""
    text = text.split("what():", 1)[-1].strip()
    if text == "exit -9":
        return "killed by signal 9 (out of memory)"
    return text[:160]


def run(cmd, env=None, timeout=None):
    """The last JSON line a command prints, or an error string."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "over the time budget (killed)"
    if out.returncode < 0:  # a signal: SIGKILL here is the kernel's out-of-memory killer
        return None, "killed by signal %d%s" % (-out.returncode, " (out of memory)" if out.returncode == -9 else "")
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
        return None, "failed: " + clean_failure(tail)
    lines = [line for line in out.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        return None, "no result"
    return json.loads(lines[-1]), None


def measure(a, what, runner, method, n):
    """(ms, MB) of one measurement, or (None, None, reason)."""
    budget_timeout = max(60.0, 20 * a.budget_s)
    if what == "layer" and runner == "kat":
        cmd = [os.path.join(a.build, "bench", "attention_layer"), "--method", method, "--n", str(n), "--b", "1",
               "--reps", str(a.reps), "--threads", str(a.threads), "--features", "64"]
        r, err = run(cmd, timeout=budget_timeout)
        return (None, None, err) if err else (r["ms_median"], r["rss_extra_mb"], None)
    if what == "layer":
        cmd = ["/usr/bin/python3", os.path.join(HERE, "peers", "attention_peer.py"), "--method", method, "--n", str(n),
               "--b", "1", "--reps", str(a.reps), "--threads", str(a.threads), "--features", "64"]
        r, err = run(cmd, env=PEER_ENV, timeout=budget_timeout)
        return (None, None, err) if err else (r["ms_median"], r["rss_extra_mb"], None)
    cmd = [os.path.join(a.build, "bin", "kat"), "--threads", str(a.threads), "bench", "--json", "--attention", method,
           "--batch", "1", "--seq", str(n), "--steps", str(a.reps), "--warmup", "1"]
    r, err = run(cmd, timeout=budget_timeout)
    # A step's activations: the tensor peak above the model, its optimizer state and the batch.
    return (None, None, err) if err else (r["ms_median"], r["tensor_peak_mb"], None)


def slope(points):
    """The least-squares slope of log(y) against log(x) over the largest N: the upper half of the points
    (the last three of four or five); None for fewer than three."""
    pts = sorted((x, y) for x, y in points if y and y > 0)
    if len(pts) < 3:
        return None
    pts = pts[len(pts) // 2:] if len(pts) >= 6 else pts[-3:]
    xs = [math.log(x) for x, _ in pts]
    ys = [math.log(y) for _, y in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def figure(rows, path, title):
    """Time and memory against N, log-log, one line per method and part (gnuplot, PNG)."""
    import tempfile

    series = {}
    for r in rows:
        if r["ms"] is None:
            continue
        series.setdefault((r["what"], r["label"]), []).append((r["n"], r["ms"], r["mb"]))
    with tempfile.TemporaryDirectory() as tmp:
        plots_t, plots_m = [], []
        # Colour by attention, line by implementation: kat solid with filled points, PyTorch dashed
        # with open ones (cumsum: dotted), a whole training step dash-dotted with squares.
        colours = {"softmax": "#d62728", "linear": "#1f77b4", "performer": "#2ca02c"}
        for i, ((what, label), pts) in enumerate(sorted(series.items())):
            data = os.path.join(tmp, f"s{i}.dat")
            with open(data, "w") as f:
                for n, ms, mb in pts:
                    f.write(f"{n} {ms} {max(mb, 0.1)}\n")
            colour = next(c for k, c in colours.items() if k in label)
            if what == "step":
                style = "dt 4 pt 5"
            elif label.startswith("kat"):
                style = "dt 1 pt 7"
            else:
                style = "dt 3 pt 6" if "cumsum" in label else "dt 2 pt 6"
            name = label.replace("'", " ") + (", training step" if what == "step" else ", one layer")
            line = f"with linespoints {style} lw 2 lc rgb '{colour}' title '{name}'"
            plots_t.append(f"'{data}' using 1:2 {line}")
            plots_m.append(f"'{data}' using 1:3 {line}")
        script = f"""set terminal pngcairo size 1500,620 noenhanced font 'sans,10'
set output '{path}'
set logscale xy 2
set format x '%.0f'
set grid
set xlabel 'sequence length N'
set key top left font ',8'
set multiplot layout 1,2 title '{title}'
set title 'forward + backward time (batch 1)'
set ylabel 'milliseconds'
set logscale y 10
plot {', '.join(plots_t)}
set title 'peak memory above the inputs (batch 1)'
set ylabel 'MB'
plot {', '.join(plots_m)}
unset multiplot
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--n", type=int, nargs="+", default=[2 ** k for k in range(8, 17)])
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=60.0, help="stop a method past this time per repetition")
    p.add_argument("--budget-mb", type=float, default=20000.0, help="stop a method past this much memory")
    p.add_argument("--methods", nargs="*", help="labels to run (default: all)")
    p.add_argument("--out", default="bench/results/scaling")
    p.add_argument("--figure", default="docs/img/scaling.png")
    p.add_argument("--render", metavar="JSON", help="draw the table and figure again from a scaling.json, measuring nothing")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.render:
        with open(a.render) as f:
            saved = json.load(f)
        for r in saved["rows"]:
            if r["note"].startswith("failed: "):
                r["note"] = "failed: " + clean_failure(r["note"][len("failed: "):])
        render(a, saved["rows"], saved["cpu"], saved["threads"], saved["reps"], saved.get("date", ""),
               saved.get("minutes"))
        return
    use_kats_kernels(a.build)
    print(f"OpenBLAS kernels: {PEER_ENV['OPENBLAS_CORETYPE']}", file=sys.stderr)
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    rows = []
    started = time.time()
    for label, what, runner, method in METHODS:
        if a.methods and label not in a.methods:
            continue
        stopped = None
        for n in a.n:
            if stopped:
                rows.append({"label": label, "what": what, "n": n, "ms": None, "mb": None, "note": "not run: " + stopped})
                continue
            ms, mb, err = measure(a, what, runner, method, n)
            note = err or ""
            if err is None and ms / 1e3 > a.budget_s:
                note = f"over the time budget ({a.budget_s:.0f} s); larger N not run"
            elif err is None and mb > a.budget_mb:
                note = f"over the memory budget ({a.budget_mb:.0f} MB); larger N not run"
            if note:
                stopped = f"N = {n} was {note.split(';')[0]}"
            rows.append({"label": label, "what": what, "n": n, "ms": ms, "mb": mb, "note": note})
            print(f"{what:5s} {label:28s} N={n:6d} " + (f"{ms:10.1f} ms {mb:8.0f} MB" if ms is not None else "")
                  + (f"  {note}" if note else ""), file=sys.stderr, flush=True)
    render(a, rows, cpu, a.threads, a.reps, time.strftime('%Y-%m-%d'), (time.time() - started) / 60)


def render(a, rows, cpu, threads, reps, date, minutes):
    """scaling.json, scaling.md (the table and the slopes) and the figure."""
    with open(os.path.join(a.out, "scaling.json"), "w") as f:
        json.dump({"cpu": cpu, "threads": threads, "reps": reps, "date": date, "minutes": minutes, "rows": rows}, f,
                  indent=1)
    ns = sorted({r["n"] for r in rows})
    # The table: one row per N, one column per method and part.
    keys = []
    for r in rows:
        if (r["what"], r["label"]) not in keys:
            keys.append((r["what"], r["label"]))
    took = f", {minutes:.0f} minutes" if minutes is not None else ""
    md = [f"Batch 1, {threads} threads, {cpu}; median of {reps} repetitions in a fresh process each "
          f"(`bench/seq_scaling.py`, {date}{took}). "
          "A layer is one causal attention layer (H 8, D 64) forward and backward; a step is a whole training "
          "step of the reference model (4 layers, d 256). Cells: milliseconds / peak MB above the inputs.", ""]
    md.append("| N | " + " | ".join(f"{label} ({what})" for what, label in keys) + " |")
    md.append("| --- |" + " --- |" * len(keys))
    for n in ns:
        cells = []
        for what, label in keys:
            r = next((r for r in rows if r["what"] == what and r["label"] == label and r["n"] == n), None)
            if r is None or r["ms"] is None:
                cells.append("—" if r is None or r["note"].startswith("not run") else r["note"].split(";")[0])
            else:
                cells.append(f"{r['ms']:.1f} / {r['mb']:.0f}" + (" (budget)" if r["note"] else ""))
        md.append(f"| {n} | " + " | ".join(cells) + " |")
    md += ["", "Fitted log-log slopes over the largest half of the N each reached (1: linear, 2: quadratic):", "",
           "| method | time slope | memory slope | largest N |", "| --- | --- | --- | --- |"]
    for what, label in keys:
        pts = [(r["n"], r["ms"], r["mb"]) for r in rows if r["what"] == what and r["label"] == label and r["ms"]]
        ts = slope([(n, ms) for n, ms, _ in pts])
        ms_ = slope([(n, mb) for n, _, mb in pts])
        md.append(f"| {label} ({what}) | {ts:.2f} | {ms_:.2f} | {max(n for n, _, _ in pts) if pts else '—'} |"
                  if ts is not None and ms_ is not None else f"| {label} ({what}) | — | — | — |")
    with open(os.path.join(a.out, "scaling.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    figure(rows, a.figure, f"kat and PyTorch against the sequence length, batch 1, {threads} threads ({cpu})")


if __name__ == "__main__":
    main()
