// The per-device kernel table. An entry point in src/math validates its inputs, puts
// them in the form the kernel expects (dtype, layout, broadcast views), allocates the
// outputs on the inputs' device and calls `device->kernels().<family>.<kernel>(...)`.
// A device fills every entry with its own implementation (the CPU's are in src/cpu/);
// the table is checked complete when the device makes it (CheckKernelTable).
//
// Unless an entry says otherwise, its tensors are on the device the table belongs to,
// outputs are pre-allocated and written through their data pointers, and float kernels
// take float32 or float64. GEMM and the three convolution kernels also take float16 or
// bfloat16 (every operand of that one dtype) and accumulate in float32; every other
// kernel gets the 16-bit floats widened to float32 by its entry point.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "math/nn.h"
#include "math/ops.h"

namespace singa {

enum class ReduceKind { kSum, kMax, kMin, kProd };

// One batched GEMM: for each batch index i, c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i]
// with c[i] (M, N) contiguous, the matrices of c stored one after another. a and b are
// addressed from their data pointers: matrix i starts at the batch offset given by
// `batch` and the per-axis batch strides (elements); op() transposes when trans is set,
// and ld is the leading dimension of the stored matrix (row-major).
// (No default constructor: a default Tensor allocates a scalar.)
struct GemmCall {
  struct Operand {
    Tensor t;
    bool trans;
    int64_t ld;
    Strides batch_strides;  // per batch axis
  };
  GemmCall(Operand a_, Operand b_, Tensor c_, size_t M_, size_t N_, size_t K_)
      : a(std::move(a_)), b(std::move(b_)), c(std::move(c_)), M(M_), N(N_), K(K_) {}
  Operand a, b;
  Tensor c;
  size_t M, N, K;
  double alpha = 1, beta = 0;
  Shape batch;  // empty: one product
};

// X(name, signature) per family.
#define SINGA_ELEMENTWISE_KERNELS(X)                                                     \
  /* y = op(x): same shape and dtype (int32/int64 only for ops closed on integers) */ \
  X(unary, void(Unary op, const Tensor& x, const Tensor& y))                             \
  /* out = a op b: a and b of out's shape (broadcast views) and dtype (float32,         \
     float64, int32, int64), neither overlapping out in another layout */                \
  X(binary, void(Binary op, const Tensor& a, const Tensor& b, const Tensor& out))        \
  /* y += alpha * x: x of y's shape (a broadcast view) and dtype */                      \
  X(axpy, void(double alpha, const Tensor& x, const Tensor& y))                          \
  /* out = cond ? a : b, cond bool, all contiguous with out's shape, any dtype */       \
  X(where, void(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out)) \
  /* dst = src converted to dst's dtype: same shape, any dtypes and strides; src may    \
     also be any host memory when this device's memory is host memory */                \
  X(copy, void(const Tensor& dst, const Tensor& src))                                    \
  /* every element of t = value, any dtype and strides */                                \
  X(fill, void(const Tensor& t, double value))

#define SINGA_REDUCE_KERNELS(X)                                                          \
  /* out = the reduction of x (contiguous, float32/float64/int32/int64) over the axes  \
     in `axes`, out contiguous in x's dtype, the kept axes in order */                   \
  X(reduce, void(ReduceKind kind, const Tensor& x, const std::vector<bool>& axes,        \
                 const Tensor& out))                                                     \
  /* out (int32) = the index of the first maximum (minimum) along `axis` of x           \
     (contiguous, float32/float64/int32/int64) */                                        \
  X(argmax, void(const Tensor& x, size_t axis, const Tensor& out))                       \
  X(argmin, void(const Tensor& x, size_t axis, const Tensor& out))                       \
  /* out = the running sum of x along `axis` (both contiguous, one dtype: float32,       \
     float64, int32, int64), without the current element when exclusive, from the end   \
     when reverse */                                                                     \
  X(cumsum, void(const Tensor& x, size_t axis, bool exclusive, bool reverse,             \
                 const Tensor& out))                                                     \
  /* y = (log_)softmax of x (contiguous) along axis */                                   \
  X(softmax, void(const Tensor& x, size_t axis, bool log, const Tensor& y))              \
  /* loss (N,) = -log p[label] (index_labels: target int32 (N,), labels checked) or     \
     -sum t * log p (target of p's shape and dtype); p (N, C), all contiguous */         \
  X(cross_entropy, void(const Tensor& p, const Tensor& target, bool index_labels,        \
                        const Tensor& loss))                                             \
  /* g[i, labels[i]] -= 1 for g (N, C) contiguous and labels int32 (N,) in range */      \
  X(subtract_at_labels, void(const Tensor& g, const Tensor& labels))                     \
  /* sum of |v|^power (power 1 or 2) over t, any dtype and strides, accumulated in      \
     double in a fixed order */                                                          \
  X(power_sum, double(const Tensor& t, int power))

#define SINGA_BLAS_KERNELS(X) X(gemm, void(const GemmCall& call))

// Random fills of t (contiguous float) with elements i drawing counter first + i of the
// stream of `seed` (core/random.h), so every device draws the same numbers.
#define SINGA_RANDOM_KERNELS(X)                                                          \
  X(bernoulli, void(const Tensor& t, double p, uint64_t seed, uint64_t first))           \
  X(uniform, void(const Tensor& t, double low, double high, uint64_t seed, uint64_t first)) \
  X(gaussian, void(const Tensor& t, double mean, double std, uint64_t seed, uint64_t first))

// Index kernels. `indices` are checked and made non-negative by the caller; src and out
// are contiguous.
#define SINGA_SHAPE_KERNELS(X)                                                           \
  /* out = src with `axis` replaced by the indexed entries (NumPy take) */               \
  X(take, void(const Tensor& src, const std::vector<int64_t>& indices, size_t axis,      \
               const Tensor& out))                                                       \
  /* out (of index_shape) [..i..] = src[..indices[i] on axis..] */                       \
  X(gather_elements, void(const Tensor& src, const Shape& index_shape,                   \
                          const std::vector<int64_t>& indices, size_t axis,              \
                          const Tensor& out))                                            \
  /* out[..indices[i] on axis..] = updates[..i..] (any dtype) or += (float32, float64,  \
     int32, int64) */                                                                    \
  X(scatter_elements, void(const Tensor& out, const Shape& index_shape,                  \
                           const std::vector<int64_t>& indices, const Tensor& updates,   \
                           size_t axis, bool add))

// The handle kernels of math/nn.h on shape-checked, contiguous operands of one float
// dtype; b may be null (no bias).
#define SINGA_NN_KERNELS(X)                                                              \
  X(conv_forward, void(const ConvHandle& h, const Tensor& x, const Tensor& W,            \
                       const Tensor* b, Tensor* y))                                      \
  X(conv_backward_data, void(const ConvHandle& h, const Tensor& dy, const Tensor& W,     \
                             Tensor* dx))                                                \
  X(conv_backward_weights, void(const ConvHandle& h, const Tensor& dy, const Tensor& x,  \
                                Tensor* dW))                                             \
  X(conv_backward_bias, void(const ConvHandle& h, const Tensor& dy, Tensor* db))         \
  X(pool_forward, void(const PoolingHandle& h, const Tensor& x, Tensor* y))              \
  X(pool_backward, void(const PoolingHandle& h, const Tensor& dy, const Tensor& x,       \
                        Tensor* dx))                                                     \
  /* y, and the batch mean and biased variance (C,) */                                   \
  X(batchnorm_training, void(const BatchNormHandle& h, const Tensor& x,                  \
                             const Tensor& scale, const Tensor& bias, Tensor* y,         \
                             Tensor* mean, Tensor* var))                                 \
  X(batchnorm_inference, void(const BatchNormHandle& h, const Tensor& x,                 \
                              const Tensor& scale, const Tensor& bias, const Tensor& mean, \
                              const Tensor& var, Tensor* y))                             \
  X(batchnorm_backward, void(const BatchNormHandle& h, const Tensor& x, const Tensor& dy, \
                             const Tensor& scale, const Tensor& mean, const Tensor& var, \
                             Tensor* dx, Tensor* dscale, Tensor* dbias))                 \
  X(lrn_forward, void(const Tensor& x, size_t size, double alpha, double beta, double k, \
                      Tensor* y))                                                        \
  X(lrn_backward, void(const Tensor& dy, const Tensor& x, const Tensor& y, size_t size,  \
                       double alpha, double beta, double k, Tensor* dx))

// In-place optimizer updates of math/fused.h on a contiguous float parameter p and
// state tensors of its shape and dtype (buf may be null), and dropout's forward.
#define SINGA_FUSED_KERNELS(X)                                                           \
  X(sgd, void(const Tensor& p, const Tensor& g, const Tensor* buf, double lr,            \
              double momentum, double dampening, double wd, bool nesterov))              \
  X(rmsprop, void(const Tensor& p, const Tensor& g, const Tensor& v, double lr,          \
                  double rho, double eps, double wd))                                    \
  X(adagrad, void(const Tensor& p, const Tensor& g, const Tensor& h, double lr,          \
                  double eps, double wd))                                                \
  X(adam, void(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,       \
               double lr, double beta1, double beta2, double eps, double wd, int64_t step)) \
  /* y = x * mask, mask = Bernoulli(1 - ratio) / (1 - ratio) from stream position        \
     `counter` of `seed`; x, y, mask contiguous of one shape and dtype */                \
  X(dropout, void(const Tensor& x, double ratio, uint64_t seed, uint64_t counter,        \
                  const Tensor& y, const Tensor& mask))

// X(Family, member, LIST): the families in the order the test device reports them.
#define SINGA_KERNEL_FAMILIES(X)                     \
  X(Elementwise, elementwise, SINGA_ELEMENTWISE_KERNELS) \
  X(Reduce, reduce, SINGA_REDUCE_KERNELS)            \
  X(Blas, blas, SINGA_BLAS_KERNELS)                  \
  X(Random, random, SINGA_RANDOM_KERNELS)            \
  X(Shape, shape, SINGA_SHAPE_KERNELS)               \
  X(NN, nn, SINGA_NN_KERNELS)                        \
  X(Fused, fused, SINGA_FUSED_KERNELS)

#define SINGA_KERNEL_FIELD(name, ...) std::function<__VA_ARGS__> name;
#define SINGA_KERNEL_FAMILY_STRUCT(Family, member, LIST) \
  struct Family##Kernels {                               \
    LIST(SINGA_KERNEL_FIELD)                             \
  };
