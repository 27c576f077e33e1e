// SINGA_HD marks code that host and device kernels share (the element-wise functors, the
// random bits): empty for the host compiler, __host__ __device__ when nvcc compiles it.
#pragma once

#if defined(__CUDACC__)
#define SINGA_HD __host__ __device__
#else
#define SINGA_HD
#endif
