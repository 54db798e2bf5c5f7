#include "layers/attention/causal_linear_tiles.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Compiled whatever the instruction set flag (the attribute enables AVX-512 for these functions
// alone) and called only on CPUs that have it.
#define KAT_TILES 1
#define KAT_TILES_TARGET __attribute__((target("avx512f,fma")))
#include <immintrin.h>
#endif

namespace kat::causal_tiles {
namespace {

// Rows of one (batch item, head): row i at p + i * s.
struct Rows {
  const float* p;
  std::int64_t s;
};
struct OutRows {
  float* p;
  std::int64_t s;
};

Rows head(const Tensor& t, std::int64_t b, std::int64_t h) {
  return {t.data<float>() + b * t.stride(0) + h * t.stride(1), t.stride(2)};
}
OutRows head(Tensor& t, std::int64_t b, std::int64_t h) {
  return {t.data<float>() + b * t.stride(0) + h * t.stride(1), t.stride(2)};
}

// One sweep's operands: X_i = f_i X_{i-1} + u_i (s_i w_i)^T, y_i (+)= X_i^T c_i, where f (if
// given) is read as f[i] before row i is added and s (if given) scales w's row.
struct Sweep {
  Rows u, w, c;
  OutRows y;
  const float* f = nullptr;
  const float* s = nullptr;
  std::int64_t n = 0, a = 0, width = 0;  // rows, length of u and c, length of w and y
  bool reverse = false;
};

// Rows advance in blocks of kBlock: every tile of the sum runs over one block before the next
// block starts, so the block's rows of u, w, c and y (kBlock x 1 KiB with M = Dv = 64) are read
// from memory once and then from cache by the other tiles; the tiles carry X between blocks in
// memory (M x Dv floats, in L1 cache). While a block runs, its tiles prefetch the rows kAhead
// blocks on, one cache line per tile and row.
constexpr std::int64_t kBlock = 32;
constexpr int kMaxPrefetch = 4;
// Into L2, two blocks ahead: into L1 one block ahead was 5-8% slower on an Intel Xeon whose
// operands came from L3 or memory (RESULTS.md section 26).
constexpr std::int64_t kAhead = 2;

// A cache line of row 0 of an operand, and the operand's row stride in bytes.
struct Line {
  const char* p;
  std::int64_t stride;
};

#ifdef KAT_TILES

// One tile: rows [a0, a0 + A) of X and columns [b0, b0 + 16 W), in registers over the rows of
// [r0, r1) (in reverse for a reverse sweep). X is held at x (row stride xs) between blocks.
// `first`: the tile's y columns are stored, else added to what the sweep's earlier tiles left.
// lines: what to prefetch, each `ahead` rows past the row at hand (into L2: the block after next).
// A row costs 2 A W multiply-adds: W vectors of w and of y, and 2 A broadcasts from u and c; the
// multiply-adds into y form two chains of A / 2 per vector (even and odd rows of X).
template <int A, int W>
KAT_TILES_TARGET void tile(const Sweep& sw, float* x, std::int64_t xs, std::int64_t a0, std::int64_t b0,
                           std::int64_t r0, std::int64_t r1, bool first, const Line* lines, int nlines,
                           std::int64_t ahead) {
  static_assert(A % 2 == 0 && A * W <= 16, "a tile is at most sixteen vectors");
  const float* u = sw.u.p + a0;
  const float* c = sw.c.p + a0;
  const float* w = sw.w.p + b0;
  float* y = sw.y.p + b0;
  const std::int64_t su = sw.u.s, sc = sw.c.s, swr = sw.w.s, sy = sw.y.s;
  const float* f = sw.f;
  const float* sc_w = sw.s;
  __m512 X[A][W];
#pragma GCC unroll 16
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < W; ++b) X[a][b] = _mm512_loadu_ps(x + a * xs + 16 * b);
  }
  const std::int64_t step = sw.reverse ? -1 : 1;
  std::int64_t i = sw.reverse ? r1 - 1 : r0;
  for (std::int64_t r = r0; r < r1; ++r, i += step) {
    for (int l = 0; l < nlines; ++l) _mm_prefetch(lines[l].p + (i + ahead) * lines[l].stride, _MM_HINT_T1);
    if (f != nullptr && f[i] != 1.0f) {
      const __m512 fi = _mm512_set1_ps(f[i]);
#pragma GCC unroll 16
      for (int a = 0; a < A; ++a) {
#pragma GCC unroll 4
        for (int b = 0; b < W; ++b) X[a][b] = _mm512_mul_ps(X[a][b], fi);
      }
    }
    const float* ui = u + i * su;
    const float* ci = c + i * sc;
    __m512 wi[W];
#pragma GCC unroll 4
    for (int b = 0; b < W; ++b) {
      wi[b] = _mm512_loadu_ps(w + i * swr + 16 * b);
      if (sc_w != nullptr) wi[b] = _mm512_mul_ps(wi[b], _mm512_set1_ps(sc_w[i]));
    }
    __m512 acc0[W], acc1[W];
#pragma GCC unroll 4
    for (int b = 0; b < W; ++b) acc0[b] = acc1[b] = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int a = 0; a < A; a += 2) {
      const __m512 u0 = _mm512_set1_ps(ui[a]), u1 = _mm512_set1_ps(ui[a + 1]);
      const __m512 c0 = _mm512_set1_ps(ci[a]), c1 = _mm512_set1_ps(ci[a + 1]);
#pragma GCC unroll 4
      for (int b = 0; b < W; ++b) {
        X[a][b] = _mm512_fmadd_ps(u0, wi[b], X[a][b]);
        X[a + 1][b] = _mm512_fmadd_ps(u1, wi[b], X[a + 1][b]);
        acc0[b] = _mm512_fmadd_ps(c0, X[a][b], acc0[b]);
        acc1[b] = _mm512_fmadd_ps(c1, X[a + 1][b], acc1[b]);
      }
    }
    float* yi = y + i * sy;
#pragma GCC unroll 4
    for (int b = 0; b < W; ++b) {
      __m512 out = _mm512_add_ps(acc0[b], acc1[b]);
      if (!first) out = _mm512_add_ps(out, _mm512_loadu_ps(yi + 16 * b));
      _mm512_storeu_ps(yi + 16 * b, out);
    }
  }
