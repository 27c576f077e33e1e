// Pooling, batch norm, LRN and the convolution bias as the CUDA device's own kernels
// (why not cuDNN's: cuda/nn_kernels.h). Grid-stride loops over 64-bit indices; every
// launch on the tensor's stream, checked right after; scratch memory from the device's
// allocator (freed in stream order when the entry returns).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"
#include "cuda/nn_kernels.cuh"
#include "cuda/nn_kernels.h"

namespace singa {
namespace cuda {
namespace nn {

namespace {

using namespace kernels;  // NOLINT: the kernels of nn_kernels.cuh

// Calls f(T{}) with T the C++ type of dtype dt (float32 or float64).
template <typename F>
void DispatchFloat(DataType dt, const char* fn, F&& f) {
  if (dt == kFloat32) f(float{});
  else if (dt == kDouble) f(double{});
  else throw TypeError(Msg(fn, ": the CUDA kernel takes float32 or float64, got ", DataTypeName(dt)));
}

// Scratch device memory of `bytes` (at least 1) on the device of t.
std::shared_ptr<Block> Scratch(const Tensor& t, size_t bytes, const char* fn) {
  return GpuOf(t, fn).NewBlock(bytes > 0 ? bytes : 1);
}

PoolGeom GeomOf(const PoolingHandle& h) {
  return {int64_t(h.height), int64_t(h.width), int64_t(h.pooled_height), int64_t(h.pooled_width),
          int64_t(h.kernel_h), int64_t(h.kernel_w), int64_t(h.stride_h), int64_t(h.stride_w),
          int64_t(h.pad_top), int64_t(h.pad_left), h.is_max_pooling, h.count_include_pad};
}

// How a per-channel reduction of `count` elements splits over blocks (ChannelPartialKernel):
// about kPerBlock elements per block, so that a few large channels still fill the GPU.
struct Split {
  int64_t splits, per;
};

Split SplitOf(int64_t channels, int64_t count, const char* fn) {
  constexpr int64_t kPerBlock = 16384;
  const int64_t splits = std::max<int64_t>(1, (count + kPerBlock - 1) / kPerBlock);
  const int64_t per = std::max<int64_t>(1, (count + splits - 1) / splits);
  if (channels * splits > int64_t(INT32_MAX))
    throw ValueError(Msg(fn, ": ", channels, " channels of ", count,
                         " elements need more blocks than a CUDA grid holds"));
  return {splits, per};
}

// Launches the partial sums of every channel into part (2 * C * splits doubles).
template <int kKind, typename T, typename CT>
void ChannelPartials(const T* x, const T* dy, int64_t N, int64_t C, int64_t S, const Split& sp,
                     const CT* center, double* part, cudaStream_t s, const Tensor& on) {
  ChannelPartialKernel<kKind, T, CT><<<unsigned(C * sp.splits), kReduceThreads, 0, s>>>(
      x, dy, N, C, S, sp.splits, sp.per, center, part);
  CheckLaunch("ChannelPartialKernel", on);
}

struct BnDims {
  int64_t N, C, S;
};

BnDims BnDimsOf(const Tensor& x) {
  return {int64_t(x.shape(0)), int64_t(x.shape(1)),
          x.nDim() == 4 ? int64_t(x.shape(2) * x.shape(3)) : 1};
}

// Normalises x into y with the per-channel statistics (mean, var).
template <typename T>
void BnNormalize(const BatchNormHandle& h, const Tensor& x, const T* mean, const T* var,
                 const Tensor& scale, const Tensor& bias, Tensor* y, const char* fn) {
  const BnDims d = BnDimsOf(x);
  const int64_t total = d.N * d.C * d.S;
  if (total == 0) return;
  cudaStream_t s = StreamOf(x, fn);
  auto ab = Scratch(x, 2 * size_t(d.C) * sizeof(T), fn);
  T* a = static_cast<T*>(ab->data());
  T* b = a + d.C;
  BnAffineKernel<T><<<BlocksFor(d.C), kThreads, 0, s>>>(mean, var, scale.data<T>(),
                                                        bias.data<T>(), h.eps, d.C, a, b);
  CheckLaunch("BnAffineKernel", x);
  BnNormalizeKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), total, d.C, d.S, a, b,
                                                             y->data<T>());
  CheckLaunch("BnNormalizeKernel", x);
}

LrnGeom LrnGeomOf(const Tensor& x, size_t size) {
  return {int64_t(x.shape(1)), int64_t(Product(x.shape(), 2)), int64_t(size)};
}

// Calls f(E{}) with E an unsigned integer of `bytes` bytes (the copies move bits only).
template <typename F>
void DispatchBits(size_t bytes, const char* fn, F&& f) {
  if (bytes == 2) f(uint16_t{});
  else if (bytes == 4) f(uint32_t{});
  else if (bytes == 8) f(uint64_t{});
  else throw TypeError(Msg(fn, ": no padded copy for elements of ", bytes, " bytes"));
}

}  // namespace

void PadPlanes(const void* src, void* dst, int64_t planes, int64_t H, int64_t W, int64_t top,
               int64_t bottom, int64_t left, int64_t right, size_t elem_size, const Tensor& on) {
  const int64_t Hp = H + top + bottom, Wp = W + left + right, total = planes * Hp * Wp;
  if (total == 0) return;
  cudaStream_t s = StreamOf(on, "conv padding");
  DispatchBits(elem_size, "conv padding", [&](auto tag) {
    using E = decltype(tag);
    PadPlanesKernel<E><<<BlocksFor(total), kThreads, 0, s>>>(
        static_cast<const E*>(src), static_cast<E*>(dst), total, H, W, Hp, Wp, top, left);
    CheckLaunch("PadPlanesKernel", on);
  });
}

void CropPlanes(const void* src, void* dst, int64_t planes, int64_t Hp, int64_t Wp, int64_t H,
                int64_t W, int64_t top, int64_t left, size_t elem_size, const Tensor& on) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  cudaStream_t s = StreamOf(on, "conv padding");
  DispatchBits(elem_size, "conv padding", [&](auto tag) {
    using E = decltype(tag);
    CropPlanesKernel<E><<<BlocksFor(total), kThreads, 0, s>>>(
        static_cast<const E*>(src), static_cast<E*>(dst), total, Hp, Wp, H, W, top, left);
    CheckLaunch("CropPlanesKernel", on);
  });
}

