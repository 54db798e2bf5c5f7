#!/usr/bin/env python3
"""Exports a kat run to PyTorch: one file that scripts/kat_torch.py loads.

    /usr/bin/python3 scripts/export_torch.py runs/copy-tiny copy.pt [--checkpoint best|last|FILE]

then, in Python, with kat_torch.py on the path:

    import kat_torch
    model = kat_torch.load("copy.pt")

The file is a dict saved with torch.save: {"config": {...}, "state_dict": {...}}. The state dict has
the names of kat's model (docs/export.md) with nn.Linear weights as (out, in), kat's transposed;
the config holds what kat_torch.build_model needs. Generator states (dropout, feature redraws) and
the optimizer are left out.

Needs PyTorch and h5py only (Debian: python3-torch, python3-h5py). Exit code 2 with a message
naming the file when the run, its checkpoint or its configuration cannot be exported.
"""

import argparse
import json
import os
import sys

SCRIPTS = os.path.dirname(os.path.abspath(__file__))

# The defaults of the keys the resolved config.yaml may leave out (train/experiment_schema.cpp):
# kat writes only the keys that have an effect.
MODEL_DEFAULTS = {
    "layers": 2,
    "encoder_layers": 0,
    "decoder_layers": 0,
    "d_model": 128,
    "heads": 4,
    "d_ff": 512,
    "dropout": 0.1,
    "activation": "relu",
    "norm": "pre",
    "positional": "sinusoidal",
    "max_len": 1024,
    "tie_embeddings": True,
    "share_embeddings": False,
}
ATTENTION_DEFAULTS = {"type": "softmax", "feature_map": "", "features": 0, "feature_eps": 1e-6, "eps": -1.0}
DEFAULT_FEATURE_MAP = {"linear": "elu", "performer": "favor+"}
FEATURE_MAPS = ("elu", "relu", "favor+", "favor-trig")
NORM_EPS = 1e-5  # kat's LayerNorm epsilon (TransformerLayerOptions::norm_eps; not a config key)
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # kat's special ids, the same for every tokenizer (data/special_tokens.h)


class ExportError(Exception):
    pass


# --- The YAML kat writes -----------------------------------------------------------------------


def parse_scalar(text):
    """A YAML scalar as kat's emitter writes it: a quoted string, true/false, a number, or plain text."""
    if text[:1] == '"':
        return json.loads(text)
    if text[:1] == "'":
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def strip_comment(line):
    """The line without a trailing '# comment' outside quotes."""
    quote, escaped = None, False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif quote:
            if ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def parse_yaml(text, where):
    """Block mappings of scalars, and block sequences of scalars: all that the resolved experiment
    uses. (A flow collection, [a, b] or {a: 1}, is kept as its text.)"""
    root = {}
    stack = [(-1, root, None, None)]  # (indent, container, its parent, its key)
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw).rstrip()
        if not line.strip() or line.strip() == "---":
            continue
        indent = len(line) - len(line.lstrip(" "))
        item = line.strip()
        while indent <= stack[-1][0] and not (item.startswith("- ") and indent == stack[-1][0]):
            stack.pop()
        _, container, parent, key = stack[-1]
        if item == "-" or item.startswith("- "):
            if isinstance(container, dict) and not container and parent is not None:
                container = parent[key] = []  # "key:" followed by "- value" lines
                stack[-1] = (stack[-1][0], container, parent, key)
            if not isinstance(container, list):
                raise ExportError(f"{where}:{number}: a list item outside a list: '{item}'")
            container.append(parse_scalar(item[1:].strip()))
            continue
        name, sep, value = item.partition(":")
        if not sep or (value and value[0] not in " \t") or not isinstance(container, dict):
            raise ExportError(f"{where}:{number}: expected 'key: value', got '{item}'")
        value = value.strip()
        if value:
            container[name] = parse_scalar(value)
        else:
            container[name] = {}
            stack.append((indent, container[name], container, name))
    return root


# --- Checkpoint to state dict ------------------------------------------------------------------


def resolve_checkpoint(run_dir, which):
    if not os.path.isdir(run_dir):
        raise ExportError(f"{run_dir}: no such run folder")
    if not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        raise ExportError(f"{run_dir}: not a run folder (no config.yaml; kat train writes one into output.dir)")
    if which in ("best", "last"):
        path = os.path.join(run_dir, "checkpoints", which + ".h5")
    else:
        path = which
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such checkpoint (has the run validated or saved yet?)")
    return path


