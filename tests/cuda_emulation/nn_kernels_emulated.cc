// The CUDA device's own kernels (src/cuda/nn_kernels.cuh) and its GEMM plan
// (src/cuda/gemm_plan.h), run on the host without a GPU: the CUDA keywords are defined
// away, each __global__ kernel runs block by block and thread by thread (one thread per
// block for the reductions, whose BlockSum is then the identity), and the results are
// compared with plain host loops written like the CPU device's (src/cpu/pool.cc,
// cpu/batchnorm_loops.h, cpu/lrn.cc, cpu/conv.cc). This checks the kernels' indexing,
// window bounds and grid-stride loops (run on odd grids), and the GEMM's row-major to
// column-major mapping and batch plan against a column-major reference GEMM.
//
// Built and run by tests/test_cuda_emulation.py:
//   g++ -std=c++17 -I src tests/cuda_emulation/nn_kernels_emulated.cc && ./a.out
// prints "ok <checks>" and exits 0, or names the first mismatch and exits 1.
#define SINGA_NN_KERNELS_EMULATE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {
struct EmuDim {
  unsigned x = 0, y = 1, z = 1;
};
EmuDim blockIdx, threadIdx, blockDim, gridDim;
}  // namespace

#include "cuda/gemm_plan.h"
#include "cuda/nn_kernels.cuh"

using namespace singa::cuda;
using namespace singa::cuda::nn::kernels;

namespace {

int checks = 0;

// Runs kernel(args...) as a grid of `grid` blocks of `block` threads, one after another.
template <typename... P, typename... A>
void Launch(void (*kernel)(P...), unsigned grid, unsigned block, A... args) {
  gridDim.x = grid, blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b)
    for (unsigned t = 0; t < block; ++t) {
      blockIdx.x = b, threadIdx.x = t;
      kernel(args...);
    }
}

[[noreturn]] void Fail(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
void Expect(const std::vector<T>& got, const std::vector<T>& want, double tol,
            const std::string& what) {
  ++checks;
  if (got.size() != want.size()) Fail(what + ": sizes differ");
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    if (!(std::fabs(g - w) <= tol * std::max(1.0, std::fabs(w))))
      Fail(what + ": element " + std::to_string(i) + " is " + std::to_string(g) + ", want " +
           std::to_string(w));
  }
}

std::mt19937_64 rng(1616);

template <typename T>
std::vector<T> Random(size_t n, bool integers = false) {
  std::normal_distribution<double> nd;
  std::uniform_int_distribution<int> ud(0, 2);
  std::vector<T> v(n);
  for (auto& e : v) e = integers ? T(ud(rng)) : T(nd(rng));
  return v;
}

// ------------------------------------------------------------------ pooling (cpu/pool.cc)

template <typename T>
void PoolRef(const PoolGeom& g, int64_t planes, const std::vector<T>& x, const std::vector<T>& dy,
             std::vector<T>& y, std::vector<T>& dx) {
  y.assign(static_cast<size_t>(planes * g.PH * g.PW), T(0));
  dx.assign(static_cast<size_t>(planes * g.H * g.W), T(0));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < g.PH; ++oh)
      for (int64_t ow = 0; ow < g.PW; ++ow) {
        int64_t hs = oh * g.sh - g.pt, ws = ow * g.sw - g.pl;
        int64_t he = std::min(hs + g.kh, g.H), we = std::min(ws + g.kw, g.W);
        int64_t h0 = std::max<int64_t>(hs, 0), w0 = std::max<int64_t>(ws, 0);
        int64_t h1 = std::max<int64_t>(he, 0), w1 = std::max<int64_t>(we, 0);
        const T* xp = x.data() + p * g.H * g.W;
        T* dxp = dx.data() + p * g.H * g.W;
        const int64_t o = (p * g.PH + oh) * g.PW + ow;
        if (g.is_max) {
          int64_t best = h0 * g.W + w0;
          for (int64_t i = h0; i < h1; ++i)
            for (int64_t j = w0; j < w1; ++j)
              if (xp[i * g.W + j] > xp[best]) best = i * g.W + j;
          y[static_cast<size_t>(o)] = xp[best];
          dxp[best] += dy[static_cast<size_t>(o)];
        } else {
          const double div = g.include_pad ? double(g.kh * g.kw) : double((h1 - h0) * (w1 - w0));
          T s = 0;
          for (int64_t i = h0; i < h1; ++i)
            for (int64_t j = w0; j < w1; ++j) s += xp[i * g.W + j];
          y[static_cast<size_t>(o)] = T(s / div);
          const T share = T(dy[static_cast<size_t>(o)] / div);
          for (int64_t i = h0; i < h1; ++i)
            for (int64_t j = w0; j < w1; ++j) dxp[i * g.W + j] += share;
        }
      }
}

