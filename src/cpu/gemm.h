// CPU GEMM: the library choice, and row-major GEMM on OpenBLAS shared by the matrix
// products and the im2col convolution.
#pragma once

#include <cstddef>
#include <string>

namespace singa {

// C = alpha * op(A) op(B) + beta * C (row-major; op transposes when ta/tb). OpenBLAS runs
// single-threaded; a large product is split into column (or row) blocks, one per OpenMP
// thread. Run through OpenBLAS's own threading (its pthreads, or our pool via its thread
// callback) the same product was at half speed in about half of the processes measured.
template <typename T>
void OpenBlasGemm(bool ta, bool tb, size_t M, size_t N, size_t K, T alpha, const T* a,
                  size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc);

// float32 GEMM library of the CPU: "dnnl" (oneDNN, the default when compiled in) or
// "openblas" (the default otherwise); initially from SINGA_GEMM_BACKEND.
void SetGemmBackend(const std::string& name);
std::string GetGemmBackend();

}  // namespace singa
