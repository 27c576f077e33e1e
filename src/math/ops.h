// Free functions on core tensors (SINGA's CTensor API): the kernel entry points. Each
// validates its inputs (shapes, dtypes, one device) and throws ValueError/TypeError/
// IndexError/DeviceError naming itself on bad input, allocates its outputs on the
// inputs' device and runs that device's kernel (math/kernels.h).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "math/op_tables.h"

namespace singa {

#define SINGA_OP_ENUM_ENTRY(Name, ...) k##Name,
enum class Unary { SINGA_UNARY_OPS(SINGA_OP_ENUM_ENTRY) };
enum class Binary { SINGA_BINARY_OPS(SINGA_OP_ENUM_ENTRY) SINGA_BINARY_KERNEL_OPS(SINGA_OP_ENUM_ENTRY) };
#undef SINGA_OP_ENUM_ENTRY

// Whether `op` maps integer tensors to their own dtype (the table's second column).
bool ClosedOnIntegers(Unary op);

// ---- element-wise unary (elementwise.cc) ----
Tensor Apply(Unary op, const Tensor& x, const char* name);

// ---- element-wise binary with NumPy broadcasting (elementwise.cc) ----
Tensor Apply(Binary op, const Tensor& a, const Tensor& b, const char* name);
// out = a op b written into `out` (shape must equal the broadcast shape).
void ApplyInto(Binary op, const Tensor& a, const Tensor& b, Tensor* out, const char* name);
// a op b into a new bool tensor (comparisons of any dtypes, and/or/xor): computed in the
// operands' promoted dtype, then converted (non-zero is true).
Tensor ApplyBool(Binary op, const Tensor& a, const Tensor& b, const char* name);
Tensor ApplyScalar(Binary op, const Tensor& a, double x, const char* name);
// Scalar on the left: x op a (for rsub, rdiv, rpow).
Tensor ApplyScalarLeft(Binary op, double x, const Tensor& a, const char* name);
void ApplyScalarInto(Binary op, const Tensor& a, double x, Tensor* out, const char* name);
// In-place: a = a op b (b broadcast to a's shape).
void ApplyInPlace(Binary op, Tensor* a, const Tensor& b, const char* name);

// y = alpha * x + y (y updated in place; x broadcast to y).
void Axpy(double alpha, const Tensor& x, Tensor* y);
// where(cond, a, b)
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b);
// min(max(x, lo), hi)
Tensor Clip(const Tensor& x, double lo, double hi);

// ---- reductions (reduce.cc) ----
// Sum over `axes` (empty = all); keepdims keeps size-1 axes.
Tensor ReduceSum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor ReduceMean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor ReduceMax(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor ReduceMin(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
Tensor ReduceProd(const Tensor& x, const std::vector<int64_t>& axes, bool keepdims);
// The index (int32) of the first maximum / minimum along `axis`.
Tensor ArgMax(const Tensor& x, int64_t axis);
Tensor ArgMin(const Tensor& x, int64_t axis);
// Inclusive (or exclusive) cumulative sum along `axis`, optionally from the end (ONNX
// CumSum); integer and bool inputs sum in int64 except int32, which stays int32.
Tensor CumSum(const Tensor& x, int64_t axis, bool exclusive, bool reverse);
double SumAll(const Tensor& x);
// Sums `dy` down to `shape` (the reverse of broadcasting).
Tensor SumToShape(const Tensor& dy, const Shape& shape);
Tensor SoftMax(const Tensor& x, int64_t axis);
Tensor SoftMaxBackward(const Tensor& dy, int64_t axis, const Tensor& y);
Tensor LogSoftMax(const Tensor& x, int64_t axis);
// Per-sample -log p[label] (N,); `t` holds int labels (N) or one-hot/probabilities (N,C).
Tensor CrossEntropyFwd(const Tensor& p, const Tensor& t);
Tensor SoftmaxCrossEntropyBwd(const Tensor& p, const Tensor& t);

// ---- BLAS (blas.cc) ----
// NumPy matmul semantics: 1-D operands, batched N-d with broadcast batch axes.
Tensor Mult(const Tensor& a, const Tensor& b);
// c = alpha * a @ b + beta * c for 2-D operands.
void MultWithScale(double alpha, const Tensor& a, const Tensor& b, double beta, Tensor* c);
// Row/column helpers on a 2-D matrix `m` (M, N) with a vector `v`: a column vector has
// M elements (one per row), a row vector N (one per column).
void AddColumnWithScale(double alpha, double beta, const Tensor& v, Tensor* m);
void AddRowWithScale(double alpha, double beta, const Tensor& v, Tensor* m);
void MultColumn(const Tensor& v, Tensor* m);
void MultRow(const Tensor& v, Tensor* m);
void DivColumn(const Tensor& v, Tensor* m);
void DivRow(const Tensor& v, Tensor* m);
// SINGA's names: SumColumns adds the columns together, giving one value per row (M,);
// SumRows adds the rows together, giving one value per column (N,).
Tensor SumColumns(const Tensor& m);
Tensor SumRows(const Tensor& m);

// ---- random (random.cc) ----
void Bernoulli(double p, Tensor* t);
void Gaussian(double mean, double std, Tensor* t);
void Uniform(double low, double high, Tensor* t);

// ---- shape ops (shape.cc) ----
Tensor ConcatOn(const std::vector<Tensor>& ts, int64_t axis);
Tensor SliceOn(const Tensor& t, size_t start, size_t end, int64_t axis);
Tensor Repeat(const Tensor& t, const std::vector<size_t>& repeats, int64_t axis);
Tensor Tile(const Tensor& t, const std::vector<size_t>& reps);
// Gathers along `axis` with int indices (any shape): NumPy take.
Tensor Take(const Tensor& t, const Tensor& indices, int64_t axis);
// Pads with a constant (mode 0), edge (1) or reflect (2) values; pads = (before, after) per axis.
Tensor Pad(const Tensor& t, const std::vector<std::pair<size_t, size_t>>& pads, int mode,
           double value);
// Returns a copy of `t` after scattering `src` along `axis` at `indices`.
Tensor ScatterElements(const Tensor& t, const Tensor& indices, const Tensor& src, int64_t axis,
                       bool add);
Tensor GatherElements(const Tensor& t, const Tensor& indices, int64_t axis);
Tensor OneHot(const Tensor& indices, size_t depth, double on, double off, DataType dtype);

}  // namespace singa
