"""The export test: for each case, trains a small model with `kat train`, exports it with
scripts/export_torch.py, and checks that the PyTorch model of scripts/kat_torch.py gives the logits
kat gives (kat_logits) on the same padded batch, to 1e-4 in the largest absolute difference (1e-3
for the favor-trig map, see TOLERANCE_FAVOR_TRIG). Then checks that the exporter refuses a missing
run, a missing checkpoint and an unsupported config with exit code 2 and a message naming the file.

    /usr/bin/python3 tests/export/compare_logits.py --kat build/bin/kat \
        --kat-logits build/tests/export/kat_logits --source . --work /tmp/export-test
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import torch

TOLERANCE = 1e-4  # largest |logit difference| allowed, absolute
# favor-trig features have either sign, so normalizers come near zero and amplify float32 rounding:
# kat's logits and PyTorch's each differ from a float64 evaluation of the same model by about 1e-4.
TOLERANCE_FAVOR_TRIG = 1e-3

# name, experiment file, overrides. Beside the three attentions, the cases cover post-norm, GELU,
# learned positions, an untied output, separate source and target embeddings, stacks of unequal
# depth, redrawn Performer features, and the relu and favor-trig feature maps.
CASES = [
    ("lm-softmax", "lm-tiny.yaml", ["model.attention.type=softmax"]),
    (
        "lm-linear",
        "lm-tiny.yaml",
        [
            "model.attention.type=linear",
            "model.norm=post",
            "model.activation=gelu",
            "model.positional=learned",
            "model.max_len=64",
            "model.tie_embeddings=false",
        ],
    ),
    (
        "lm-performer",
        "lm-tiny.yaml",
        ["model.attention.type=performer", "model.attention.features=16", "model.attention.redraw_interval=8"],
    ),
    ("copy-softmax", "copy-tiny.yaml", ["model.attention.type=softmax"]),
    (
        "copy-linear",
        "copy-tiny.yaml",
        [
            "model.attention.type=linear",
            "model.share_embeddings=false",
            "model.tie_embeddings=false",
            "model.encoder_layers=1",
            "model.decoder_layers=3",
        ],
    ),
    (
        "copy-performer",
        "copy-tiny.yaml",
        [
            "model.attention.type=performer",
            "model.attention.features=24",
            "model.attention.redraw_interval=8",
            "model.norm=post",
            "model.share_embeddings=false",
        ],
    ),
    (
        "lm-favor-trig",
        "lm-tiny.yaml",
        ["model.attention.type=linear", "model.attention.feature_map=favor-trig", "model.attention.features=16"],
    ),
    ("copy-relu", "copy-tiny.yaml", ["model.attention.type=linear", "model.attention.feature_map=relu"]),
]
COMMON = [
    "train.steps=30",
    "schedule.warmup=5",
    "train.valid_interval=30",
    "train.checkpoint_interval=30",
    "train.log_interval=10",
]


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kwargs):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {r.returncode}:\n{r.stdout}")
    return r.stdout


def padded_rows(rng, vocab, length, lengths, first=None):
    """Random ids in [4, vocab) (no specials but `first`), each row padded with 0 past its length."""
    rows = rng.integers(4, vocab, size=(len(lengths), length))
    if first is not None:
        rows[:, 0] = first
    for r, n in enumerate(lengths):
        rows[r, n:] = 0
    return rows


def write_input(path, task, vocab, seed):
    """The batch both sides read: kat_logits from the text file, PyTorch from the returned dict."""
    rng = np.random.default_rng(seed)
    batch = {}
    if task == "translation":
        batch["src_lengths"] = [12, 7, 9]
        batch["src"] = padded_rows(rng, vocab, 12, batch["src_lengths"])
        batch["tgt_lengths"] = [10, 6, 10]
        batch["tgt"] = padded_rows(rng, vocab, 10, batch["tgt_lengths"], first=1)  # bos first
    else:
        batch["tgt_lengths"] = [40, 23, 40]  # beyond one 32-row chunk of kat's causal op
        batch["tgt"] = padded_rows(rng, vocab, 40, batch["tgt_lengths"])
    with open(path, "w") as f:
        for key in ("src", "tgt"):
            for row in batch.get(key, []):
                f.write(f"{key}: {' '.join(str(int(v)) for v in row)}\n")
            if key + "_lengths" in batch:
                f.write(f"{key}_lengths: {' '.join(str(n) for n in batch[key + '_lengths'])}\n")
    return batch


def torch_logits(model, batch):
    with torch.no_grad():
        tgt = torch.from_numpy(batch["tgt"]).long()
        if "src" in batch:
            src = torch.from_numpy(batch["src"]).long()
            return model(src, tgt, src_lengths=batch["src_lengths"], tgt_lengths=batch["tgt_lengths"]).numpy()
        return model(tgt, lengths=batch["tgt_lengths"]).numpy()


def check_case(args, kat_torch, name, config, overrides):
    run_dir = os.path.join(args.work, name)
    sets = [x for o in COMMON + overrides + [f"output.dir={run_dir}"] for x in ("--set", o)]
    run([args.kat, "train", os.path.join(args.source, "configs", config)] + sets)
    out = os.path.join(args.work, name + ".pt")
    run([sys.executable, os.path.join(args.source, "scripts", "export_torch.py"), run_dir, out, "--checkpoint", "last"])
    model = kat_torch.load(out)
    if model.training:
        fail(f"{name}: kat_torch.load returned a model in training mode")
    c = model.config
    input_path = os.path.join(args.work, name + ".ids")
    batch = write_input(input_path, c["task"], c["tgt_vocab"], seed=len(name))
    kat_path = os.path.join(args.work, name + ".npy")
    run([args.kat_logits, run_dir, "last", input_path, kat_path])
    kat = np.load(kat_path)
    ours = torch_logits(model, batch)
    if kat.shape != ours.shape:
        fail(f"{name}: kat's logits are {kat.shape}, PyTorch's {ours.shape}")
    diff = float(np.abs(kat - ours).max())
    scale = float(np.abs(kat).max())
    return diff, scale


def expect_refusal(cmd, names, what):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 2 or names not in r.stderr:
        fail(f"{what}: expected exit code 2 and a message naming {names}, got {r.returncode}: {r.stderr}")


def check_refusals(args, some_run):
    export = [sys.executable, os.path.join(args.source, "scripts", "export_torch.py")]
    out = os.path.join(args.work, "refused.pt")
    missing = os.path.join(args.work, "no-such-run")
    expect_refusal(export + [missing, out], missing, "a missing run")
    missing = os.path.join(some_run, "checkpoints", "step-99999999.h5")
    expect_refusal(export + [some_run, out, "--checkpoint", missing], missing, "a missing checkpoint")
    # A feature map registered by a program has no PyTorch counterpart.
    odd_run = os.path.join(args.work, "odd-feature-map")
    shutil.copytree(some_run, odd_run)
    odd = os.path.join(odd_run, "checkpoints", "odd.h5")
    shutil.copy(os.path.join(odd_run, "checkpoints", "last.h5"), odd)
    with h5py.File(odd, "r+") as f:
        config = re.sub(r"feature_map: .*", 'feature_map: "learned-elu"', f.attrs["config"].decode())
        f.attrs["config"] = np.bytes_(config.encode())
    expect_refusal(export + [odd_run, out, "--checkpoint", odd], odd, "an unsupported feature map")
    # Attention kat_torch does not build: a per-head decay, a window, a hybrid stack.
    with h5py.File(odd, "r+") as f:
        plain = re.sub(r"feature_map: .*", 'feature_map: ""', f.attrs["config"].decode())
    for key, edit in (
        ("model.attention.decay", lambda c: c.replace("    eps: ", "    decay: [0.9]\n    eps: ", 1)),
        ("model.attention.window", lambda c: re.sub(r"    window: 0", "    window: 8", c, count=1)),
        ("model.layer_attention", lambda c: c.replace("  attention:\n", '  layer_attention: ["linear"]\n  attention:\n', 1)),
    ):
        edited = edit(plain)
        if edited == plain:
            fail(f"the test could not add {key} to the config")
        with h5py.File(odd, "r+") as f:
            f.attrs["config"] = np.bytes_(edited.encode())
        expect_refusal(export + [odd_run, out, "--checkpoint", odd], key, key)
    if os.path.exists(out):
        fail(f"a refused export wrote {out}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kat", required=True)
    p.add_argument("--kat-logits", required=True)
    p.add_argument("--source", required=True, help="the kat source tree")
    p.add_argument("--work", required=True, help="a folder for the runs (emptied first)")
    args = p.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    sys.path.insert(0, os.path.join(args.source, "scripts"))
    import kat_torch

    torch.set_num_threads(1)
    t0 = time.monotonic()
    failures = []
    print(f"{'case':<16} {'max |diff|':>11} {'max |logit|':>12}")
    for name, config, overrides in CASES:
        diff, scale = check_case(args, kat_torch, name, config, overrides)
        print(f"{name:<16} {diff:>11.2e} {scale:>12.3f}")
        tolerance = TOLERANCE_FAVOR_TRIG if "favor-trig" in name else TOLERANCE
        if not diff <= tolerance:
            failures.append(f"{name}: logits differ by up to {diff:.3g} (> {tolerance})")
    check_refusals(args, os.path.join(args.work, "copy-linear"))
    print(f"{len(CASES)} models in {time.monotonic() - t0:.1f} s")
    if failures:
        fail("\n".join(failures))
    print("export: PyTorch logits equal those of kat")


if __name__ == "__main__":
    main()