void pool_forward(const PoolingHandle& h, const Tensor& x, Tensor* y) {
  const char* fn = "CpuPoolingForward";
  const int64_t total = int64_t(y->Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    PoolForwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), y->data<T>(), total,
                                                               GeomOf(h));
    CheckLaunch("PoolForwardKernel", x);
  });
}

void pool_backward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx) {
  const char* fn = "CpuPoolingBackward";
  const int64_t total = int64_t(dx->Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    PoolBackwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(dy.data<T>(), x.data<T>(),
                                                                dx->data<T>(), total, GeomOf(h));
    CheckLaunch("PoolBackwardKernel", x);
  });
}

void batchnorm_training(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var) {
  const char* fn = "CpuBatchNormForwardTraining";
  const BnDims d = BnDimsOf(x);
  if (d.C == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    // The entry point refuses an empty batch (N * S == 0) before it gets here.
    const int64_t count = d.N * d.S;
    const Split sp = SplitOf(d.C, count, fn);
    auto scratch = Scratch(x, (2 * size_t(d.C * sp.splits) + size_t(d.C)) * sizeof(double), fn);
    double* part = static_cast<double*>(scratch->data());
    double* center = part + 2 * d.C * sp.splits;
    const T* xp = x.data<T>();
    ChannelPartials<kSumX, T, double>(xp, nullptr, d.N, d.C, d.S, sp, nullptr, part, s, x);
    BnMeanKernel<<<BlocksFor(d.C), kThreads, 0, s>>>(part, d.C, sp.splits, count, center);
    CheckLaunch("BnMeanKernel", x);
    ChannelPartials<kSqDev, T, double>(xp, nullptr, d.N, d.C, d.S, sp, center, part, s, x);
    BnVarKernel<T><<<BlocksFor(d.C), kThreads, 0, s>>>(part, center, d.C, sp.splits, count,
                                                       mean->data<T>(), var->data<T>());
    CheckLaunch("BnVarKernel", x);
    BnNormalize<T>(h, x, mean->data<T>(), var->data<T>(), scale, bias, y, fn);
  });
}

void batchnorm_inference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                         const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y) {
  const char* fn = "CpuBatchNormForwardInference";
  GpuOf(x, fn).Activate();
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    BnNormalize<T>(h, x, mean.data<T>(), var.data<T>(), scale, bias, y, fn);
  });
}

