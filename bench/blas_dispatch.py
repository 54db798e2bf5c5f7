#!/usr/bin/python3
"""SGEMM 2048^3 GFLOP/s on 1 and 2 threads: the OpenBLAS kernels kat chooses at start-up against
every OpenBLAS kernel family this CPU runs, and against the run-time dispatch of two other
libraries (oneDNN's dnnl_sgemm and BLIS's cblas_sgemm, Debian's libdnnl2 and libblis4-pthread), as
references for the choice. Rounds alternate the candidates; medians [min-max] of the rounds.

  /usr/bin/python3 bench/blas_dispatch.py [--build build] [--rounds 3] [--families Haswell,SkylakeX]

kat's side runs bench/sgemm (kat::gemm, which calls cblas_sgemm on the caller's thread for one
product of this size on one thread, and cuts it into two blocks on two). The references run in a
fresh interpreter each with numpy buffers and ctypes, thread counts by OMP_NUM_THREADS (oneDNN) and
BLIS_NUM_THREADS (BLIS). A last row times oneDNN's bfloat16 product (bfloat16 operands, float32
accumulation and result): Debian's OpenBLAS 0.3.21 is built without BUILD_BFLOAT16, so its
library has no cblas_sbgemm although cblas.h declares it. Needs scripts/install-deps.sh --bench.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

REFERENCE = r"""
import ctypes, json, sys, time
import numpy as np
lib, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
c = np.zeros((n, n), dtype=np.float32)
P = ctypes.c_void_p
def bf16(x):  # float32 -> bfloat16 bits, rounded to nearest even
    u = x.view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
def from_bf16(h):
    return (h.astype(np.uint32) << 16).view(np.float32)
if lib == "onednn-bf16":
    so = ctypes.CDLL("libdnnl.so.2")
    f = so.dnnl_gemm_bf16bf16f32
    f.argtypes = [ctypes.c_char, ctypes.c_char] + [ctypes.c_int64] * 3 + [ctypes.c_float, P, ctypes.c_int64, P,
                  ctypes.c_int64, ctypes.c_float, P, ctypes.c_int64]
    ah, bh = bf16(a), bf16(b)
    a, b = from_bf16(ah), from_bf16(bh)  # the values the product sees, for the check below
    call = lambda: f(b"N", b"N", n, n, n, 1.0, ah.ctypes.data, n, bh.ctypes.data, n, 0.0, c.ctypes.data, n)
elif lib == "onednn":
    so = ctypes.CDLL("libdnnl.so.2")
    f = so.dnnl_sgemm
    f.argtypes = [ctypes.c_char, ctypes.c_char] + [ctypes.c_int64] * 3 + [ctypes.c_float, P, ctypes.c_int64, P,
                  ctypes.c_int64, ctypes.c_float, P, ctypes.c_int64]
    call = lambda: f(b"N", b"N", n, n, n, 1.0, a.ctypes.data, n, b.ctypes.data, n, 0.0, c.ctypes.data, n)
else:
    so = ctypes.CDLL("libblis.so.4")
    f = so.cblas_sgemm
    f.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, P, ctypes.c_int, P, ctypes.c_int, ctypes.c_float, P,
                  ctypes.c_int]
    call = lambda: f(101, 111, 111, n, n, n, 1.0, a.ctypes.data, n, b.ctypes.data, n, 0.0, c.ctypes.data, n)
rates = []
for r in range(reps + 1):
    t0 = time.perf_counter()
    call()
    s = time.perf_counter() - t0
    if r:
        rates.append(2.0 * n ** 3 / s / 1e9)
if not np.allclose(c, a @ b, rtol=1e-3, atol=1e-2):
    sys.exit("wrong product")
print(json.dumps({"gflops": sorted(rates)[len(rates) // 2]}))
"""


def run(cmd, env):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--families", default="Haswell,SkylakeX,Cooperlake")
    a = p.parse_args()
    sgemm = os.path.abspath(os.path.join(a.build, "bench", "sgemm"))
    if not os.path.exists(sgemm):
        sys.exit(f"blas_dispatch.py: {sgemm} not found; build it: cmake --build {a.build} --target sgemm")
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "KAT_BLAS_CHOICE")}
    rows = {}  # label -> {threads: [rates]}
    chosen = None
    for r in range(a.rounds):
        cases = [("kat's choice (no variable set)", [sgemm, "--reps", str(a.reps)], base),
                 ("OpenBLAS's own choice (KAT_BLAS_CHOICE=off)", [sgemm, "--reps", str(a.reps)],
                  dict(base, KAT_BLAS_CHOICE="off"))]
        for fam in a.families.split(","):
            cases.append((f"OPENBLAS_CORETYPE={fam}", [sgemm, "--reps", str(a.reps)], dict(base, OPENBLAS_CORETYPE=fam)))
        for label, cmd, env in cases:
            res, err = run(cmd, env)
            if res is None:
                rows.setdefault(label, {})["error"] = err
                continue
            if label.startswith("kat's choice"):
                chosen = res.get("blas_kernels")
            for th, g in res["gflops"].items():
                rows.setdefault(label, {}).setdefault(th, []).append(g)
        for lib, label in (("onednn", "oneDNN dnnl_sgemm (its own dispatch)"),
                           ("blis", "BLIS cblas_sgemm (its own dispatch)"),
                           ("onednn-bf16", "oneDNN dnnl_gemm_bf16bf16f32 (bfloat16 in, float32 out)")):
            for th in ("1", "2"):
                env = dict(base, OMP_NUM_THREADS=th, BLIS_NUM_THREADS=th)
                res, err = run(["/usr/bin/python3", "-c", REFERENCE, lib, "2048", str(a.reps)], env)
                if res is None:
                    rows.setdefault(label, {})["error"] = err
                else:
                    rows.setdefault(label, {}).setdefault(th, []).append(res["gflops"])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"SGEMM 2048³ GFLOP/s, {cpu}, {a.rounds} rounds; kat chose {chosen}\n")
    print("| library and kernels | 1 thread | 2 threads |")
    print("| --- | --- | --- |")

    def cell(v):
        if not v:
            return "—"
        return f"{statistics.median(v):.1f} [{min(v):.1f}–{max(v):.1f}]"

    for label, d in rows.items():
        if "error" in d and "1" not in d:
            print(f"| {label} | failed: {d['error']} | |")
        else:
            print(f"| {label} | {cell(d.get('1'))} | {cell(d.get('2'))} |")


if __name__ == "__main__":
    main()
