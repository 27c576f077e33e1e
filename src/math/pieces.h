// Piecewise evaluation of ops on the narrow dtypes (float16, bfloat16, int8). Those ops
// compute in float32 (or float64), so done in one go they hold a converted copy 2-4x the
// size of their input; past a few million elements that copy dominates memory (a 2^31
// element float16 tensor would need 8 GiB of float32 next to its own 4 GiB). Cut into
// pieces, the converted copies stay at the size of one piece.
#pragma once

#include <algorithm>
#include <vector>

#include "core/tensor.h"

namespace singa {

// Elements above which the narrow-dtype entry points work piece by piece. Below it they
// run exactly as they always have, so small tensors see no change at all.
constexpr size_t kConvertPiece = size_t{1} << 24;

inline bool NeedsPieces(const Tensor& t) {
  const DataType dt = t.data_type();
  return (IsHalfFloat(dt) || dt == kChar) && t.Size() > kConvertPiece;
}

// Calls f(views) for consecutive pieces of `operands` (views of one shape), each piece at
// most kConvertPiece elements. Pieces are cut along the first axis of extent above 1;
// when one index of it is still too large, that index is cut along the next axis.
template <typename F>
void ForPieces(const std::vector<Tensor>& operands, F&& f) {
  const Shape& shape = operands.front().shape();
  if (Product(shape) <= kConvertPiece) {
    f(operands);
    return;
  }
  size_t axis = 0;
  while (shape[axis] == 1) ++axis;  // ends: the product is above 1
  const size_t inner = Product(shape, axis + 1);
  const size_t step = std::max<size_t>(1, kConvertPiece / inner);
  for (size_t start = 0; start < shape[axis]; start += step) {
    const size_t end = std::min(shape[axis], start + step);
    std::vector<Tensor> piece;  // (a default Tensor would allocate a scalar)
    piece.reserve(operands.size());
    for (const Tensor& t : operands) piece.push_back(t.Slice(axis, start, end));
    ForPieces(piece, f);
  }
}

}  // namespace singa