void batchnorm_backward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                        const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                        Tensor* dscale, Tensor* dbias) {
  const char* fn = "CpuBatchNormBackwardx";
  const BnDims d = BnDimsOf(x);
  const int64_t total = d.N * d.C * d.S;
  if (d.C == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    const int64_t count = d.N * d.S;
    const Split sp = SplitOf(d.C, count, fn);
    auto scratch = Scratch(x, (2 * size_t(d.C * sp.splits) + 4 * size_t(d.C)) * sizeof(double), fn);
    double* part = static_cast<double*>(scratch->data());
    double* cp = part + 2 * d.C * sp.splits;
    ChannelPartials<kGrad, T, T>(x.data<T>(), dy.data<T>(), d.N, d.C, d.S, sp, mean.data<T>(),
                                 part, s, x);
    BnBackwardFinalizeKernel<T><<<BlocksFor(d.C), kThreads, 0, s>>>(
        part, d.C, sp.splits, count, mean.data<T>(), var.data<T>(), scale.data<T>(), h.eps,
        dscale->data<T>(), dbias->data<T>(), cp);
    CheckLaunch("BnBackwardFinalizeKernel", x);
    if (total == 0) return;
    BnBackwardDxKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(x.data<T>(), dy.data<T>(), total,
                                                                d.C, d.S, cp, dx->data<T>());
    CheckLaunch("BnBackwardDxKernel", x);
  });
}

void lrn_forward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y) {
  const char* fn = "CpuLRNForward";
  const int64_t total = int64_t(x.Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    LrnForwardKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        x.data<T>(), y->data<T>(), total, LrnGeomOf(x, size), T(alpha / double(size)), T(k), beta);
    CheckLaunch("LrnForwardKernel", x);
  });
}

void lrn_backward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size, double alpha,
                  double beta, double k, Tensor* dx) {
  const char* fn = "CpuLRNBackward";
  const int64_t total = int64_t(x.Size());
  if (total == 0) return;
  GpuOf(x, fn).Activate();
  cudaStream_t s = StreamOf(x, fn);
  DispatchFloat(x.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    const LrnGeom g = LrnGeomOf(x, size);
    auto scratch = Scratch(x, size_t(total) * sizeof(T), fn);
    T* t = static_cast<T*>(scratch->data());
    LrnBackwardScaleKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        dy.data<T>(), x.data<T>(), y.data<T>(), dx->data<T>(), t, total, g,
        T(alpha / double(size)), T(k), beta);
    CheckLaunch("LrnBackwardScaleKernel", x);
    LrnBackwardSumKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(
        x.data<T>(), t, dx->data<T>(), total, g, T(2 * alpha * beta / double(size)));
    CheckLaunch("LrnBackwardSumKernel", x);
  });
}

void conv_add_bias(const Tensor& b, Tensor* y) {
  const char* fn = "CpuConvForward";
  const int64_t total = int64_t(y->Size());
  if (total == 0) return;
  const int64_t F = int64_t(y->shape(1)), S = int64_t(Product(y->shape(), 2));
  cudaStream_t s = StreamOf(*y, fn);
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    AddBiasKernel<T><<<BlocksFor(total), kThreads, 0, s>>>(static_cast<T*>(y->raw()),
                                                           static_cast<const T*>(b.raw()), total,
                                                           F, S);
    CheckLaunch("AddBiasKernel", *y);
  };
  switch (y->data_type()) {
    case kFloat32: launch(float{}); break;
    case kDouble: launch(double{}); break;
    case kFloat16: launch(__half{}); break;
    case kBFloat16: launch(__nv_bfloat16{}); break;
    default:
      throw TypeError(Msg(fn, ": the CUDA bias takes a float dtype, got ",
                          DataTypeName(y->data_type())));
  }
}

void conv_backward_bias(const ConvHandle& h, const Tensor& dy, Tensor* db) {
  const char* fn = "CpuConvBackwardb";
  const int64_t N = int64_t(dy.shape(0)), F = int64_t(h.num_filters),
                S = int64_t(Product(dy.shape(), 2));
  if (F == 0) return;
  GpuOf(dy, fn).Activate();
  cudaStream_t s = StreamOf(dy, fn);
  DispatchFloat(dy.data_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    const Split sp = SplitOf(F, N * S, fn);
    auto scratch = Scratch(dy, 2 * size_t(F * sp.splits) * sizeof(double), fn);
    double* part = static_cast<double*>(scratch->data());
    ChannelPartials<kSumX, T, double>(dy.data<T>(), nullptr, N, F, S, sp, nullptr, part, s, dy);
    BiasGradFinalizeKernel<T><<<BlocksFor(F), kThreads, 0, s>>>(part, F, sp.splits,
                                                                db->data<T>());
    CheckLaunch("BiasGradFinalizeKernel", dy);
  });
}

}  // namespace nn
}  // namespace cuda
}  // namespace singa