void TestPooling() {
  struct Case {
    int64_t H, W, kh, kw, sh, sw, pt, pb, pl, pr;
    bool is_max, incl, ties;
  };
  const Case cases[] = {
      {8, 8, 2, 2, 2, 2, 0, 0, 0, 0, true, true, false},
      {9, 9, 3, 3, 2, 2, 1, 1, 1, 1, true, true, false},
      {9, 7, 3, 2, 1, 2, 1, 0, 0, 1, true, true, false},
      {8, 8, 3, 3, 1, 1, 1, 1, 1, 1, true, true, true},   // ties: first maximum
      {9, 9, 3, 3, 2, 2, 1, 1, 1, 1, false, true, false},
      {9, 9, 3, 3, 2, 2, 1, 1, 1, 1, false, false, false},
      {10, 7, 3, 3, 2, 1, 2, 1, 0, 2, false, true, false},
      {10, 7, 3, 3, 2, 1, 2, 1, 0, 2, false, false, false},
      {7, 7, 7, 7, 1, 1, 0, 0, 0, 0, false, true, false},
      {5, 6, 2, 3, 3, 2, 1, 1, 2, 0, true, true, false},  // stride > kernel: cells in no window
  };
  for (const Case& c : cases) {
    PoolGeom g{c.H, c.W, (c.H + c.pt + c.pb - c.kh) / c.sh + 1, (c.W + c.pl + c.pr - c.kw) / c.sw + 1,
               c.kh, c.kw, c.sh, c.sw, c.pt, c.pl, c.is_max, c.incl};
    const int64_t planes = 6;
    auto x = Random<float>(static_cast<size_t>(planes * g.H * g.W), c.ties);
    auto dy = Random<float>(static_cast<size_t>(planes * g.PH * g.PW), c.ties);
    std::vector<float> y_ref, dx_ref;
    PoolRef(g, planes, x, dy, y_ref, dx_ref);
    std::vector<float> y(y_ref.size()), dx(dx_ref.size());
    Launch(PoolForwardKernel<float>, 3, 7, x.data(), y.data(), int64_t(y.size()), g);
    Launch(PoolBackwardKernel<float>, 2, 5, dy.data(), x.data(), dx.data(), int64_t(dx.size()), g);
    const std::string name = std::string(c.is_max ? "max" : "avg") + " pool " +
                             std::to_string(c.H) + "x" + std::to_string(c.W) + " k" +
                             std::to_string(c.kh) + std::to_string(c.kw);
    Expect(y, y_ref, 0, name + " forward");  // the same operations in the same order
    Expect(dx, dx_ref, 0, name + " backward");
  }
}

// ------------------------------------------------------------------ batch norm

