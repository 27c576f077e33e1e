// CPU matrix products: float32 on oneDNN's sgemm (when compiled in) or OpenBLAS
// (scipy-openblas32, symbols prefixed scipy_), float64 on OpenBLAS.
#include <cblas.h>
#ifdef USE_DNNL
#include <dnnl.h>
#endif

#include <algorithm>
#include <memory>
#include <atomic>
#include <cstdint>

#include "core/config.h"
#include "cpu/cpu_kernels.h"
#include "cpu/gemm.h"
#include "cpu/half_compute.h"
#include "cpu/iter.h"

namespace singa {

namespace {

// Which library runs float32 GEMMs: 0 = OpenBLAS, 1 = oneDNN (when compiled in).
// oneDNN is the default: on the AVX-512 machines measured (benchmarks/README.md) its
// sgemm is as fast or faster at every size, twice as fast for matrix-vector shapes, and
// steady; OpenBLAS, run through its own threading, was at half speed in some processes.
std::atomic<int>& GemmBackend() {
#ifdef USE_DNNL
  static std::atomic<int> backend(ConfigString("SINGA_GEMM_BACKEND") == "openblas" ? 0 : 1);
#else
  static std::atomic<int> backend(0);
#endif
  return backend;
}

// A stored matrix of one row is never stepped through by its leading dimension: it gets
// the smallest legal one, so a single-row view with a huge row stride (a strided slice)
// neither overflows a 32-bit size nor fails the libraries' ld >= columns check.
// Stored shapes: A is (ta ? K x M : M x K), B is (tb ? N x K : K x N), C is M x N.
void TightenLeadingDims(bool ta, bool tb, size_t M, size_t N, size_t K, size_t& lda,
                        size_t& ldb, size_t& ldc) {
  if ((ta ? K : M) == 1) lda = std::max<size_t>(1, ta ? M : K);
  if ((tb ? N : K) == 1) ldb = std::max<size_t>(1, tb ? K : N);
  if (M == 1) ldc = std::max<size_t>(1, N);
}

#ifdef USE_DNNL
// oneDNN 3.2's AVX-512 sgemm is slow at C = A B^T when A has few rows and B is large:
// M=16, N=9216, K=4096 (AlexNet's fc6 input gradient) takes 33 ms at 2 threads, its
// transpose C^T = B A^T 13.5 ms; M=16 / 1 / 64 with N=K=4096 0.34 / 0.75 / 0.67 of the
// time. With AVX2 it is 0.83-0.96 of the time; from M=128 on, or for B under 16 MB, it
// gains nothing or loses (M=2, 2048 x 728: 2.7x slower). Measured on a 2-core Xeon
// (Sapphire Rapids); benchmarks/README.md, "neon AlexNet".
constexpr size_t kTransposeMaxRows = 64;
constexpr size_t kTransposeMinB = size_t(1) << 22;  // elements of B

bool TransposedIsFaster(bool ta, bool tb, size_t M, size_t N, size_t K, float beta) {
  return !ta && tb && beta == 0.0f && M <= kTransposeMaxRows && N >= 4 * M &&
         N * K >= kTransposeMinB;
}

// C (M x N, ldc) = alpha A B^T, as C^T = alpha B A^T into scratch memory, then copied
// transposed into C.
void GemmThroughTranspose(size_t M, size_t N, size_t K, float alpha, const float* a, size_t lda,
                          const float* b, size_t ldb, float* c, size_t ldc) {
  auto d = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
  std::unique_ptr<float[]> ct(new float[N * M]);  // uninitialised: the GEMM writes it all
  const dnnl_status_t status = dnnl_sgemm('N', 'T', d(N), d(M), d(K), alpha, b, d(ldb), a,
                                          d(lda), 0.0f, ct.get(), d(M));
  if (status != dnnl_success)
    throw ValueError(Msg("Mult: oneDNN sgemm refused M=", N, " N=", M, " K=", K, " lda=", ldb,
                         " ldb=", lda, " ldc=", M, " (status ", static_cast<int>(status), ")"));
  for (size_t i = 0; i < M; ++i) {
    float* row = c + i * ldc;
    for (size_t j = 0; j < N; ++j) row[j] = ct[j * M + i];
  }
}
#endif

template <typename T>
void Gemm(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a, size_t lda,
          const T* b, size_t ldb, T beta, T* c, size_t ldc) {
  TightenLeadingDims(ta, tb, M, N, K, lda, ldb, ldc);
#ifdef USE_DNNL
  if constexpr (std::is_same_v<T, float>) {
    if (GemmBackend().load() == 1) {
      // oneDNN's sizes are 64-bit (dnnl_dim_t): nothing to split.
      auto d = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
      if (TransposedIsFaster(ta, tb, M, N, K, beta)) {
        GemmThroughTranspose(M, N, K, alpha, a, lda, b, ldb, c, ldc);
        return;
      }
      const dnnl_status_t status = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', d(M), d(N), d(K),
                                              alpha, a, d(lda), b, d(ldb), beta, c, d(ldc));
      if (status != dnnl_success)
        throw ValueError(Msg("Mult: oneDNN sgemm refused M=", M, " N=", N, " K=", K, " lda=", lda,
                             " ldb=", ldb, " ldc=", ldc, " (status ", static_cast<int>(status), ")"));
      return;
    }
  }
#endif
  OpenBlasGemm<T>(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// scipy-openblas32 takes every size as a 32-bit int.
constexpr size_t kBlasMax = static_cast<size_t>(INT32_MAX);

// One single-threaded OpenBLAS call. Sizes past kBlasMax are split into calls that fit
// (rows or columns of C, or slices of K accumulated with beta = 1); a leading dimension
// past it cannot be split and is refused, unless its matrix has a single row, whose
// leading dimension BLAS never follows.
template <typename T>
void BlasCall(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a, size_t lda,
              const T* b, size_t ldb, T beta, T* c, size_t ldc) {
  TightenLeadingDims(ta, tb, M, N, K, lda, ldb, ldc);
  if (M > kBlasMax) {
    for (size_t lo = 0; lo < M; lo += kBlasMax) {
      const size_t m = std::min(kBlasMax, M - lo);
      BlasCall<T>(ta, tb, m, N, K, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                  c + lo * ldc, ldc);
    }
    return;
  }
  if (N > kBlasMax) {
    for (size_t lo = 0; lo < N; lo += kBlasMax) {
      const size_t n = std::min(kBlasMax, N - lo);
      BlasCall<T>(ta, tb, M, n, K, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo,
                  ldc);
    }
    return;
  }
  if (K > kBlasMax) {
    for (size_t lo = 0; lo < K; lo += kBlasMax) {
      const size_t k = std::min(kBlasMax, K - lo);
      BlasCall<T>(ta, tb, M, N, k, alpha, ta ? a + lo * lda : a + lo, lda,
                  tb ? b + lo : b + lo * ldb, ldb, lo == 0 ? beta : T(1), c, ldc);
    }
    return;
  }
  if (lda > kBlasMax || ldb > kBlasMax || ldc > kBlasMax)
    throw ValueError(Msg("Mult: OpenBLAS takes 32-bit sizes, but the product of (", M, ", ", K,
                         ") and (", K, ", ", N, ") has leading dimensions lda=", lda, " ldb=", ldb,
                         " ldc=", ldc, " (at most ", kBlasMax, "; copy the operand first)"));
  auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  auto i = [](size_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>)
    scipy_cblas_sgemm(CblasRowMajor, TA, TB, i(M), i(N), i(K), alpha, a, i(lda), b, i(ldb), beta,
                      c, i(ldc));
  else
    scipy_cblas_dgemm(CblasRowMajor, TA, TB, i(M), i(N), i(K), alpha, a, i(lda), b, i(ldb), beta,
                      c, i(ldc));
}

}  // namespace

template <typename T>
void OpenBlasGemm(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a,
                  size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc) {
  // Blocks of whole cache lines of C; below ~4 MFLOP a split costs more than it saves.
  constexpr size_t kAlign = 16;
  const bool by_cols = N >= M;
  const size_t extent = by_cols ? N : M;
  size_t threads = 2.0 * M * N * K < 4e6 ? 1 : static_cast<size_t>(omp_get_max_threads());
  threads = std::min(threads, extent / (4 * kAlign));
  // Sizes past 32 bits take BlasCall's serial splits, so a refusal is thrown on this
  // thread (an exception cannot leave an OpenMP region).
  if (std::max({M, N, K, lda, ldb, ldc}) > kBlasMax) threads = 1;
  if (threads <= 1) {
    BlasCall<T>(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  ParallelFor(static_cast<int>(threads), threads, [&](size_t t) {
    const size_t lo = extent * t / threads / kAlign * kAlign;
    const size_t hi = t + 1 == threads ? extent : extent * (t + 1) / threads / kAlign * kAlign;
    if (by_cols)  // columns lo..hi of op(B) and C
      BlasCall<T>(ta, tb, M, hi - lo, K, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta,
                  c + lo, ldc);
    else  // rows lo..hi of op(A) and C
      BlasCall<T>(ta, tb, hi - lo, N, K, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                  c + lo * ldc, ldc);
  });
}

template void OpenBlasGemm<float>(bool, bool, size_t, size_t, size_t, float, const float*, size_t,
                                  const float*, size_t, float, float*, size_t);
template void OpenBlasGemm<double>(bool, bool, size_t, size_t, size_t, double, const double*,
                                   size_t, const double*, size_t, double, double*, size_t);

void SetGemmBackend(const std::string& name) {
  if (name == "openblas") {
    GemmBackend().store(0);
    return;
  }
#ifdef USE_DNNL
  if (name == "dnnl") {
    GemmBackend().store(1);
    return;
  }
#endif
  throw ValueError(Msg("set_gemm_backend: unknown or unavailable backend '", name,
                       "' (use 'openblas', or 'dnnl' in a build with oneDNN)"));
}

std::string GetGemmBackend() { return GemmBackend().load() == 1 ? "dnnl" : "openblas"; }

namespace cpu {

namespace blas {

template <typename T>
void BatchedGemm(const GemmCall& g) {
  const T* ap = g.a.t.data<T>();
  const T* bp = g.b.t.data<T>();
  T* cp = g.c.data<T>();
  const size_t nbatch = Product(g.batch);
  for (size_t i = 0; i < nbatch; ++i) {
    int64_t oa = 0, ob = 0;
    size_t rem = i;
    for (size_t d = g.batch.size(); d-- > 0;) {
      size_t idx = rem % g.batch[d];
      rem /= g.batch[d];
      oa += static_cast<int64_t>(idx) * g.a.batch_strides[d];
      ob += static_cast<int64_t>(idx) * g.b.batch_strides[d];
    }
    Gemm<T>(g.a.trans, g.b.trans, g.M, g.N, g.K, static_cast<T>(g.alpha), ap + oa,
            static_cast<size_t>(g.a.ld), bp + ob, static_cast<size_t>(g.b.ld),
            static_cast<T>(g.beta), cp + i * g.M * g.N, g.N);
  }
}

void gemm(const GemmCall& call) {
  if (IsHalfFloat(call.c.data_type())) {
    HalfGemm(call);
    return;
  }
  SINGA_DISPATCH_FLOAT(call.c.data_type(), "Mult", { BatchedGemm<T>(call); });
}

}  // namespace blas

}  // namespace cpu
}  // namespace singa