#pragma GCC unroll 16
  for (int a = 0; a < A; ++a) {
#pragma GCC unroll 4
    for (int b = 0; b < W; ++b) _mm512_storeu_ps(x + a * xs + 16 * b, X[a][b]);
  }
}

bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("fma") != 0;
  return has;
}

// Row r of the sum: S_r = a S_in_r + k_r v (or S_in_r + k_r v), acc += q_r S_r.
template <int C, bool kDecay>
KAT_TILES_TARGET inline void step_row(const float* s_in, float* s, float kr_, float qr_, const __m512* vv, __m512 av,
                                      __m512* acc) {
  const __m512 kr = _mm512_set1_ps(kr_), qr = _mm512_set1_ps(qr_);
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    const __m512 old = _mm512_loadu_ps(s_in + 16 * c);
    const __m512 x = kDecay ? _mm512_fmadd_ps(old, av, _mm512_mul_ps(kr, vv[c])) : _mm512_fmadd_ps(kr, vv[c], old);
    _mm512_storeu_ps(s + 16 * c, x);
    acc[c] = _mm512_fmadd_ps(qr, x, acc[c]);
  }
}

// One decoding step of one head with Dv = 16 C: the C vectors of the output stay in registers over
// the M rows of the sum, in two sets (even and odd rows) so that each chain of multiply-adds is half
// as long; without decay (a = 1) a row costs one multiply-add per vector.
template <int C, bool kDecay>
KAT_TILES_TARGET void step_head(const float* s_in, float* s, const float* q, const float* k, const float* v, float a,
                                std::int64_t m, float* o) {
  constexpr std::int64_t dv = 16 * C;
  __m512 acc0[C], acc1[C], vv[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    acc0[c] = _mm512_setzero_ps();
    acc1[c] = _mm512_setzero_ps();
    vv[c] = _mm512_loadu_ps(v + 16 * c);
  }
  const __m512 av = _mm512_set1_ps(a);
  std::int64_t r = 0;
  for (; r + 2 <= m; r += 2) {
    step_row<C, kDecay>(s_in + r * dv, s + r * dv, k[r], q[r], vv, av, acc0);
    step_row<C, kDecay>(s_in + (r + 1) * dv, s + (r + 1) * dv, k[r + 1], q[r + 1], vv, av, acc1);
  }
  if (r < m) step_row<C, kDecay>(s_in + r * dv, s + r * dv, k[r], q[r], vv, av, acc0);
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(o + 16 * c, _mm512_add_ps(acc0[c], acc1[c]));
}

template <int C>
void step_head(const float* s_in, float* s, const float* q, const float* k, const float* v, float a, std::int64_t m,
               float* o) {
  if (a == 1.0f) return step_head<C, false>(s_in, s, q, k, v, a, m, o);
  step_head<C, true>(s_in, s, q, k, v, a, m, o);
}