void TestBatchNorm() {
  struct Case {
    int64_t N, C, S;
  };
  for (const Case c : {Case{4, 3, 30}, Case{16, 5, 1}, Case{1, 4, 9}, Case{3, 7, 17}}) {
    const int64_t total = c.N * c.C * c.S, m = c.N * c.S;
    auto x = Random<double>(static_cast<size_t>(total));
    for (auto& v : x) v = v * 2 + 3;
    auto scale = Random<double>(static_cast<size_t>(c.C)), bias = Random<double>(static_cast<size_t>(c.C));
    auto dy = Random<double>(static_cast<size_t>(total));
    const double eps = 1e-5;
    // Reference (cpu/batchnorm_loops.h).
    std::vector<double> mean_ref(static_cast<size_t>(c.C)), var_ref(static_cast<size_t>(c.C)), y_ref(static_cast<size_t>(total)),
        dx_ref(static_cast<size_t>(total)), ds_ref(static_cast<size_t>(c.C)), db_ref(static_cast<size_t>(c.C));
    for (int64_t ch = 0; ch < c.C; ++ch) {
      double s = 0, v = 0;
      for (int64_t n = 0; n < c.N; ++n)
        for (int64_t i = 0; i < c.S; ++i) s += x[static_cast<size_t>((n * c.C + ch) * c.S + i)];
      const double mu = s / double(m);
      for (int64_t n = 0; n < c.N; ++n)
        for (int64_t i = 0; i < c.S; ++i) {
          const double d = x[static_cast<size_t>((n * c.C + ch) * c.S + i)] - mu;
          v += d * d;
        }
      mean_ref[static_cast<size_t>(ch)] = mu, var_ref[static_cast<size_t>(ch)] = v / double(m);
      const double a = scale[static_cast<size_t>(ch)] / std::sqrt(var_ref[static_cast<size_t>(ch)] + eps);
      const double b = bias[static_cast<size_t>(ch)] - mu * a;
      const double istd = 1.0 / std::sqrt(var_ref[static_cast<size_t>(ch)] + eps);
      double sdy = 0, sdyx = 0;
      for (int64_t n = 0; n < c.N; ++n)
        for (int64_t i = 0; i < c.S; ++i) {
          const size_t o = static_cast<size_t>((n * c.C + ch) * c.S + i);
          y_ref[o] = x[o] * a + b;
          sdy += dy[o];
          sdyx += dy[o] * (x[o] - mu);
        }
      const double ds = sdyx * istd, k = scale[static_cast<size_t>(ch)] * istd;
      ds_ref[static_cast<size_t>(ch)] = ds, db_ref[static_cast<size_t>(ch)] = sdy;
      for (int64_t n = 0; n < c.N; ++n)
        for (int64_t i = 0; i < c.S; ++i) {
          const size_t o = static_cast<size_t>((n * c.C + ch) * c.S + i);
          dx_ref[o] = k * (dy[o] - sdy / double(m) - (x[o] - mu) * (ds / double(m) * istd));
        }
    }
    std::vector<double> mean(static_cast<size_t>(c.C)), var(static_cast<size_t>(c.C)), a(static_cast<size_t>(c.C)), b(static_cast<size_t>(c.C)),
        y(static_cast<size_t>(total)), dx(static_cast<size_t>(total)), ds(static_cast<size_t>(c.C)), db(static_cast<size_t>(c.C)),
        coef(static_cast<size_t>(4 * c.C));
    // Small parts (7 elements) so that every channel spreads over several blocks.
    const int64_t per = 7, splits = (m + per - 1) / per;
    std::vector<double> part(static_cast<size_t>(2 * c.C * splits)), center(static_cast<size_t>(c.C));
    const double* none = nullptr;
    Launch(ChannelPartialKernel<kSumX, double, double>, unsigned(c.C * splits), 1,
           (const double*)x.data(), none, c.N, c.C, c.S, splits, per, none, part.data());
    Launch(BnMeanKernel, 2, 2, (const double*)part.data(), c.C, splits, m, center.data());
    Launch(ChannelPartialKernel<kSqDev, double, double>, unsigned(c.C * splits), 1,
           (const double*)x.data(), none, c.N, c.C, c.S, splits, per,
           (const double*)center.data(), part.data());
    Launch(BnVarKernel<double>, 3, 1, (const double*)part.data(), (const double*)center.data(),
           c.C, splits, m, mean.data(), var.data());
    Launch(BnAffineKernel<double>, 2, 2, (const double*)mean.data(), (const double*)var.data(),
           (const double*)scale.data(), (const double*)bias.data(), eps, c.C, a.data(), b.data());
    Launch(BnNormalizeKernel<double>, 3, 5, (const double*)x.data(), total, c.C, c.S,
           (const double*)a.data(), (const double*)b.data(), y.data());
    Launch(ChannelPartialKernel<kGrad, double, double>, unsigned(c.C * splits), 1,
           (const double*)x.data(), (const double*)dy.data(), c.N, c.C, c.S, splits, per,
           (const double*)mean.data(), part.data());
    Launch(BnBackwardFinalizeKernel<double>, 2, 3, (const double*)part.data(), c.C, splits, m,
           (const double*)mean.data(), (const double*)var.data(), (const double*)scale.data(),
           eps, ds.data(), db.data(), coef.data());
    Launch(BnBackwardDxKernel<double>, 3, 4, (const double*)x.data(), (const double*)dy.data(),
           total, c.C, c.S, (const double*)coef.data(), dx.data());
    const std::string name = "batch norm (" + std::to_string(c.N) + ", " + std::to_string(c.C) +
                             ", " + std::to_string(c.S) + ")";
    Expect(mean, mean_ref, 1e-12, name + " mean");
    Expect(var, var_ref, 1e-12, name + " var");
    Expect(y, y_ref, 1e-12, name + " y");
    Expect(ds, ds_ref, 1e-12, name + " dscale");
    Expect(db, db_ref, 1e-12, name + " dbias");
    Expect(dx, dx_ref, 1e-12, name + " dx");
  }
}

