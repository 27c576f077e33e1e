// Matrix products on OpenBLAS (scipy-openblas32, symbols prefixed scipy_) and the
// row/column helpers of SINGA's API.
#include <cblas.h>
#ifdef USE_DNNL
#include <dnnl.h>
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "math/iter.h"
#include "math/gemm.h"
#include "math/ops.h"

namespace singa {

namespace {

// How a 2-D matrix view can be handed to GEMM without a copy.
struct GemmOperand {
  Tensor t;          // the (possibly copied) tensor the pointer refers to
  bool trans;        // pass CblasTrans
  blasint ld;        // leading dimension
};

// Picks a layout for the last two axes of `m` (rows x cols) or copies to contiguous.
GemmOperand Prepare(const Tensor& m) {
  size_t n = m.nDim();
  int64_t rs = m.stride()[n - 2], cs = m.stride()[n - 1];
  size_t rows = m.shape()[n - 2], cols = m.shape()[n - 1];
  if ((cs == 1 || cols == 1) && rs >= static_cast<int64_t>(std::max<size_t>(cols, 1)))
    return {m, false, static_cast<blasint>(std::max<int64_t>(rs, 1))};
  if ((rs == 1 || rows == 1) && cs >= static_cast<int64_t>(std::max<size_t>(rows, 1)))
    return {m, true, static_cast<blasint>(std::max<int64_t>(cs, 1))};
  Tensor c = m.Clone();
  return {c, false, static_cast<blasint>(std::max<size_t>(cols, 1))};
}

// Which library runs float32 GEMMs: 0 = OpenBLAS, 1 = oneDNN (when compiled in).
// oneDNN is the default: on the AVX-512 machines measured (benchmarks/README.md) its
// sgemm is as fast or faster at every size, twice as fast for matrix-vector shapes, and
// steady; OpenBLAS, run through its own threading, was at half speed in some processes.
std::atomic<int>& GemmBackend() {
  static std::atomic<int> backend([] {
    const char* env = std::getenv("SINGA_GEMM_BACKEND");
#ifdef USE_DNNL
    return env != nullptr && std::strcmp(env, "openblas") == 0 ? 0 : 1;
#else
    (void)env;
    return 0;
#endif
  }());
  return backend;
}

template <typename T>
void Gemm(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a, blasint lda,
          const T* b, blasint ldb, T beta, T* c, blasint ldc) {
#ifdef USE_DNNL
  if constexpr (std::is_same_v<T, float>) {
    if (GemmBackend().load() == 1) {
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', static_cast<dnnl_dim_t>(M), static_cast<dnnl_dim_t>(N),
                 static_cast<dnnl_dim_t>(K), alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
#endif
  OpenBlasGemm<T>(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

// One single-threaded OpenBLAS call.
template <typename T>
void BlasCall(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a, size_t lda,
              const T* b, size_t ldb, T beta, T* c, size_t ldc) {
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

Tensor Mult(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.nDim() == 0 || b_in.nDim() == 0)
    throw ValueError(Msg("Mult: matmul needs operands with at least 1 dimension, got shapes ",
                         ShapeStr(a_in.shape()), " and ", ShapeStr(b_in.shape())));
  if (a_in.device() != b_in.device())
    throw DeviceError("Mult: operands are on different devices");
  DataType dt = a_in.data_type() == b_in.data_type() && a_in.data_type() == kDouble ? kDouble : kFloat32;
  bool a_vec = a_in.nDim() == 1, b_vec = b_in.nDim() == 1;
  Tensor a = a_vec ? a_in.Unsqueeze(0) : a_in;
  Tensor b = b_vec ? b_in.Unsqueeze(1) : b_in;
  size_t na = a.nDim(), nb = b.nDim();
  size_t M = a.shape(na - 2), K = a.shape(na - 1), K2 = b.shape(nb - 2), N = b.shape(nb - 1);
  if (K != K2)
    throw ValueError(Msg("Mult: shapes ", ShapeStr(a_in.shape()), " and ", ShapeStr(b_in.shape()),
                         " are not aligned: ", K, " (last axis of the first) != ", K2,
                         " (", b_vec ? "only" : "second-last", " axis of the second)"));
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = BroadcastShapes(batch_a, batch_b, "Mult");
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor out(out_shape, a.device(), dt);
  if (out.Size() == 0) return out;
  if (K == 0) {
    out.SetValue(0);
    return out;
  }
  Shape full_a = batch, full_b = batch;
  full_a.insert(full_a.end(), {M, K});
  full_b.insert(full_b.end(), {K, N});
  Tensor av = a.AsType(dt).Broadcast(full_a), bv = b.AsType(dt).Broadcast(full_b);
  size_t nbatch = Product(batch);
  // Collapse the batch if every matrix of `a` is one block and `b` is shared:
  // a (B, M, K) @ b (K, N) becomes one (B*M, K) @ (K, N) GEMM.
  bool b_shared = true;
  for (size_t i = 0; i < batch.size(); ++i) b_shared = b_shared && bv.stride()[i] == 0;
  if (nbatch > 1 && b_shared && av.IsContiguous()) {
    av = av.Reshape({nbatch * M, K});
    Shape bs = {K, N};
    bv = Tensor(bv.block(), bv.device(), dt, bs,
                {bv.stride()[batch.size()], bv.stride()[batch.size() + 1]}, bv.offset());
    M *= nbatch;
    nbatch = 1;
    batch.clear();
  }
  // Batched operands keep their (possibly zero) batch strides; only the matrix axes matter.
  GemmOperand pa = Prepare(av), pb = Prepare(bv);
  Strides sa = pa.t.stride(), sb = pb.t.stride();
  SINGA_DISPATCH_FLOAT(dt, "Mult", {
    T* cp = out.data<T>();
    const T* ap = pa.t.data<T>();
    const T* bp = pb.t.data<T>();
    for (size_t i = 0; i < nbatch; ++i) {
      int64_t oa = 0, ob = 0;
      size_t rem = i;
      for (size_t d = batch.size(); d-- > 0;) {
        size_t idx = rem % batch[d];
        rem /= batch[d];
        oa += static_cast<int64_t>(idx) * sa[d];
        ob += static_cast<int64_t>(idx) * sb[d];
      }
      Gemm<T>(pa.trans, pb.trans, M, N, K, T(1), ap + oa, pa.ld, bp + ob, pb.ld, T(0),
              cp + i * M * N, static_cast<blasint>(N));
    }
  });
  return out;
}

void MultWithScale(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor* c) {
  if (a.nDim() != 2 || b.nDim() != 2 || c->nDim() != 2)
    throw ValueError(Msg("MultWithScale: expects 2-D operands, got ", ShapeStr(a.shape()), ", ",
                         ShapeStr(b.shape()), " and ", ShapeStr(c->shape())));
  size_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
  if (b.shape(0) != K || c->shape(0) != M || c->shape(1) != N)
    throw ValueError(Msg("MultWithScale: shapes ", ShapeStr(a.shape()), " @ ", ShapeStr(b.shape()),
                         " -> ", ShapeStr(c->shape()), " do not fit"));
  DataType dt = c->data_type();
  if ((dt != kFloat32 && dt != kDouble) || !c->IsContiguous()) {
    Tensor tmp = c->AsType(dt == kDouble ? kDouble : kFloat32).Clone();
    MultWithScale(alpha, a, b, beta, &tmp);
    c->CopyData(tmp);
    return;
  }
  if (M == 0 || N == 0) return;
  GemmOperand pa = Prepare(a.AsType(dt)), pb = Prepare(b.AsType(dt));
  SINGA_DISPATCH_FLOAT(dt, "MultWithScale", {
    Gemm<T>(pa.trans, pb.trans, M, N, K, static_cast<T>(alpha), pa.t.data<T>(), pa.ld,
            pb.t.data<T>(), pb.ld, static_cast<T>(beta), c->data<T>(), static_cast<blasint>(N));
  });
}

namespace {

void CheckMatrixVector(const Tensor& v, const Tensor& m, bool column, const char* fn) {
  if (m.nDim() != 2)
    throw ValueError(Msg(fn, ": expects a 2-D matrix, got ", ShapeStr(m.shape())));
  size_t want = column ? m.shape(0) : m.shape(1);
  if (v.Size() != want)
    throw ValueError(Msg(fn, ": vector of ", v.Size(), " elements ", ShapeStr(v.shape()),
                         " does not match the ", column ? "rows" : "columns", " of matrix ",
                         ShapeStr(m.shape())));
}

// The vector as a broadcastable column (M,1) or row (1,N).
Tensor AsColumnOrRow(const Tensor& v, const Tensor& m, bool column) {
  return column ? v.Reshape({m.shape(0), 1}) : v.Reshape({1, m.shape(1)});
}

void ScaleAdd(double alpha, double beta, const Tensor& v, Tensor* m, bool column, const char* fn) {
  CheckMatrixVector(v, *m, column, fn);
  Tensor vv = AsColumnOrRow(v, *m, column);
  if (beta != 1.0) ApplyScalarInto(Binary::kMul, *m, beta, m, fn);
  Axpy(alpha, vv, m);
}

}  // namespace

void AddColumnWithScale(double alpha, double beta, const Tensor& v, Tensor* m) {
  ScaleAdd(alpha, beta, v, m, true, "AddColumnWithScale");
}
void AddRowWithScale(double alpha, double beta, const Tensor& v, Tensor* m) {
  ScaleAdd(alpha, beta, v, m, false, "AddRowWithScale");
}

#define SINGA_ROWCOL(name, op, column)                                \
  void name(const Tensor& v, Tensor* m) {                             \
    CheckMatrixVector(v, *m, column, #name);                          \
    ApplyInPlace(op, m, AsColumnOrRow(v, *m, column), #name);         \
  }
SINGA_ROWCOL(MultColumn, Binary::kMul, true)
SINGA_ROWCOL(MultRow, Binary::kMul, false)
SINGA_ROWCOL(DivColumn, Binary::kDiv, true)
SINGA_ROWCOL(DivRow, Binary::kDiv, false)
#undef SINGA_ROWCOL

Tensor SumColumns(const Tensor& m) {
  if (m.nDim() != 2) throw ValueError(Msg("SumColumns: expects a 2-D matrix, got ", ShapeStr(m.shape())));
  return ReduceSum(m, {1}, false);
}

Tensor SumRows(const Tensor& m) {
  if (m.nDim() != 2) throw ValueError(Msg("SumRows: expects a 2-D matrix, got ", ShapeStr(m.shape())));
  return ReduceSum(m, {0}, false);
}

}  // namespace singa