#else

template <int A, int W>
void tile(const Sweep&, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool, const Line*,
          int, std::int64_t) {}
bool cpu_has_avx512f() { return false; }

#endif

// A sweep and its sum (A x W floats, zeroed by the caller).
struct Job {
  Sweep sweep;
  float* x;
};

// Runs the jobs (same rows, same direction) block by block: each block through every tile of every
// job, then after(r0, r1) on the block's rows while they are in cache (a forward sweep's blocks in
// order, a reverse sweep's from the last).
template <typename After>
void run(const Job* jobs, int count, After&& after) {
  const std::int64_t n = jobs[0].sweep.n;
  const bool reverse = jobs[0].sweep.reverse;
  // Every cache line of a row of the operands (each once), dealt out to the tiles in turn.
  std::vector<Line> all;
  std::int64_t tiles = 0;
  const auto add = [&](const void* p, std::int64_t stride_floats, std::int64_t floats) {
    for (const Line& l : all) {
      if (l.p == p) return;
    }
    for (std::int64_t off = 0; off < floats * 4; off += 64)
      all.push_back({static_cast<const char*>(p) + off, stride_floats * 4});
  };
  // Tiles of 8 x 32 where the width allows (two chains of four per vector of y), else 16 x 16 (A is
  // a multiple of 16 either way: available()): a sweep's tile rows and columns.
  const auto wide = [](const Sweep& sw) { return sw.width % 32 == 0; };
  const auto tile_rows = [&](const Sweep& sw) -> std::int64_t { return wide(sw) ? 8 : 16; };
  const auto tile_cols = [&](const Sweep& sw) -> std::int64_t { return wide(sw) ? 32 : 16; };
  for (int j = 0; j < count; ++j) {
    const Sweep& sw = jobs[j].sweep;
    add(sw.u.p, sw.u.s, sw.a);
    add(sw.c.p, sw.c.s, sw.a);
    add(sw.w.p, sw.w.s, sw.width);
    add(sw.y.p, sw.y.s, sw.width);
    tiles += (sw.a / tile_rows(sw)) * (sw.width / tile_cols(sw));
  }
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  for (std::int64_t bi = 0; bi < blocks; ++bi) {
    const std::int64_t blk = reverse ? blocks - 1 - bi : bi;
    const std::int64_t r0 = blk * kBlock, r1 = std::min(n, r0 + kBlock);
    // The rows kAhead blocks on are i + ahead: none past the ends (a reverse sweep's blocks ahead
    // are full ones).
    const std::int64_t ahead = reverse ? -kAhead * kBlock : kAhead * kBlock;
    const bool prefetch = bi + kAhead < blocks && (reverse || r1 + kAhead * kBlock <= n);
    std::int64_t t = 0;
    for (int j = 0; j < count; ++j) {
      const Sweep& sw = jobs[j].sweep;
      const std::int64_t ta_rows = tile_rows(sw), tb_cols = tile_cols(sw);
      for (std::int64_t tb = 0; tb < sw.width / tb_cols; ++tb) {
        for (std::int64_t ta = 0; ta < sw.a / ta_rows; ++ta, ++t) {
          Line mine[kMaxPrefetch];
          int lines = 0;
          for (std::int64_t l = t; prefetch && l < static_cast<std::int64_t>(all.size()) && lines < kMaxPrefetch;
               l += tiles)
            mine[lines++] = all[static_cast<std::size_t>(l)];
          float* x = jobs[j].x + ta * ta_rows * sw.width + tb * tb_cols;
          if (wide(sw)) {
            tile<8, 2>(sw, x, sw.width, ta * 8, tb * 32, r0, r1, ta == 0, mine, lines, ahead);
          } else {
            tile<16, 1>(sw, x, sw.width, ta * 16, tb * 16, r0, r1, ta == 0, mine, lines, ahead);
          }
        }
      }
    }
    after(r0, r1);
  }
}

// The per-row work between blocks (normalizers, their gradients) on rows of n floats, n a multiple
// of 16 (as the tiles need): with two accumulators and a tree for the sum, a row's dot product is
// a short dependency chain, where a loop left to the compiler adds one lane at a time at its end.
#ifdef KAT_TILES

