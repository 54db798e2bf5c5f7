"""The models kat trains, in PyTorch: a decoder-only language model and an encoder-decoder
translation model with softmax, linear (Katharopoulos et al. 2020) or Performer (Choromanski et
al. 2021) attention. Layer order, norms, positional encodings, embedding scaling and weight tying
follow kat's C++ layers (layers/transformer*.cpp, layers/multi_head_attention.cpp,
layers/attention/), so a checkpoint exported by scripts/export_torch.py gives the same logits.

This file imports only torch; copy it into a project as it is.

    import kat_torch
    model = kat_torch.load("copy.pt")             # eval mode, on the CPU
    logits = model(src, tgt_in)                   # translation: (B, T, tgt_vocab)
    logits = model(ids)                           # language model: (B, N, vocab)

Token ids are int64 (batch, length) tensors. kat's special ids are fixed: pad 0, bos 1, eos 2
(config["pad_id"], ["bos_id"], ["eos_id"]). A translation model reads the source and the target
shifted right (bos first); padded batches pass per-item lengths (src_lengths, tgt_lengths or
lengths), keys past an item's length are then masked as in kat.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

FORMAT = "kat-torch"
FORMAT_VERSION = 1


def padding_weights(key_lengths, keys, like):
    """(B, 1, keys, 1) ones for real keys and zeros for padding, or None without lengths."""
    if key_lengths is None:
        return None
    lengths = torch.as_tensor(key_lengths, device=like.device).reshape(-1, 1)
    real = torch.arange(keys, device=like.device).reshape(1, keys) < lengths  # (B, keys)
    return real[:, None, :, None].to(like.dtype)


# --- Softmax attention -------------------------------------------------------------------------


class SoftmaxAttention(nn.Module):
    """softmax(Q K^T / sqrt(D) + mask) V (Vaswani et al. 2017, eq. 1)."""

    def __init__(self, head_dim, causal):
        super().__init__()
        self.scale = 1.0 / math.sqrt(head_dim)
        self.causal = causal

    def forward(self, q, k, v, key_lengths=None):
        # q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv) -> (B, H, N, Dv)
        n, m = q.shape[2], k.shape[2]
        scores = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, N, M)
        visible = torch.ones(n, m, dtype=torch.bool, device=q.device)
        if self.causal:  # query i is position i + (M - N) of the keys
            visible = torch.tril(visible, diagonal=m - n)
        visible = visible[None, None]
        weights = padding_weights(key_lengths, m, q)
        if weights is not None:
            visible = visible & (weights.transpose(-2, -1) > 0)  # (B, 1, N, M)
        scores = scores.masked_fill(~visible, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v


# --- Feature maps ------------------------------------------------------------------------------
#
# A feature map returns (f, log_scale) for x (B, H, N, D): features phi(x) = f * exp(log_scale)
# with f of bounded size and log_scale (B, H, N, 1) the row's log-magnitude, or None when f is
# phi(x) itself. Linear attention ignores the query rows' log_scale (a positive factor per query
# cancels between numerator and normalizer) and divides keys by a common factor, as kat does
# (layers/attention/feature_maps/feature_map.h).


class EluFeatureMap(nn.Module):
    """phi(x) = elu(x) + 1 (Katharopoulos et al. 2020, eq. 7)."""

    normalizer_eps = 1e-6

    def forward(self, x):
        return F.elu(x) + 1.0, None


class ReluFeatureMap(nn.Module):
    """phi(x) = relu(x) + eps."""

    normalizer_eps = 1e-6

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return F.relu(x) + self.eps, None


class FavorFeatureMap(nn.Module):
    """Random features of the softmax kernel exp(q . k / sqrt(D)) (Choromanski et al. 2021).

    With x' = x / D^(1/4) and the rows w_i of the projection (m, D):
      favor+      phi(x) = exp(w_i . x' - |x'|^2 / 2) / sqrt(m)                  (Lemma 1), M = m
      favor-trig  phi(x) = exp(|x'|^2 / 2) / sqrt(m) [sin(w_i . x'), cos(w_i . x')],   M = 2m
    The projection is the one the checkpoint holds (a buffer), so nothing is redrawn.
    """

    normalizer_eps = 1e-30  # stabilized features have no fixed scale: eps only guards an empty sum

    def __init__(self, head_dim, features, trigonometric=False):
        super().__init__()
        self.trigonometric = trigonometric
        self.register_buffer("projection", torch.zeros(features, head_dim))

    def forward(self, x):
        m, d = self.projection.shape
        c = d**-0.25
        wx = c * (x @ self.projection.t())  # w_i . x' (B, H, N, m)
        half_sq = (c * c) * (x * x).sum(-1, keepdim=True) / 2  # |x'|^2 / 2 (B, H, N, 1)
        if self.trigonometric:
            return torch.cat([torch.sin(wx), torch.cos(wx)], -1) / math.sqrt(m), half_sq
        a = wx - half_sq
        top = a.amax(-1, keepdim=True)  # the row's largest exponent
        return torch.exp(a - top) / math.sqrt(m), top


# --- Linear attention --------------------------------------------------------------------------


class LinearAttention(nn.Module):
    """phi(Q) (phi(K)^T V) / (phi(Q) . sum phi(K) + eps) (Katharopoulos et al. 2020, eq. 6); causal
    through running sums (eq. 9). With FAVOR features it is the Performer."""

    def __init__(self, feature_map, causal, eps):
        super().__init__()
        self.feature_map = feature_map
        self.causal = causal
        self.eps = eps

    def forward(self, q, k, v, key_lengths=None):
        # q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv) -> (B, H, N, Dv)
        phi_q, _ = self.feature_map(q)  # (B, H, N, M)
        f_k, log_k = self.feature_map(k)
        weights = padding_weights(key_lengths, k.shape[2], k)
        if self.causal:
            return causal_linear_attention(phi_q, f_k, log_k, v, self.eps, weights)
        phi_k = f_k if log_k is None else f_k * torch.exp(log_k - log_k.amax(2, keepdim=True))
        if weights is not None:
            phi_k = phi_k * weights  # padded keys add nothing to either sum
        kv = phi_k.transpose(-2, -1) @ v  # (B, H, M, Dv)
        den = (phi_q * phi_k.sum(2, keepdim=True)).sum(-1, keepdim=True) + self.eps  # (B, H, N, 1)
        return (phi_q @ kv) / den


def causal_linear_attention(phi_q, f_k, log_k, v, eps, weights=None, chunk=32):
    """O_i = phi(Q_i)^T S_i / (phi(Q_i) . z_i + eps) with S_i = sum_{j<=i} phi(K_j) V_j^T and
    z_i = sum_{j<=i} phi(K_j) (Katharopoulos et al. 2020, eq. 9), where phi(K_j) = f_k_j exp(log_k_j).

    The sums advance `chunk` rows at a time: cumulative sums inside a chunk, its last S and z
    carried into the next (memory O(chunk M Dv) per head, whatever the length).

    Stabilized keys (log_k given): kat keeps S_i and z_i in units of exp(C_i), C_i = max_{j<=i}
    log_k_j, and adds eps in those units. Here a chunk works in units of exp(r), r = C at its last
    row: its keys are f_k exp(log_k - r) <= f_k, the carried sums are rescaled to the new unit, and
    eps is scaled by exp(C_i - r), which gives kat's result. These sums run in float64, so keys far
    below the largest of their chunk do not underflow (up to about 700 nats below it).
    """
    out_dtype = v.dtype
    if log_k is not None:
        phi_q, f_k, log_k, v = phi_q.double(), f_k.double(), log_k.double(), v.double()
        running = torch.cummax(log_k, dim=2).values  # C_i (B, H, N, 1)
    if weights is not None:
        f_k = f_k * weights.to(f_k.dtype)
    b, h, n, m = f_k.shape
    s = f_k.new_zeros(b, h, 1, m, v.shape[-1])  # S before the chunk (B, H, 1, M, Dv)
    z = f_k.new_zeros(b, h, 1, m)  # z before the chunk (B, H, 1, M)
    unit = None  # the log of the unit s and z are in
    out = []
    for i0 in range(0, n, chunk):
        rows = slice(i0, i0 + chunk)
        q, k, vc, eps_c = phi_q[:, :, rows], f_k[:, :, rows], v[:, :, rows], eps
        if log_k is not None:
            r = running[:, :, rows][:, :, -1:]  # (B, H, 1, 1)
            k = k * torch.exp(log_k[:, :, rows] - r)
            eps_c = eps * torch.exp(running[:, :, rows] - r)
            if unit is not None:
                s, z = s * torch.exp(unit - r).unsqueeze(-1), z * torch.exp(unit - r)
            unit = r
        s = s + torch.cumsum(k.unsqueeze(-1) * vc.unsqueeze(-2), dim=2)  # S_i (B, H, L, M, Dv)
        z = z + torch.cumsum(k, dim=2)  # z_i (B, H, L, M)
        num = (q.unsqueeze(-2) @ s).squeeze(-2)  # (B, H, L, Dv)
        den = (q * z).sum(-1, keepdim=True) + eps_c  # (B, H, L, 1)
        out.append(num / den)
        s, z = s[:, :, -1:], z[:, :, -1:]
    return torch.cat(out, dim=2).to(out_dtype)


def make_attention(attention, head_dim, causal):
    """The attention kernel of config["attention"] (as export_torch.py writes it)."""
    if attention["type"] == "softmax":
        return SoftmaxAttention(head_dim, causal)
    name = attention["feature_map"]
    if name == "elu":
        feature_map = EluFeatureMap()
    elif name == "relu":
        feature_map = ReluFeatureMap(attention["feature_eps"])
    elif name in ("favor+", "favor-trig"):
        feature_map = FavorFeatureMap(head_dim, attention["features"], trigonometric=name == "favor-trig")
    else:
        raise ValueError(f"kat_torch: unknown feature map '{name}' (known: elu, relu, favor+, favor-trig)")
    eps = attention["eps"] if attention["eps"] >= 0 else feature_map.normalizer_eps
    return LinearAttention(feature_map, causal, eps)


# --- Transformer layers ------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, heads, attention, causal):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.o_proj = nn.Linear(d_model, d_model)
        self.attention = make_attention(attention, d_model // heads, causal)

    def split_heads(self, x):  # (B, N, E) -> (B, H, N, D)
        b, n, e = x.shape
        return x.reshape(b, n, self.heads, e // self.heads).transpose(1, 2)

    def forward(self, x, memory=None, key_lengths=None):
        # x (B, N, E); memory (B, M, E) for cross-attention, None for self-attention.
        kv = x if memory is None else memory
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(kv))
        v = self.split_heads(self.v_proj(kv))
        o = self.attention(q, k, v, key_lengths)  # (B, H, N, D)
        b, h, n, d = o.shape
        return self.o_proj(o.transpose(1, 2).reshape(b, n, h * d))


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, activation, dropout):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.activation = F.gelu if activation == "gelu" else F.relu  # gelu: the exact (erf) form
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.fc2(self.dropout(self.activation(self.fc1(x))))


def residual(x, pre_norm, norm, dropout, f):
    """pre-norm x + drop(f(norm(x))), post-norm norm(x + drop(f(x)))."""
    if pre_norm:
        return x + dropout(f(norm(x)))
    return norm(x + dropout(f(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pre_norm = c["norm"] == "pre"
        self.self_attn = MultiHeadAttention(c["d_model"], c["heads"], c["attention"], causal=False)
        self.ffn = FeedForward(c["d_model"], c["d_ff"], c["activation"], c["dropout"])
        self.norm1 = nn.LayerNorm(c["d_model"], eps=c["norm_eps"])
        self.norm2 = nn.LayerNorm(c["d_model"], eps=c["norm_eps"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, lengths=None):
        h = residual(x, self.pre_norm, self.norm1, self.dropout, lambda y: self.self_attn(y, None, lengths))
        return residual(h, self.pre_norm, self.norm2, self.dropout, self.ffn)


class DecoderLayer(nn.Module):
    def __init__(self, c, cross):
        super().__init__()
        self.pre_norm = c["norm"] == "pre"
        self.self_attn = MultiHeadAttention(c["d_model"], c["heads"], c["attention"], causal=True)
        self.cross_attn = MultiHeadAttention(c["d_model"], c["heads"], c["attention"], causal=False) if cross else None
        self.ffn = FeedForward(c["d_model"], c["d_ff"], c["activation"], c["dropout"])
        self.norm1 = nn.LayerNorm(c["d_model"], eps=c["norm_eps"])
        self.norm2 = nn.LayerNorm(c["d_model"], eps=c["norm_eps"]) if cross else None
        self.norm3 = nn.LayerNorm(c["d_model"], eps=c["norm_eps"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, lengths=None, memory=None, memory_lengths=None):
        h = residual(x, self.pre_norm, self.norm1, self.dropout, lambda y: self.self_attn(y, None, lengths))
        if self.cross_attn is not None:
            h = residual(
                h, self.pre_norm, self.norm2, self.dropout, lambda y: self.cross_attn(y, memory, memory_lengths)
            )
        return residual(h, self.pre_norm, self.norm3, self.dropout, self.ffn)


# --- Stacks and models -------------------------------------------------------------------------


def sinusoids(start, n, dim):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), (n, dim)."""
    pos = torch.arange(start, start + n, dtype=torch.float64)[:, None]
    angle = pos / 10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (n, ceil(dim / 2))
    pe = torch.zeros(n, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)[:, : dim // 2]
    return pe


class PositionalEncoding(nn.Module):
    """Fixed sinusoids (Vaswani et al. 2017, Section 3.5), a learned table, or none."""

    def __init__(self, kind, dim, max_len):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, dim))

    def forward(self, x, start=0):  # x (B, N, E)
        n = x.shape[1]
        if self.kind == "sinusoidal":
            return x + sinusoids(start, n, x.shape[2]).to(x.dtype).to(x.device)
        if self.kind == "learned":
            if start + n > self.table.shape[0]:
                raise ValueError(
                    f"kat_torch: positions up to {start + n} but the learned table has {self.table.shape[0]}"
                )
            return x + self.table[start : start + n]
        return x


