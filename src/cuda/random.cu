// CUDA random fills (math/kernels.h, SINGA_RANDOM_KERNELS): element i of t takes the
// counter-based bits RandomBits(seed, first + i) of core/random.h through the transform
// the CPU uses (core/random.h: BernoulliValue, UniformValue, GaussianValue), so a seed
// gives the CPU's numbers (Gaussian up to the last bit of the GPU's double log and cos).
#include <cstdint>

#include "core/random.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_kernels.h"

namespace singa {
namespace cuda {

namespace {

struct BernoulliGen {
  uint64_t threshold;
  __device__ double operator()(uint64_t bits) const { return BernoulliValue(bits, threshold); }
};
struct UniformGen {
  double low, high;
  __device__ double operator()(uint64_t bits) const { return UniformValue(bits, low, high); }
};
struct GaussianGen {
  double mean, std;
  __device__ double operator()(uint64_t bits) const { return GaussianValue(bits, mean, std); }
};

template <typename T, typename G>
__global__ void RandomFill(T* p, int64_t n, uint64_t seed, uint64_t first, G gen) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    p[i] = static_cast<T>(gen(RandomBits(seed, first + static_cast<uint64_t>(i))));
}

// t contiguous float32/float64 (the entry point fills other dtypes and views through one).
template <typename G>
void Fill(const Tensor& t, const char* fn, uint64_t seed, uint64_t first, G gen) {
  const int64_t n = static_cast<int64_t>(t.Size());
  cudaStream_t stream = StreamOf(t, fn);
  if (n == 0) return;
  switch (t.data_type()) {
    case kFloat32:
      RandomFill<float, G><<<BlocksFor(n), kThreads, 0, stream>>>(t.data<float>(), n, seed, first, gen);
      break;
    case kDouble:
      RandomFill<double, G><<<BlocksFor(n), kThreads, 0, stream>>>(t.data<double>(), n, seed, first, gen);
      break;
    default:
      throw TypeError(Msg(fn, ": expects float32 or float64, got ", DataTypeName(t.data_type())));
  }
  CheckLaunch(fn, t);
}

}  // namespace

void FillRandom(RandomKernels& k) {
  k.bernoulli = [](const Tensor& t, double p, uint64_t seed, uint64_t first) {
    Fill(t, "cuda Bernoulli", seed, first, BernoulliGen{BernoulliThreshold(p)});
  };
  k.uniform = [](const Tensor& t, double low, double high, uint64_t seed, uint64_t first) {
    Fill(t, "cuda Uniform", seed, first, UniformGen{low, high});
  };
  k.gaussian = [](const Tensor& t, double mean, double std, uint64_t seed, uint64_t first) {
    Fill(t, "cuda Gaussian", seed, first, GaussianGen{mean, std});
  };
}

}  // namespace cuda
}  // namespace singa
