// The core Tensor: shape + strides + offset over a shared Block on a Device.
// Views (transpose, broadcast, slice, reshape of contiguous data) share the Block.
#pragma once

#include <initializer_list>
#include <memory>

#include "core/common.h"
#include "core/device.h"

namespace singa {

class Tensor {
 public:
  Tensor();
  explicit Tensor(const Shape& shape, std::shared_ptr<Device> dev = nullptr,
                  DataType dtype = kFloat32);
  // A view over an existing block.
  Tensor(std::shared_ptr<Block> block, std::shared_ptr<Device> dev, DataType dtype,
         const Shape& shape, const Strides& strides, int64_t offset);

  const Shape& shape() const { return shape_; }
  size_t shape(size_t i) const;
  const Strides& stride() const { return strides_; }
  int64_t offset() const { return offset_; }
  size_t nDim() const { return shape_.size(); }
  size_t Size() const { return Product(shape_); }
  size_t MemSize() const { return Size() * SizeOf(dtype_); }
  DataType data_type() const { return dtype_; }
  const std::shared_ptr<Device>& device() const { return device_; }
  const std::shared_ptr<Block>& block() const { return block_; }
  bool empty() const { return Size() == 0; }

  // Row-major contiguous (strides of a fresh tensor of this shape).
  bool IsContiguous() const;
  // True when the last two axes are swapped relative to a contiguous layout
  // (what a 2-D transpose produces); used by matmul to avoid copies.
  bool transpose() const;

  void* raw() const;
  template <typename T>
  T* data() const { return static_cast<T*>(raw()); }

  // ---- copies and conversions ----
  Tensor Clone() const;                         // contiguous deep copy
  // Element-wise copy, converting dtype; src may be on another device (the only kind
  // of call where tensors of different devices meet).
  void CopyData(const Tensor& src);
  Tensor AsType(DataType dtype) const&;         // converted copy (or self if same dtype)
  Tensor AsType(DataType dtype) &&;             // the same; a temporary is moved, not copied
  void ToType(DataType dtype);                  // in-place conversion
  void ToDevice(std::shared_ptr<Device> dev);   // in-place move (a copy on `dev`)
  void ToHost() { ToDevice(defaultDevice()); }
  void SetValue(double v);
  void ResetLike(const Tensor& t);              // fresh storage of t's shape/dtype/device

  // ---- views ----
  Tensor Reshape(const Shape& shape) const;     // view if contiguous, else copy
  Tensor Transpose() const;                     // reverse the axes
  Tensor Transpose(const std::vector<size_t>& axes) const;
  Tensor Broadcast(const Shape& shape) const;   // NumPy-style broadcast view
  Tensor Slice(size_t axis, size_t start, size_t end, int64_t step = 1) const;
  Tensor Squeeze(size_t axis) const;
  Tensor Unsqueeze(size_t axis) const;

  // Contiguous or this very tensor when it already is.
  Tensor Contiguous() const&;
  Tensor Contiguous() &&;  // a contiguous temporary is moved, not copied

  // ---- reductions used by the Python API ----
  double L1() const;
  double L2() const;

  // Bytes of device memory this tensor's block holds (shared with its views).
  size_t BlockBytes() const { return block_ ? block_->size() : 0; }

 private:
  std::shared_ptr<Block> block_;
  std::shared_ptr<Device> device_;
  DataType dtype_ = kFloat32;
  Shape shape_;
  Strides strides_;
  int64_t offset_ = 0;
};

Strides ContiguousStrides(const Shape& shape);
// `t` itself when the host can read its memory, otherwise a copy on the CPU: for entry
// points that read values (labels, indices, scalars) to validate them.
Tensor OnHost(const Tensor& t);
// Throws DeviceError naming `fn` and both devices (name and id) unless every tensor is
// on one device.
void CheckSameDevice(const char* fn, std::initializer_list<const Tensor*> tensors);
// Shape resolving at most one -1 entry; checks element count.
Shape InferShape(const std::vector<int64_t>& dims, size_t size, const char* fn);
// NumPy broadcasting of two shapes; throws ValueError naming `fn`.
Shape BroadcastShapes(const Shape& a, const Shape& b, const char* fn);

}  // namespace singa