def text_attr(attrs, name):
    value = attrs.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if hasattr(value, "item") and isinstance(value.item(), bytes):  # numpy.bytes_
        return value.item().decode("utf-8")
    return value


def read_model_tensors(f, path):
    """{dotted name: numpy array} of /model, without the generator states (int64 'rng' datasets)."""
    import h5py

    if "model" not in f:
        raise ExportError(f"{path}: no /model group (not a kat checkpoint?)")
    tensors = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.endswith("/rng"):
            tensors[name.replace("/", ".")] = obj[()]

    try:
        f["model"].visititems(visit)
    except OSError as e:  # a Fletcher-32 mismatch, a truncated file
        raise ExportError(f"{path}: cannot read a tensor: {e}") from e
    return tensors


def model_config(experiment, tensors, path):
    """The config dict of kat_torch.build_model, from the resolved experiment and the tensor shapes."""
    task = experiment.get("task")
    if task not in ("lm", "translation"):
        raise ExportError(f"{path}: unsupported task '{task}' (the export knows lm and translation)")
    given = experiment.get("model", {})
    for key in ("layer_attention", "encoder_attention", "decoder_attention", "cross_attention"):
        section = given.get(key)
        if section and (not isinstance(section, dict) or section.get("type")):  # an override names its type
            raise ExportError(
                f"{path}: model.{key} (a hybrid) is not exported: the export knows one attention for every sublayer"
            )
    if "decay" in given.get("attention", {}):
        raise ExportError(f"{path}: model.attention.decay is not exported (kat_torch has no decayed attention)")
    if given.get("attention", {}).get("window", 0):
        raise ExportError(f"{path}: model.attention.window is not exported (kat_torch has no windowed attention)")
    m = dict(MODEL_DEFAULTS)
    m.update({k: v for k, v in given.items() if k != "attention"})
    a = dict(ATTENTION_DEFAULTS)
    a.update(experiment.get("model", {}).get("attention", {}))
    if a["type"] not in ("softmax", "linear", "performer"):
        raise ExportError(f"{path}: unsupported model.attention.type '{a['type']}' (known: softmax, linear, performer)")
    attention = {"type": a["type"]}
    if a["type"] != "softmax":
        feature_map = a["feature_map"] or DEFAULT_FEATURE_MAP[a["type"]]
        if feature_map not in FEATURE_MAPS:
            raise ExportError(
                f"{path}: unsupported model.attention.feature_map '{feature_map}' "
                f"(the export knows {', '.join(FEATURE_MAPS)}; a map that a program registered needs "
                "PyTorch code of its own)"
            )
        attention.update(
            feature_map=feature_map,
            features=int(a["features"]),
            feature_eps=float(a["feature_eps"]),
            eps=float(a["eps"]),  # negative: the feature map's own (kat_torch.make_attention)
        )
    for key, allowed in (("activation", ("relu", "gelu")), ("norm", ("pre", "post"))):
        if m[key] not in allowed:
            raise ExportError(f"{path}: unsupported model.{key} '{m[key]}' (known: {', '.join(allowed)})")
    if m["positional"] not in ("sinusoidal", "learned", "none"):
        raise ExportError(f"{path}: unsupported model.positional '{m['positional']}'")

    def rows(name):
        if name not in tensors:
            raise ExportError(f"{path}: no tensor {name} in /model; the checkpoint does not fit its config")
        return int(tensors[name].shape[0])

    shared = task == "translation" and bool(m["share_embeddings"])
    tgt_vocab = rows("embedding.weight" if shared else "decoder.input.embedding.weight")
    src_vocab = 0
    if task == "translation":
        src_vocab = tgt_vocab if shared else rows("encoder.input.embedding.weight")
    layers = int(m["layers"])
    return {
        "format": "kat-torch",
        "format_version": 1,
        "task": task,
        "src_vocab": src_vocab,
        "tgt_vocab": tgt_vocab,
        "encoder_layers": (int(m["encoder_layers"]) or layers) if task == "translation" else 0,
        "decoder_layers": (int(m["decoder_layers"]) or layers) if task == "translation" else layers,
        "d_model": int(m["d_model"]),
        "heads": int(m["heads"]),
        "d_ff": int(m["d_ff"]),
        "dropout": float(m["dropout"]),
        "activation": m["activation"],
        "norm": m["norm"],
        "norm_eps": NORM_EPS,
        "positional": m["positional"],
        "max_len": int(m["max_len"]),
        "tie_output": bool(m["tie_embeddings"]),
        "share_embeddings": shared,
        "attention": attention,
        "pad_id": PAD_ID,
        "bos_id": BOS_ID,
        "eos_id": EOS_ID,
    }