// GCC 12 reports the vector temporaries of its own _mm512_reduce_add_ps as uninitialized when it
// is inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
KAT_TILES_TARGET float dot(const float* a, const float* b, std::int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  if (i < n) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// y = y * a + x * s.
KAT_TILES_TARGET void scale_add(float* y, float a, const float* x, float s, std::int64_t n) {
  const __m512 av = _mm512_set1_ps(a), sv = _mm512_set1_ps(s);
  for (std::int64_t i = 0; i < n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(_mm512_loadu_ps(y + i), av, _mm512_mul_ps(_mm512_loadu_ps(x + i), sv)));
  }
}

// r = r * a + x * s, then y += r.
KAT_TILES_TARGET void carry_add(float* r, float a, const float* x, float s, float* y, std::int64_t n) {
  const __m512 av = _mm512_set1_ps(a), sv = _mm512_set1_ps(s);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __m512 ri = _mm512_fmadd_ps(_mm512_loadu_ps(r + i), av, _mm512_mul_ps(_mm512_loadu_ps(x + i), sv));
    _mm512_storeu_ps(r + i, ri);
    _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i), ri));
  }
}

#else

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
void scale_add(float* y, float a, const float* x, float s, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = y[i] * a + x[i] * s;
}
void carry_add(float* r, float a, const float* x, float s, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    r[i] = r[i] * a + x[i] * s;
    y[i] += r[i];
  }
}

#endif

// f[i] = exp(C_{i-1} - C_i) (f[0] = 1), the factor that carries the sums into row i, and f[n] = 1:
// a reverse sweep reads f + 1, whose row i is the factor between rows i and i + 1.
void carries(const float* C, std::int64_t n, float* f) {
  f[0] = 1.0f;
  for (std::int64_t i = 1; i < n; ++i) f[i] = std::exp(C[i - 1] - C[i]);
  f[n] = 1.0f;
}

// Per-head work is N M Dv multiply-adds: one head per task unless heads are tiny.
std::int64_t grain(std::int64_t n, std::int64_t m, std::int64_t dv) {
  return std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(1, n * m * dv));
}

}  // namespace

bool step_available(std::int64_t dv) { return dv > 0 && dv % 16 == 0 && dv <= 128 && cpu_has_avx512f(); }

void step(const float* s_in, float* s, const float* q, const float* k, const float* v, float a, std::int64_t m,
          std::int64_t dv, float* o) {
#ifdef KAT_TILES
  switch (dv / 16) {
    case 1: return step_head<1>(s_in, s, q, k, v, a, m, o);
    case 2: return step_head<2>(s_in, s, q, k, v, a, m, o);
    case 3: return step_head<3>(s_in, s, q, k, v, a, m, o);
    case 4: return step_head<4>(s_in, s, q, k, v, a, m, o);
    case 5: return step_head<5>(s_in, s, q, k, v, a, m, o);
    case 6: return step_head<6>(s_in, s, q, k, v, a, m, o);
    case 7: return step_head<7>(s_in, s, q, k, v, a, m, o);
    case 8: return step_head<8>(s_in, s, q, k, v, a, m, o);
    default: break;
  }
#endif
  (void)s_in, (void)s, (void)q, (void)k, (void)v, (void)a, (void)m, (void)dv, (void)o;
}

bool available(DType dtype, std::int64_t m, std::int64_t dv) {
  return dtype == DType::f32 && m % 16 == 0 && dv % 16 == 0 && m > 0 && dv > 0 && cpu_has_avx512f();
}

void forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& c, Tensor& out, float eps) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = q.size(3), Dv = v.size(3);
  const float* Cs = c.defined() ? c.data<float>() : nullptr;
  parallel_for(0, B * H, grain(N, M, Dv), [&](std::int64_t t0, std::int64_t t1) {
    Tensor scratch = Tensor::empty({M * Dv + M + (Cs != nullptr ? N + 1 : 0)}, DType::f32);
    float* x = scratch.data<float>();
    float* z = x + M * Dv;
    float* f = Cs != nullptr ? z + M : nullptr;
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      if (f != nullptr) carries(Cs + t * N, N, f);
      const Rows Q = head(q, b, h), K = head(k, b, h);
      const OutRows O = head(out, b, h);
      std::fill(x, x + M * Dv + M, 0.0f);
      const Job job{Sweep{K, head(v, b, h), Q, O, f, nullptr, N, M, Dv, false}, x};
      // Then the block's normalizers: z_i = f_i z_{i-1} + phi(K_i), out_i = num_i / (phi(Q_i) . z_i + eps).
      run(&job, 1, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t i = r0; i < r1; ++i) {
          scale_add(z, f != nullptr ? f[i] : 1.0f, K.p + i * K.s, 1.0f, M);
          const float inv = 1.0f / (dot(Q.p + i * Q.s, z, M) + eps);
          float* oi = O.p + i * O.s;
#pragma omp simd
          for (std::int64_t d = 0; d < Dv; ++d) oi[d] *= inv;
        }
      });
    }
  });
}