// ------------------------------------------------------------------ LRN (cpu/lrn.cc)

void TestLRN() {
  struct Case {
    int64_t size;
    double alpha, beta, k;
  };
  const int64_t N = 2, C = 9, S = 7, total = N * C * S;
  for (const Case c : {Case{5, 1e-4, 0.75, 1}, Case{3, 0.5, 0.75, 2}, Case{4, 0.3, 0.5, 1},
                       Case{2, 0.2, 1.0, 1.5}, Case{7, 0.4, 0.6, 1}, Case{19, 0.1, 0.75, 1}}) {
    auto x = Random<double>(static_cast<size_t>(total)), dy = Random<double>(static_cast<size_t>(total));
    auto inv = [&](double s) { return std::pow(s, -c.beta); };
    std::vector<double> sc(static_cast<size_t>(total)), y_ref(static_cast<size_t>(total)), dx_ref(static_cast<size_t>(total)),
        t(static_cast<size_t>(total));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t lo = std::max<int64_t>(0, ch - (c.size - 1) / 2);
          const int64_t hi = std::min(C - 1, ch + c.size / 2);
          double sum = 0;
          for (int64_t cc = lo; cc <= hi; ++cc) sum += x[static_cast<size_t>((n * C + cc) * S + s)] * x[static_cast<size_t>((n * C + cc) * S + s)];
          const size_t i = static_cast<size_t>((n * C + ch) * S + s);
          sc[i] = c.k + c.alpha / double(c.size) * sum;
          y_ref[i] = x[i] * inv(sc[i]);
        }
    for (size_t i = 0; i < static_cast<size_t>(total); ++i) t[i] = dy[i] * y_ref[i] / sc[i];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t s = 0; s < S; ++s) {
          // j's window [j - (size-1)/2, j + size/2] holds ch
          double acc = 0;
          for (int64_t j = 0; j < C; ++j)
            if (j - (c.size - 1) / 2 <= ch && ch <= j + c.size / 2) acc += t[static_cast<size_t>((n * C + j) * S + s)];
          const size_t i = static_cast<size_t>((n * C + ch) * S + s);
          dx_ref[i] = dy[i] * inv(sc[i]) - 2 * c.alpha * c.beta / double(c.size) * x[i] * acc;
        }
    std::vector<double> y(static_cast<size_t>(total)), dx(static_cast<size_t>(total)), tt(static_cast<size_t>(total));
    const LrnGeom g{C, S, c.size};
    const double a = c.alpha / double(c.size);
    Launch(LrnForwardKernel<double>, 4, 3, (const double*)x.data(), y.data(), total, g, a, c.k,
           c.beta);
    Launch(LrnBackwardScaleKernel<double>, 2, 9, (const double*)dy.data(), (const double*)x.data(),
           (const double*)y.data(), dx.data(), tt.data(), total, g, a, c.k, c.beta);
    Launch(LrnBackwardSumKernel<double>, 5, 2, (const double*)x.data(), (const double*)tt.data(),
           dx.data(), total, g, 2 * c.alpha * c.beta / double(c.size));
    const std::string name = "LRN size " + std::to_string(c.size);
    Expect(y, y_ref, 1e-12, name + " forward");
    Expect(dx, dx_ref, 1e-12, name + " backward");
  }
}

// ------------------------------------------------------------------ conv helpers

