// Strided addressing for the element-wise CUDA kernels (elementwise.cu): the shape and
// the per-operand strides of a loop nest, merged like the CPU's StridedLoop (cpu/iter.h:
// size-1 axes dropped, axes that are contiguous in every operand fused), passed to the
// kernel by value, and the offsets of every operand for a linear (row-major) index.
#pragma once

#include <cstdint>
#include <vector>

#include "core/common.h"
#include "core/hd.h"

namespace singa {
namespace cuda {

// The most axes a strided kernel takes after merging; a tensor with more raises
// ValueError (every operand would have to be addressed through a device-side table).
constexpr int kMaxStridedDims = 12;

// N operands over one shape. dims[0] is the outermost axis; strides in elements.
template <int N>
struct StridedIndex {
  int ndim = 0;
  // Fewer than 2^32 elements: the index arithmetic runs in 32 bits (a GPU divides 32-bit
  // integers several times faster than 64-bit ones); the offsets stay 64-bit.
  bool index32 = true;
  int64_t dims[kMaxStridedDims] = {};
  int64_t strides[N][kMaxStridedDims] = {};

  // The offset of every operand for element `index` (0 <= index < the product of dims)
  // of the row-major order of the merged shape: 64-bit offsets (a negative stride steps
  // backwards, and a tensor may exceed 2^31 elements).
  SINGA_HD void Offsets(int64_t index, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    if (index32) {
      uint32_t rem = static_cast<uint32_t>(index);
      for (int d = ndim - 1; d >= 0; --d) {
        const uint32_t dim = static_cast<uint32_t>(dims[d]);
        const int64_t i = static_cast<int64_t>(rem % dim);
        rem /= dim;
        for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
      }
      return;
    }
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t dim = dims[d];
      const int64_t i = index % dim;
      index /= dim;
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }
};

// The merged loop nest of `shape` for the operands' strides (each of shape's length).
// `fn` names the kernel in the ValueError raised when more than kMaxStridedDims axes
// remain. A shape of no elements (or none at all) gives one axis of its size.
template <int N>
StridedIndex<N> MakeStridedIndex(const Shape& shape, const Strides* const (&st)[N], const char* fn) {
  StridedIndex<N> s;
  // Merged in growable vectors first, then the count checked.
  std::vector<int64_t> md;
  std::vector<int64_t> ms[N];
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    const int64_t extent = static_cast<int64_t>(shape[i]);
    bool merge = !md.empty();
    for (int k = 0; k < N && merge; ++k) merge = ms[k].back() == (*st[k])[i] * extent;
    if (merge) {
      md.back() *= extent;
      for (int k = 0; k < N; ++k) ms[k].back() = (*st[k])[i];
    } else {
      md.push_back(extent);
      for (int k = 0; k < N; ++k) ms[k].push_back((*st[k])[i]);
    }
  }
  if (md.empty()) {
    md.push_back(static_cast<int64_t>(Product(shape)));  // 1, or 0 for an empty shape
    for (int k = 0; k < N; ++k) ms[k].push_back(0);
  }
  if (md.size() > static_cast<size_t>(kMaxStridedDims))
    throw ValueError(Msg(fn, ": a tensor of shape ", ShapeStr(shape), " has ", md.size(),
                         " axes that cannot be merged; the CUDA kernels take at most ",
                         kMaxStridedDims));
  s.ndim = static_cast<int>(md.size());
  s.index32 = Product(shape) <= static_cast<size_t>(UINT32_MAX);  // so every dim < 2^32 too
  for (int d = 0; d < s.ndim; ++d) {
    s.dims[d] = md[static_cast<size_t>(d)];
    for (int k = 0; k < N; ++k) s.strides[k][d] = ms[k][static_cast<size_t>(d)];
  }
  return s;
}

}  // namespace cuda
}  // namespace singa