// With den_i = phi(Q_i) . z_i + eps, dnum_i = G_i / den_i and dden_i = -(G_i . O_i) / den_i:
//   dphi(Q_i) = S_i dnum_i + dden_i z_i,   S_i = sum_{j <= i} phi(K_j) V_j^T  (forward sweep: X = S^T,
//                                           u = V, w = phi(K), c = G, then scaled by 1 / den_i)
//   dphi(K_j) = R_j V_j + r_j,             R_j = sum_{i >= j} phi(Q_i) dnum_i^T  (reverse: X = R^T,
//                                           u = G, w = phi(Q) / den, c = V)
//   dV_j = R_j^T phi(K_j)                  (reverse: X = R, u = phi(Q), w = G / den, c = phi(K))
// with r_j = sum_{i >= j} dden_i phi(Q_i); with a stabilizer every sum carries by the factors f.
void backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& c, const Tensor& out, const Tensor& grad,
              Tensor* dq, Tensor* dk, Tensor* dv, float eps) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = q.size(3), Dv = v.size(3);
  const float* Cs = c.defined() ? c.data<float>() : nullptr;
  parallel_for(0, B * H, grain(N, M, Dv), [&](std::int64_t t0, std::int64_t t1) {
    Tensor scratch = Tensor::empty({2 * M * Dv + M + 2 * N + (Cs != nullptr ? N + 1 : 0)}, DType::f32);
    float* x = scratch.data<float>();  // two sums: S^T, then R^T and R
    float* z = x + 2 * M * Dv;         // z, then r
    float* inv = z + M;
    float* dden = inv + N;
    float* f = Cs != nullptr ? dden + N : nullptr;
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      if (f != nullptr) carries(Cs + t * N, N, f);
      const Rows Q = head(q, b, h), K = head(k, b, h), V = head(v, b, h), G = head(grad, b, h), O = head(out, b, h);
      const OutRows DQ = dq != nullptr ? head(*dq, b, h) : OutRows{};

      // Forward: dphi(Q)'s sweep, then each block's normalizers, 1 / den_i kept for the reverse
      // sweeps, and the normalizer's gradient for dphi(K)'s (read from O only when dphi(Q) or
      // dphi(K) needs it).
      std::fill(x, x + 2 * M * Dv + M, 0.0f);
      const bool need_dden = dq != nullptr || dk != nullptr;
      const auto normalizers = [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t i = r0; i < r1; ++i) {
          scale_add(z, f != nullptr ? f[i] : 1.0f, K.p + i * K.s, 1.0f, M);
          inv[i] = 1.0f / (dot(Q.p + i * Q.s, z, M) + eps);
          if (!need_dden) continue;
          dden[i] = -dot(G.p + i * G.s, O.p + i * O.s, Dv) * inv[i];
          if (dq != nullptr) scale_add(DQ.p + i * DQ.s, inv[i], z, dden[i], M);
        }
      };
      if (dq != nullptr) {
        const Job job{Sweep{V, K, G, DQ, f, nullptr, N, Dv, M, false}, x};
        run(&job, 1, normalizers);
      } else {
        normalizers(0, N);
      }
      // Reverse: dphi(K)'s and dV's sweeps block by block together (they share phi(Q) and G), then
      // the block's r_j, from the block's last row.
      const float* fr = f != nullptr ? f + 1 : nullptr;
      const OutRows DK = dk != nullptr ? head(*dk, b, h) : OutRows{};
      Job jobs[2]{};
      int count = 0;
      if (dk != nullptr) jobs[count++] = Job{Sweep{G, Q, V, DK, fr, inv, N, Dv, M, true}, x};
      if (dv != nullptr) jobs[count++] = Job{Sweep{Q, G, K, head(*dv, b, h), fr, inv, N, M, Dv, true}, x + M * Dv};
      if (count == 0) continue;
      float* r = z;
      std::fill(x, x + 2 * M * Dv + M, 0.0f);
      run(jobs, count, [&](std::int64_t r0, std::int64_t r1) {
        if (dk == nullptr) return;
        for (std::int64_t j = r1 - 1; j >= r0; --j)
          carry_add(r, fr != nullptr ? fr[j] : 1.0f, Q.p + j * Q.s, dden[j], DK.p + j * DK.s, M);
      });
    }
  });
}

}  // namespace kat::causal_tiles