void TestPadCropBias() {
  const int64_t planes = 5, H = 4, W = 6, top = 2, bottom = 1, left = 0, right = 3;
  const int64_t Hp = H + top + bottom, Wp = W + left + right;
  auto x = Random<float>(static_cast<size_t>(planes * H * W));
  std::vector<uint32_t> xb(x.size());
  for (size_t i = 0; i < x.size(); ++i) std::memcpy(&xb[i], &x[i], 4);
  std::vector<uint32_t> padded(static_cast<size_t>(planes * Hp * Wp), 77u), want(padded.size(), 0u);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c) want[static_cast<size_t>((p * Hp + r + top) * Wp + c + left)] = xb[static_cast<size_t>((p * H + r) * W + c)];
  Launch(PadPlanesKernel<uint32_t>, 3, 7, (const uint32_t*)xb.data(), padded.data(),
         int64_t(padded.size()), H, W, Hp, Wp, top, left);
  Expect(padded, want, 0, "padded copy");
  std::vector<uint32_t> cropped(xb.size(), 0u);
  Launch(CropPlanesKernel<uint32_t>, 2, 3, (const uint32_t*)padded.data(), cropped.data(),
         int64_t(cropped.size()), Hp, Wp, H, W, top, left);
  Expect(cropped, xb, 0, "cropped copy");

  const int64_t N = 3, F = 4, S = 10;
  auto y = Random<float>(static_cast<size_t>(N * F * S)), b = Random<float>(static_cast<size_t>(F));
  std::vector<float> y_ref = y;
  std::vector<double> db_ref(static_cast<size_t>(F), 0.0);
  for (int64_t i = 0; i < N * F * S; ++i) {
    y_ref[static_cast<size_t>(i)] += b[static_cast<size_t>((i / S) % F)];
    db_ref[static_cast<size_t>((i / S) % F)] += double(y[static_cast<size_t>(i)]);
  }
  std::vector<float> db(static_cast<size_t>(F));
  const int64_t per = 4, splits = (N * S + per - 1) / per;
  std::vector<double> part(static_cast<size_t>(2 * F * splits));
  const float* nonef = nullptr;
  const double* none = nullptr;
  Launch(ChannelPartialKernel<kSumX, float, double>, unsigned(F * splits), 1,
         (const float*)y.data(), nonef, N, F, S, splits, per, none, part.data());
  Launch(BiasGradFinalizeKernel<float>, 1, 3, (const double*)part.data(), F, splits, db.data());
  std::vector<double> db64(db.begin(), db.end());
  Expect(db64, db_ref, 1e-6, "bias gradient");
  Launch(AddBiasKernel<float>, 2, 3, y.data(), (const float*)b.data(), N * F * S, F, S);
  Expect(y, y_ref, 0, "bias add");
}

// ------------------------------------------------------------------ GEMM plan (blas.cc)

// A column-major GEMM with BLAS semantics: C (m x n, ldc) = op(A) op(B).
void ColumnMajorRef(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* A,
                    int64_t lda, const double* B, int64_t ldb, double* C, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l) {
        const double a = ta ? A[l + i * lda] : A[i + l * lda];
        const double b = tb ? B[j + l * ldb] : B[l + j * ldb];
        s += a * b;
      }
      C[i + j * ldc] = s;
    }
}

