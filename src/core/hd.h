// SINGA_HD marks code that host and device kernels share (the element-wise functors, the
// random bits): empty for the host compiler, __host__ __device__ when nvcc compiles it.
#pragma once

#if defined(__CUDACC__)
#define SINGA_HD __host__ __device__
#else
#define SINGA_HD
#endif

// Forces inlining into the vectorised (`omp simd`) element-wise loops: a call the compiler
// leaves out of line (a large kernel file exhausts its inlining budget) keeps the loop
// scalar. Measured for float Exp on one thread: 97 us -> 9.5 us for 16K elements.
#if defined(__GNUC__)
#define SINGA_INLINE inline __attribute__((always_inline))
#else
#define SINGA_INLINE inline
#endif
