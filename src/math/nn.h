// Convolution, pooling, batch normalisation and LRN with SINGA's handle-based API
// (ConvHandle/PoolingHandle/BatchNormHandle + Cpu*Forward/Backward; the names are
// SINGA's, the kernels run on the operands' device). Layout is NCHW throughout; float32
// and float64 are supported (other operands are converted to x's dtype). Bad shapes
// raise ValueError, operands on different devices DeviceError, naming the op.
#pragma once

#include <initializer_list>

#include <utility>
#include <vector>

#include "core/tensor.h"

namespace singa {

// Padding as (top, bottom, left, right): accepts 1 value (all sides), 2 values (pad_h, pad_w, symmetric)
// or 4 values (top, bottom, left, right), so SAME_UPPER/SAME_LOWER can be expressed.
struct Pad4 {
  size_t top = 0, bottom = 0, left = 0, right = 0;
};
Pad4 ParsePadding(const std::vector<int>& padding, const char* fn);

// Geometry of a 2-D convolution over inputs of shape (batchsize, channels, height, width).
struct ConvHandle {
  ConvHandle(const Shape& x_shape, const std::vector<int>& kernel_size,
             const std::vector<int>& stride, const std::vector<int>& padding,
             size_t in_channels, size_t out_channels, bool bias, size_t group = 1,
             const std::vector<int>& dilation = {1, 1});

  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_bottom, pad_left, pad_right;
  size_t channels, num_filters, group;
  size_t batchsize, height, width, conv_height, conv_width;
  bool bias_term;
  // im2col matrix of one image and one group: (col_height, col_width).
  size_t col_height, col_width;
};

Tensor CpuConvForward(const Tensor& x, const Tensor& W, const Tensor& b, const ConvHandle& h);
Tensor CpuConvBackwardx(const Tensor& dy, const Tensor& W, const Tensor& x, const ConvHandle& h);
Tensor CpuConvBackwardW(const Tensor& dy, const Tensor& x, const Tensor& W, const ConvHandle& h);
Tensor CpuConvBackwardb(const Tensor& dy, const Tensor& b, const ConvHandle& h);

// Geometry of 2-D max/average pooling. Output size uses floor division (no ceil mode).
// Average pooling divides by the full kernel area, padded cells included (SINGA/Caffe,
// count_include_pad=true) unless count_include_pad is false (valid cells only).
struct PoolingHandle {
  PoolingHandle(const Shape& x_shape, const std::vector<int>& kernel_size,
                const std::vector<int>& stride, const std::vector<int>& padding,
                bool is_max = true, bool count_include_pad = true);

  size_t kernel_h, kernel_w, stride_h, stride_w;
  size_t pad_top, pad_bottom, pad_left, pad_right;
  size_t batchsize, channels, height, width, pooled_height, pooled_width;
  bool is_max_pooling, count_include_pad;
};

Tensor CpuPoolingForward(const PoolingHandle& h, const Tensor& x);
// Max pooling routes each gradient to the first maximal (unpadded) cell of its window,
// recomputed from x; `y` is only shape-checked.
Tensor CpuPoolingBackward(const PoolingHandle& h, const Tensor& dy, const Tensor& x,
                          const Tensor& y);

// Batch normalisation over (N, C, H, W) or (N, C) inputs, statistics per channel.
// running = factor * running + (1 - factor) * batch (SINGA: momentum weighs the old value);
// the running variance takes the unbiased batch variance, normalisation the biased one.
struct BatchNormHandle {
  BatchNormHandle(double momentum, const Shape& x_shape);

  double factor, eps = 1e-5;
  size_t batchsize, channels, height, width;
  bool is_2d;
};

// Returns {y, mean, var} (var is the biased batch variance) and updates running stats.
std::vector<Tensor> CpuBatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x,
                                                const Tensor& scale, const Tensor& bias,
                                                Tensor* running_mean, Tensor* running_var);
Tensor CpuBatchNormForwardInference(const BatchNormHandle& h, const Tensor& x,
                                    const Tensor& scale, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var);
// Returns {dx, dscale, dbias}; mean/var are those returned by the training forward.
std::vector<Tensor> CpuBatchNormBackwardx(const BatchNormHandle& h, const Tensor& y,
                                          const Tensor& dy, const Tensor& x,
                                          const Tensor& scale, const Tensor& bias,
                                          const Tensor& mean, const Tensor& var);

// Local response normalisation across channels of an (N, C, ...) tensor:
// y = x / (k + alpha / size * sum_{c' in window(c)} x_{c'}^2)^beta, the window covering
// channels c - (size-1)/2 .. c + size/2 (ONNX/Caffe).
Tensor CpuLRNForward(const Tensor& x, size_t size, double alpha, double beta, double k);
Tensor CpuLRNBackward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size,
                      double alpha, double beta, double k);

// ---- helpers shared by the nn kernels ----
namespace nn_detail {
// Contiguous and of `dtype`: t itself or a converted copy.
Tensor Prepare(const Tensor& t, DataType dtype);
// x's dtype when it is a float (float32, float64, float16, bfloat16), else TypeError.
DataType FloatDType(const Tensor& x, const char* fn);
// The dtype of an op's result over float operands: without a 16-bit float among them the
// first operand's (the others are converted to it); with one, ResultDType of them all
// (one 16-bit float dtype throughout keeps it, any mix computes and returns float32).
DataType ResultOf(const char* fn, std::initializer_list<const Tensor*> operands);
// (h, w) from 1 or 2 positive ints.
std::pair<size_t, size_t> PairArg(const std::vector<int>& v, const char* fn, const char* what);
}  // namespace nn_detail

}  // namespace singa