def kat_name(torch_name, config):
    """The kat tensor a PyTorch state-dict entry comes from: the same dotted name, except that with a
    shared vocabulary both stacks read the model's one embedding."""
    if config["share_embeddings"] and torch_name.endswith("input.embedding.weight"):
        return "embedding.weight"
    return torch_name


def convert(tensors, config, path):
    """The state dict of kat_torch's model for config, from kat's tensors; checks names and shapes."""
    import torch

    sys.path.insert(0, SCRIPTS)
    import kat_torch

    model = kat_torch.build_model(config)
    linear = {name + ".weight" for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    expected = model.state_dict()
    state = {}
    converted = {}  # one tensor per kat name, so a shared embedding stays one tensor in the file
    for name, target in expected.items():
        source = kat_name(name, config)
        if source not in tensors:
            raise ExportError(f"{path}: no tensor {source} in /model; the checkpoint does not fit its config")
        if source not in converted:
            value = torch.from_numpy(tensors[source].astype("float32"))
            if name in linear:
                value = value.t()  # kat's (in, out) to nn.Linear's (out, in)
            converted[source] = value.contiguous()
        value = converted[source]
        if tuple(value.shape) != tuple(target.shape):
            raise ExportError(
                f"{path}: tensor {source} is {tuple(tensors[source].shape)}, the model needs "
                f"{tuple(target.shape)} for {name}; the checkpoint does not fit its config"
            )
        state[name] = value
    unused = sorted(set(tensors) - set(converted))
    if unused:
        raise ExportError(
            f"{path}: tensors the PyTorch model has no place for: {', '.join(unused[:5])}"
            + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        )
    return state


def export(run_dir, out, which):
    try:
        import h5py
        import torch
    except ImportError as e:
        raise ExportError(
            f"needs PyTorch and h5py ({e}); on Debian: apt-get install python3-torch python3-h5py, "
            "and run with /usr/bin/python3"
        ) from e
    path = resolve_checkpoint(run_dir, which)
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ExportError(f"{out}: its folder does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ExportError(f"{path}: not a readable HDF5 file ({e})") from e
    with f:
        if text_attr(f.attrs, "format") != "kat-checkpoint":
            raise ExportError(f"{path}: not a kat checkpoint (no format = kat-checkpoint attribute)")
        if int(f.attrs.get("format_version", 0)) != 1:
            raise ExportError(f"{path}: checkpoint format version {f.attrs.get('format_version')}, the export reads 1")
        if int(f.attrs.get("complete", 0)) != 1:
            raise ExportError(f"{path}: an incomplete checkpoint (its write did not finish)")
        # The experiment the weights were trained with; config.yaml of the run says the same.
        config_text, config_where = text_attr(f.attrs, "config"), path + " (config attribute)"
        if not config_text:
            config_where = os.path.join(run_dir, "config.yaml")
            with open(config_where, encoding="utf-8") as c:
                config_text = c.read()
        experiment = parse_yaml(config_text, config_where)
        tensors = read_model_tensors(f, path)
        step = int(f["trainer"].attrs.get("step", -1)) if "trainer" in f else -1
        kat_version = text_attr(f.attrs, "kat_version") or ""
    config = model_config(experiment, tensors, path)
    config["source"] = {
        "run": os.path.abspath(run_dir),
        "checkpoint": os.path.abspath(path),
        "step": step,
        "kat_version": kat_version,
    }
    state = convert(tensors, config, path)
    tmp = out + ".tmp"  # written whole, then renamed: a failed export leaves no half file
    try:
        torch.save({"config": config, "state_dict": state}, tmp)
        os.replace(tmp, out)
    except (OSError, RuntimeError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ExportError(f"{out}: cannot write ({e})") from e
    return config, path


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a kat run to a PyTorch file that scripts/kat_torch.py loads.")
    p.add_argument("run_dir", help="the run folder (output.dir of the experiment)")
    p.add_argument("out", help="the PyTorch file to write, e.g. model.pt")
    p.add_argument("--checkpoint", default="best", help="best (default), last, or a checkpoint file")
    args = p.parse_args(argv)
    try:
        config, path = export(args.run_dir, args.out, args.checkpoint)
    except ExportError as e:
        print(f"export_torch: {e}", file=sys.stderr)
        return 2
    a = config["attention"]
    kind = a["type"] if a["type"] == "softmax" else f"{a['type']} ({a['feature_map']})"
    print(f"export_torch: {path} (step {config['source']['step']}, {config['task']}, {kind} attention) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