void TestGemmMapping() {
  // Row-major operands with leading dimensions past their width, both transposes, and
  // the one-row / one-column cases whose leading dimension is tightened.
  struct Case {
    int64_t M, N, K, pad_a, pad_b;
  };
  for (const Case c : {Case{3, 4, 5, 0, 0}, Case{7, 2, 9, 3, 1}, Case{1, 6, 4, 5, 0},
                       Case{5, 1, 3, 0, 2}, Case{1, 1, 7, 2, 2}, Case{4, 3, 1, 1, 4}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        // Stored row-major A is (ta ? K x M : M x K), B is (tb ? N x K : K x N).
        const int64_t a_rows = ta ? c.K : c.M, a_cols = ta ? c.M : c.K;
        const int64_t b_rows = tb ? c.N : c.K, b_cols = tb ? c.K : c.N;
        const int64_t lda = a_cols + c.pad_a, ldb = b_cols + c.pad_b;
        auto A = Random<double>(static_cast<size_t>(a_rows * lda)), B = Random<double>(static_cast<size_t>(b_rows * ldb));
        auto at = [&](int64_t i, int64_t l) { return ta ? A[static_cast<size_t>(l * lda + i)] : A[static_cast<size_t>(i * lda + l)]; };
        auto bt = [&](int64_t l, int64_t j) { return tb ? B[static_cast<size_t>(j * ldb + l)] : B[static_cast<size_t>(l * ldb + j)]; };
        std::vector<double> want(static_cast<size_t>(c.M * c.N));
        for (int64_t i = 0; i < c.M; ++i)
          for (int64_t j = 0; j < c.N; ++j) {
            double s = 0;
            for (int64_t l = 0; l < c.K; ++l) s += at(i, l) * bt(l, j);
            want[static_cast<size_t>(i * c.N + j)] = s;
          }
        const ColumnMajorGemm cm = ToColumnMajor(ta, tb, c.M, c.N, c.K, lda, ldb);
        // cuBLAS's own argument checks: ld >= max(1, rows of the stored column-major matrix).
        const int64_t first_rows = cm.trans_first ? cm.k : cm.m;
        const int64_t second_rows = cm.trans_second ? cm.n : cm.k;
        ++checks;
        if (cm.ld_first < std::max<int64_t>(1, first_rows) ||
            cm.ld_second < std::max<int64_t>(1, second_rows) || cm.ldc < std::max<int64_t>(1, cm.m))
          Fail("GEMM mapping: a leading dimension cuBLAS would refuse");
        std::vector<double> got(static_cast<size_t>(c.M * c.N));
        ColumnMajorRef(cm.trans_first, cm.trans_second, cm.m, cm.n, cm.k, B.data(), cm.ld_first,
                       A.data(), cm.ld_second, got.data(), cm.ldc);
        Expect(got, want, 1e-12, "GEMM mapping M=" + std::to_string(c.M) + " N=" +
                                     std::to_string(c.N) + " K=" + std::to_string(c.K) +
                                     " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
      }
  }
}

void TestBatchPlan() {
  // (batch, a strides, b strides): every matrix offset the plan produces must be the one
  // a per-matrix walk gives (the CPU's BatchedGemm), in c's order.
  struct Case {
    singa::Shape batch;
    singa::Strides sa, sb;
    int64_t want_count;
  };
  const Case cases[] = {
      {{}, {}, {}, 1},
      {{4}, {30}, {42}, 4},
      {{3, 2}, {60, 30}, {48, 24}, 6},          // merge into one run
      {{4}, {0}, {42}, 4},                       // a shared
      {{2, 3}, {30, 0}, {0, 24}, 3},             // broadcast both: no merge
      {{3, 2}, {20, 0}, {20, 10}, 2},            // inner broadcast of a
      {{2, 1, 3}, {90, 7, 30}, {72, 5, 24}, 6},  // an axis of one skipped
      {{2, 3}, {0, 0}, {24, 8}, 6},              // a shared over both axes; b uniform
      {{3}, {-30}, {24}, 1},                     // a negative stride stays outside
  };
  for (const Case& c : cases) {
    const BatchPlan plan = PlanBatch(c.batch, c.sa, c.sb);
    std::vector<int64_t> got_a, got_b, want_a, want_b;
    size_t n = 1;
    for (size_t v : c.batch) n *= v;
    for (size_t i = 0; i < n; ++i) {
      int64_t oa = 0, ob = 0;
      size_t rem = i;
      for (size_t d = c.batch.size(); d-- > 0;) {
        const size_t idx = rem % c.batch[d];
        rem /= c.batch[d];
        oa += int64_t(idx) * c.sa[d], ob += int64_t(idx) * c.sb[d];
      }
      want_a.push_back(oa), want_b.push_back(ob);
    }
    for (int64_t o = 0; o < OuterCount(plan); ++o) {
      int64_t oa, ob;
      OuterOffsets(plan, o, &oa, &ob);
      for (int64_t j = 0; j < plan.count; ++j)
        got_a.push_back(oa + j * plan.sa), got_b.push_back(ob + j * plan.sb);
    }
    const std::string name = "batch plan of " + std::to_string(c.batch.size()) + " axes";
    Expect(got_a, want_a, 0, name + " (a)");
    Expect(got_b, want_b, 0, name + " (b)");
    ++checks;
    if (plan.count != c.want_count) Fail(name + ": run of " + std::to_string(plan.count) +
                                         " matrices, want " + std::to_string(c.want_count));
  }
}

}  // namespace

int main() {
  TestPooling();
  TestBatchNorm();
  TestLRN();
  TestPadCropBias();
  TestGemmMapping();
  TestBatchPlan();
  std::printf("ok %d\n", checks);
  return 0;
}
