#!/usr/bin/env python3
"""Prints Markdown tables of medians (with min and max) and ours/reference ratios from the JSON
files written by the kernel benchmarks (--benchmark_out=FILE --benchmark_out_format=json, run with
--benchmark_repetitions=N --benchmark_report_aggregates_only=true).

Usage: bench/summarize.py gemm.json rows.json elementwise.json
"""
import json
import sys

# (ours, reference, counter): the ratio is ours / reference of the counter's median (higher is faster).
PAIRS = [
    ("BM_sgemm_kat_gemm", "BM_sgemm_cblas", "FLOPS"),
    ("BM_sgemm_kat_matmul", "BM_sgemm_cblas", "FLOPS"),
    ("BM_softmax_fwd_bwd_kat", "BM_softmax_fwd_bwd_reference", "bytes_per_second"),
    ("BM_layer_norm_fwd_bwd_kat", "BM_layer_norm_fwd_bwd_reference", "bytes_per_second"),
    ("BM_add_kat", "BM_add_loop", "bytes_per_second"),
    ("BM_add_kat", "BM_memcpy", "bytes_per_second"),
]
UNITS = {"FLOPS": ("GFLOP/s", 1e9), "bytes_per_second": ("GB/s", 1e9)}


def load(paths):
    """{(function, args): {aggregate: row}} from every file."""
    runs = {}
    for path in paths:
        with open(path) as f:
            for row in json.load(f)["benchmarks"]:
                if row.get("run_type") != "aggregate":
                    continue
                name = row["run_name"]  # e.g. BM_sgemm_cblas/n:512/threads:1/real_time
                func, _, args = name.partition("/")
                args = args.removesuffix("/real_time").removesuffix("real_time")
                runs.setdefault((func, args), {})[row["aggregate_name"]] = row
    return runs


def arg_key(args):
    return [int(p.split(":")[1]) for p in args.split("/") if ":" in p and p.split(":")[1].isdigit()]


def interleaved_tables(runs):
    """One table per *_interleaved benchmark: each contender's rate, each ours/reference ratio, and
    the page faults per call of the contenders that had any."""
    for func in sorted({f for f, _ in runs if f.endswith("_interleaved")}):
        keys = sorted((a for f, a in runs if f == func), key=arg_key)
        sample = runs[(func, keys[0])]["median"]
        rates = sorted(c for c in sample if c.endswith(("_FLOPS", "_Bps")))
        ratios = sorted(c for c in sample if "_vs_" in c)
        faults = sorted(c for c in sample if c.endswith("_faults") and any(runs[(func, a)]["max"][c] for a in keys))
        unit, scale = ("GFLOP/s", 1e9) if rates[0].endswith("_FLOPS") else ("GB/s", 1e9)
        print(f"\n{func}: median [min-max] over the repetitions; rates in {unit}\n")
        print("| args | " + " | ".join(rates + ratios + faults) + " |")
        print("| --- |" + " --- |" * (len(rates) + len(ratios) + len(faults)))
        for a in keys:
            agg = runs[(func, a)]
            cells = [f"{agg['median'][c] / scale:.1f} [{agg['min'][c] / scale:.1f}-{agg['max'][c] / scale:.1f}]"
                     for c in rates]
            cells += [f"{agg['median'][c]:.3f} [{agg['min'][c]:.3f}-{agg['max'][c]:.3f}]" for c in ratios]
            cells += [f"{agg['median'][c]:.0f} [{agg['min'][c]:.0f}-{agg['max'][c]:.0f}]" for c in faults]
            print(f"| {a.removesuffix('/min_time:1.000').removesuffix('/min_time:2.000')} | " + " | ".join(cells) + " |")


def main(paths):
    runs = load(paths)
    interleaved_tables(runs)
    for ours, ref, counter in PAIRS:
        unit, scale = UNITS[counter]
        keys = sorted((a for f, a in runs if f == ours and (ref, a) in runs), key=arg_key)
        if not keys:
            continue
        print(f"\n{ours} vs {ref}, each run alone: median [min-max] over the repetitions; rates in {unit}\n")
        print(f"| args | ours ms | ours {unit} | reference ms | reference {unit} | ours / reference |")
        print("| --- | --- | --- | --- | --- | --- |")
        for a in keys:
            o, r = runs[(ours, a)], runs[(ref, a)]

            def rate(agg, which):
                return agg[which][counter] / scale

            def cell(agg):
                return f"{rate(agg, 'median'):.1f} [{rate(agg, 'min'):.1f}-{rate(agg, 'max'):.1f}]"

            ratio = rate(o, "median") / rate(r, "median")
            print(f"| {a} | {o['median']['real_time']:.2f} | {cell(o)} | {r['median']['real_time']:.2f} | {cell(r)} "
                  f"| {ratio:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
