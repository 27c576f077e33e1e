// CPU index kernels: take, gather and scatter along an axis.
#include <cstring>

#include "cpu/cpu_kernels.h"
#include "cpu/iter.h"
#include "math/functors.h"

namespace singa {
namespace cpu {

namespace shape {

void take(const Tensor& src, const std::vector<int64_t>& idx, size_t ax, const Tensor& out) {
  const Shape& s = src.shape();
  size_t outer = Product(s, 0, ax), inner = Product(s, ax + 1), n = s[ax];
  size_t item = SizeOf(src.data_type()), k = idx.size();
  const char* sp = static_cast<const char*>(src.raw());
  char* op = static_cast<char*>(out.raw());
  for (size_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < k; ++j)
      std::memcpy(op + (o * k + j) * inner * item,
                  sp + (o * n + static_cast<size_t>(idx[j])) * inner * item, inner * item);
}

// Calls f(data_flat_index, index_flat_position) for each element of an index tensor of
// shape `is` into contiguous data of shape `ds`.
template <typename F>
void ForElements(const Shape& ds, const Shape& is, size_t ax, const std::vector<int64_t>& idx, F f) {
  Strides ts = ContiguousStrides(ds);
  std::vector<size_t> pos(is.size(), 0);
  for (size_t flat = 0; flat < idx.size(); ++flat) {
    int64_t off = 0;
    for (size_t d = 0; d < is.size(); ++d)
      off += (d == ax ? idx[flat] : static_cast<int64_t>(pos[d])) * ts[d];
    f(static_cast<size_t>(off), flat);
    for (size_t d = is.size(); d-- > 0;) {
      if (++pos[d] < is[d]) break;
      pos[d] = 0;
    }
  }
}

void gather_elements(const Tensor& src, const Shape& index_shape,
                          const std::vector<int64_t>& idx, size_t ax, const Tensor& out) {
  size_t item = SizeOf(src.data_type());
  const char* sp = static_cast<const char*>(src.raw());
  char* op = static_cast<char*>(out.raw());
  ForElements(src.shape(), index_shape, ax, idx,
              [&](size_t d, size_t i) { std::memcpy(op + i * item, sp + d * item, item); });
}

void scatter_elements(const Tensor& out, const Shape& index_shape,
                           const std::vector<int64_t>& idx, const Tensor& updates, size_t ax,
                           bool add) {
  if (!add) {
    size_t item = SizeOf(out.data_type());
    char* op = static_cast<char*>(out.raw());
    const char* sp = static_cast<const char*>(updates.raw());
    ForElements(out.shape(), index_shape, ax, idx,
                [&](size_t d, size_t i) { std::memcpy(op + d * item, sp + i * item, item); });
    return;
  }
  SINGA_DISPATCH_ARITH(out.data_type(), "ScatterElements", {
    T* op = out.data<T>();
    const T* sp = updates.data<T>();
    ForElements(out.shape(), index_shape, ax, idx,
                [&](size_t d, size_t i) { op[d] = fn::WrapAdd(op[d], sp[i]); });
  });
}

}  // namespace shape

}  // namespace cpu
}  // namespace singa
