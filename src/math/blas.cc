// Matrix product entry points (NumPy matmul semantics, SINGA's scaled product) and the
// row/column helpers of SINGA's API. The products run in the device's gemm kernel.
#include <algorithm>

#include "math/kernels.h"
#include "math/ops.h"

namespace singa {

namespace {

// A 2-D matrix view (the last two axes of `m`) as a GEMM operand without a copy when its
// layout allows one: row-major (ld = row stride) or transposed (ld = column stride).
GemmCall::Operand Prepare(const Tensor& m) {
  size_t n = m.nDim();
  int64_t rs = m.stride()[n - 2], cs = m.stride()[n - 1];
  size_t rows = m.shape()[n - 2], cols = m.shape()[n - 1];
  if ((cs == 1 || cols == 1) && rs >= static_cast<int64_t>(std::max<size_t>(cols, 1)))
    return {m, false, std::max<int64_t>(rs, 1), {}};
  if ((rs == 1 || rows == 1) && cs >= static_cast<int64_t>(std::max<size_t>(rows, 1)))
    return {m, true, std::max<int64_t>(cs, 1), {}};
  Tensor c = m.Clone();
  return {c, false, static_cast<int64_t>(std::max<size_t>(cols, 1)), {}};
}

// Mult of two matrices already of the compute dtype, the common case: none of the
// vector, batch and conversion handling below, each of which copies tensor handles (two
// vectors allocated per copy), which cost a tenth of a small graph-mode step.
Tensor MultMatrices(const Tensor& a, const Tensor& b) {
  const size_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  if (b.shape()[0] != K)
    throw ValueError(Msg("Mult: shapes ", ShapeStr(a.shape()), " and ", ShapeStr(b.shape()),
                         " are not aligned: ", K, " (last axis of the first) != ", b.shape()[0],
                         " (second-last axis of the second)"));
  Tensor out({M, N}, a.device(), a.data_type());
  if (out.Size() == 0) return out;
  if (K == 0) {
    out.SetValue(0);
    return out;
  }
  GemmCall call(Prepare(a), Prepare(b), out, M, N, K);
  out.device()->kernels().blas.gemm(call);
  return out;
}

}  // namespace

Tensor Mult(const Tensor& a_in, const Tensor& b_in) {
  CheckSameDevice("Mult", {&a_in, &b_in});
  if (a_in.nDim() == 0 || b_in.nDim() == 0)
    throw ValueError(Msg("Mult: matmul needs operands with at least 1 dimension, got shapes ",
                         ShapeStr(a_in.shape()), " and ", ShapeStr(b_in.shape())));
  // float64 pairs stay float64 and one 16-bit float dtype stays itself (the device
  // accumulates in float32); everything else computes in float32.
  const DataType da = a_in.data_type();
  const bool keep = da == b_in.data_type() && (da == kDouble || IsHalfFloat(da));
  DataType dt = keep ? da : kFloat32;
  if (a_in.nDim() == 2 && b_in.nDim() == 2 && da == dt && b_in.data_type() == dt)
    return MultMatrices(a_in, b_in);
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
    batch.clear();
  }
  // Batched operands keep their (possibly zero) batch strides; only the matrix axes matter.
  GemmCall call(Prepare(av), Prepare(bv), out, M, N, K);
  call.a.batch_strides.assign(call.a.t.stride().begin(), call.a.t.stride().begin() + batch.size());
  call.b.batch_strides.assign(call.b.t.stride().begin(), call.b.t.stride().begin() + batch.size());
  call.batch = batch;
  out.device()->kernels().blas.gemm(call);
  return out;
}

void MultWithScale(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor* c) {
  CheckSameDevice("MultWithScale", {&a, &b, c});
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
  GemmCall call(a.data_type() == dt ? Prepare(a) : Prepare(a.AsType(dt)),
                b.data_type() == dt ? Prepare(b) : Prepare(b.AsType(dt)), *c, M, N, K);
  call.alpha = alpha, call.beta = beta;
  c->device()->kernels().blas.gemm(call);
}

namespace {

void CheckMatrixVector(const Tensor& v, const Tensor& m, bool column, const char* fn) {
  CheckSameDevice(fn, {&v, &m});
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