SINGA_KERNEL_FAMILIES(SINGA_KERNEL_FAMILY_STRUCT)
#undef SINGA_KERNEL_FAMILY_STRUCT
#undef SINGA_KERNEL_FIELD

#define SINGA_KERNEL_FAMILY_ENUM(Family, member, LIST) k##Family,
enum class KernelFamily { SINGA_KERNEL_FAMILIES(SINGA_KERNEL_FAMILY_ENUM) kCount };
#undef SINGA_KERNEL_FAMILY_ENUM

// "elementwise", "reduce", ...: the family's member name in KernelTable.
const char* KernelFamilyName(KernelFamily family);

struct KernelTable {
#define SINGA_KERNEL_FAMILY_MEMBER(Family, member, LIST) Family##Kernels member;
  SINGA_KERNEL_FAMILIES(SINGA_KERNEL_FAMILY_MEMBER)
#undef SINGA_KERNEL_FAMILY_MEMBER
};

// Calls visit(entry, family, "family.kernel") for every entry of `table`; entry is the
// std::function itself, so a device can wrap or replace it.
template <typename Visit>
void ForEachKernel(KernelTable& table, Visit&& visit) {
#define SINGA_VISIT_ENTRY(name, ...) visit(fam.name, family, std::string(prefix) + #name);
#define SINGA_VISIT_FAMILY(Family, member, LIST)         \
  {                                                      \
    auto& fam = table.member;                            \
    const KernelFamily family = KernelFamily::k##Family; \
    const char* prefix = #member ".";                    \
    LIST(SINGA_VISIT_ENTRY)                              \
  }
  SINGA_KERNEL_FAMILIES(SINGA_VISIT_FAMILY)
#undef SINGA_VISIT_FAMILY
#undef SINGA_VISIT_ENTRY
}

// Throws std::logic_error naming the first empty entry of `table` (of `device`).
void CheckKernelTable(KernelTable& table, const std::string& device);

}  // namespace singa