class TokenInput(nn.Module):
    """Embedding scaled by sqrt(d_model), positions, dropout."""

    def __init__(self, c, vocab, shared=None):
        super().__init__()
        # A shared embedding is the same module in both stacks and at the model's top level.
        self.embedding = shared if shared is not None else nn.Embedding(vocab, c["d_model"], padding_idx=c["pad_id"])
        self.scale = math.sqrt(c["d_model"])
        self.positions = PositionalEncoding(c["positional"], c["d_model"], c["max_len"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, ids, start=0):
        return self.dropout(self.positions(self.embedding(ids) * self.scale, start))


class TransformerEncoder(nn.Module):
    def __init__(self, c, vocab, layers, shared=None):
        super().__init__()
        self.input = TokenInput(c, vocab, shared)
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(layers))
        self.norm = nn.LayerNorm(c["d_model"], eps=c["norm_eps"]) if c["norm"] == "pre" else None

    def forward(self, ids, lengths=None):  # (B, S) -> memory (B, S, E)
        h = self.input(ids)
        for layer in self.layers:
            h = layer(h, lengths)
        return self.norm(h) if self.norm is not None else h


class TransformerDecoder(nn.Module):
    def __init__(self, c, vocab, layers, cross, shared=None):
        super().__init__()
        self.input = TokenInput(c, vocab, shared)
        self.layers = nn.ModuleList(DecoderLayer(c, cross) for _ in range(layers))
        self.norm = nn.LayerNorm(c["d_model"], eps=c["norm_eps"]) if c["norm"] == "pre" else None
        self.out_proj = None if c["tie_output"] else nn.Linear(c["d_model"], vocab, bias=False)

    def forward(self, ids, lengths=None, memory=None, memory_lengths=None):  # (B, T) -> logits (B, T, vocab)
        h = self.input(ids)
        for layer in self.layers:
            h = layer(h, lengths, memory, memory_lengths)
        if self.norm is not None:
            h = self.norm(h)
        if self.out_proj is not None:
            return self.out_proj(h)
        return F.linear(h, self.input.embedding.weight)  # tied to the embedding


