// LRN entry points: shape checks; the normalisation runs in the device's nn kernels.
#include "math/kernels.h"
#include "math/nn.h"

namespace singa {

using nn_detail::FloatDType;
using nn_detail::ResultOf;
using nn_detail::Prepare;

namespace {

void CheckLRN(const Tensor& x, size_t size, double k, const char* fn) {
  if (x.nDim() < 2)
    throw ValueError(Msg(fn, ": x must be (N, C, ...), got ", ShapeStr(x.shape())));
  if (size == 0) throw ValueError(Msg(fn, ": size must be positive"));
  if (!(k > 0)) throw ValueError(Msg(fn, ": k must be positive, got ", k));
}

}  // namespace

Tensor CpuLRNForward(const Tensor& x_in, size_t size, double alpha, double beta, double k) {
  const char* fn = "CpuLRNForward";
  const DataType out = FloatDType(x_in, fn), dt = ComputeDType(out);
  CheckLRN(x_in, size, k, fn);
  Tensor x = Prepare(x_in, dt);
  Tensor y(x.shape(), x_in.device(), dt);
  if (y.Size() == 0) return y.AsType(out);
  x.device()->kernels().nn.lrn_forward(x, size, alpha, beta, k, &y);
  return y.AsType(out);
}

Tensor CpuLRNBackward(const Tensor& dy_in, const Tensor& x_in, const Tensor& y_in, size_t size,
                      double alpha, double beta, double k) {
  const char* fn = "CpuLRNBackward";
  CheckSameDevice(fn, {&dy_in, &x_in, &y_in});
  const DataType out = ResultOf(fn, {&dy_in, &x_in, &y_in}), dt = ComputeDType(out);
  CheckLRN(x_in, size, k, fn);
  if (dy_in.shape() != x_in.shape() || y_in.shape() != x_in.shape())
    throw ValueError(Msg(fn, ": dy and y must have x's shape ", ShapeStr(x_in.shape()), ", got ",
                         ShapeStr(dy_in.shape()), " and ", ShapeStr(y_in.shape())));
  Tensor x = Prepare(x_in, dt), dy = Prepare(dy_in, dt), y = Prepare(y_in, dt);
  Tensor dx(x.shape(), x_in.device(), dt);
  if (dx.Size() == 0) return dx.AsType(out);
  x.device()->kernels().nn.lrn_backward(dy, x, y, size, alpha, beta, k, &dx);
  return dx.AsType(out);
}

}  // namespace singa
