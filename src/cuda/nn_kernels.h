// The NN kernels the CUDA device runs as its own CUDA code (nn_kernels.cu) rather than
// through cuDNN, with the signatures of math/kernels.h's SINGA_NN_KERNELS; nn_cudnn.cc
// puts them in the table beside the cuDNN convolutions. They are the CPU's loops
// (cpu/pool.cc, cpu/batchnorm_loops.h, cpu/lrn.cc) one output element per thread, with
// the same arithmetic in the same order where the CPU fixes one:
//  - pooling: any padding (cuDNN's is symmetric), max backward routing each gradient to
//    the first maximal cell of its window (cuDNN does not document its tie rule), average
//    with count_include_pad either way; backward gathers per input cell (no atomics, so
//    the result is deterministic and the sums run in the CPU's order);
//  - batch norm: the statistics accumulate in double over each channel and the kernel
//    returns the biased batch variance itself (cuDNN's training forward returns the
//    inverse standard deviation and updates running statistics with its own factor and
//    correction, which is not singa's contract: the entry point updates them);
//  - LRN: any window size (cuDNN's lrnN is 1..16) with the CPU's window bounds;
//  - the convolution bias (forward add and backward sum), for every float dtype.
#pragma once

#include "math/kernels.h"

namespace singa {
namespace cuda {
namespace nn {

void pool_forward(const PoolingHandle& h, const Tensor& x, Tensor* y);
void pool_backward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx);
void batchnorm_training(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                        const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var);
void batchnorm_inference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                         const Tensor& bias, const Tensor& mean, const Tensor& var, Tensor* y);
void batchnorm_backward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                        const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                        Tensor* dscale, Tensor* dbias);
void lrn_forward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y);
void lrn_backward(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size, double alpha,
                  double beta, double k, Tensor* dx);
// y (N, F, S) += b[f] for every n and spatial s (float32, float64, float16, bfloat16).
void conv_add_bias(const Tensor& b, Tensor* y);
// db[f] = the sum of dy (N, F, ...) over n and the spatial axes (float32, float64).
void conv_backward_bias(const ConvHandle& h, const Tensor& dy, Tensor* db);

// The asymmetric-padding copies of the cuDNN convolutions (cuDNN pads symmetrically):
// dst (planes, H + top + bottom, W + left + right) = src (planes, H, W) zero-padded, and
// dst (planes, H, W) = the window of src (planes, Hp, Wp) at (top, left). Elements of
// `elem_size` bytes (2, 4 or 8); device pointers; on the stream of `on`.
void PadPlanes(const void* src, void* dst, int64_t planes, int64_t H, int64_t W, int64_t top,
               int64_t bottom, int64_t left, int64_t right, size_t elem_size, const Tensor& on);
void CropPlanes(const void* src, void* dst, int64_t planes, int64_t Hp, int64_t Wp, int64_t H,
                int64_t W, int64_t top, int64_t left, size_t elem_size, const Tensor& on);

}  // namespace nn
}  // namespace cuda
}  // namespace singa