class TransformerLM(nn.Module):
    """Decoder-only language model: ids (B, N) -> logits (B, N, vocab); position t sees tokens <= t."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.decoder = TransformerDecoder(c, c["tgt_vocab"], c["decoder_layers"], cross=False)

    def forward(self, ids, lengths=None):
        return self.decoder(ids, lengths)


class Seq2Seq(nn.Module):
    """Encoder-decoder: src (B, S), tgt_in (B, T) (the target shifted right) -> logits (B, T, tgt_vocab)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embedding = None
        if c["share_embeddings"]:
            self.embedding = nn.Embedding(c["src_vocab"], c["d_model"], padding_idx=c["pad_id"])
        self.encoder = TransformerEncoder(c, c["src_vocab"], c["encoder_layers"], self.embedding)
        self.decoder = TransformerDecoder(c, c["tgt_vocab"], c["decoder_layers"], True, self.embedding)

    def encode(self, src, src_lengths=None):
        return self.encoder(src, src_lengths)

    def forward(self, src, tgt_in, src_lengths=None, tgt_lengths=None):
        memory = self.encoder(src, src_lengths)
        return self.decoder(tgt_in, tgt_lengths, memory, src_lengths)


def build_model(config):
    """An untrained model of the shape config describes (config as export_torch.py writes it)."""
    if config["task"] == "lm":
        return TransformerLM(config)
    if config["task"] == "translation":
        return Seq2Seq(config)
    raise ValueError(f"kat_torch: unknown task '{config['task']}' (known: lm, translation)")


def load(path, map_location="cpu"):
    """The model saved by scripts/export_torch.py at path, with its weights, in eval mode."""
    if int(torch.__version__.split(".")[0]) >= 2:
        saved = torch.load(path, map_location=map_location, weights_only=True)  # runs no pickled code
    else:  # torch 1.x's weights-only reader does not know floats: load only files you trust
        saved = torch.load(path, map_location=map_location)
    config = saved.get("config", {}) if isinstance(saved, dict) else {}
    if config.get("format") != FORMAT:
        raise ValueError(f"kat_torch: {path} is not a model written by export_torch.py")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"kat_torch: {path} has format version {config['format_version']}, this file reads up to {FORMAT_VERSION}"
        )
    model = build_model(config)
    model.load_state_dict(saved["state_dict"])
    return model.eval()
