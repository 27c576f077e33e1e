#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <vector>

#include "math/kernels.h"

namespace singa {

Strides ContiguousStrides(const Shape& shape) {
  Strides st(shape.size());
  // Unsigned, so a shape too large to allocate (refused once its size is checked) wraps
  // instead of overflowing a signed product first.
  uint64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = static_cast<int64_t>(s);
    s *= shape[i];
  }
  return st;
}

Shape InferShape(const std::vector<int64_t>& dims, size_t size, const char* fn) {
  Shape out(dims.size());
  int64_t infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (infer >= 0) throw ValueError(Msg(fn, ": only one dimension can be -1"));
      infer = static_cast<int64_t>(i);
    } else if (dims[i] < 0) {
      throw ValueError(Msg(fn, ": negative dimension ", dims[i]));
    } else {
      out[i] = static_cast<size_t>(dims[i]);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || size % known != 0)
      throw ValueError(Msg(fn, ": cannot reshape ", size, " elements into a shape with -1 and ",
                           known, " known elements"));
    out[infer] = size / known;
  } else if (known != size) {
    throw ValueError(Msg(fn, ": cannot reshape a tensor of ", size, " elements into ",
                         ShapeStr(out)));
  }
  return out;
}

Shape BroadcastShapes(const Shape& a, const Shape& b, const char* fn) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ValueError(Msg(fn, ": shapes ", ShapeStr(a), " and ", ShapeStr(b),
                           " cannot be broadcast together"));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor::Tensor() : Tensor(Shape{}, nullptr, kFloat32) {}

Tensor::Tensor(const Shape& shape, std::shared_ptr<Device> dev, DataType dtype)
    : device_(dev ? dev : defaultDevice()),
      dtype_(dtype),
      shape_(shape),
      strides_(ContiguousStrides(shape)) {
  size_t bytes = 0;
  // SizeOf also validates the dtype code.
  if (__builtin_mul_overflow(Size(), SizeOf(dtype), &bytes))
    throw ValueError(Msg("Tensor", ShapeStr(shape), " of ", DataTypeName(dtype),
                         ": 2^64 or more bytes"));
  block_ = device_->NewBlock(bytes);
}

Tensor::Tensor(std::shared_ptr<Block> block, std::shared_ptr<Device> dev, DataType dtype,
               const Shape& shape, const Strides& strides, int64_t offset)
    : block_(std::move(block)),
      device_(std::move(dev)),
      dtype_(dtype),
      shape_(shape),
      strides_(strides),
      offset_(offset) {}

size_t Tensor::shape(size_t i) const {
  if (i >= shape_.size())
    throw IndexError(Msg("Tensor.shape: axis ", i, " is out of range for shape ",
                         ShapeStr(shape_)));
  return shape_[i];
}

bool Tensor::IsContiguous() const {
  uint64_t s = 1;  // unsigned: a huge broadcast shape wraps rather than overflows
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != static_cast<int64_t>(s)) return false;
    s *= shape_[i];
  }
  return true;
}

bool Tensor::transpose() const {
  size_t n = shape_.size();
  if (n < 2 || IsContiguous()) return false;
  Tensor swapped = *this;
  std::swap(swapped.shape_[n - 1], swapped.shape_[n - 2]);
  std::swap(swapped.strides_[n - 1], swapped.strides_[n - 2]);
  return swapped.IsContiguous();
}

void* Tensor::raw() const {
  if (!block_) return nullptr;
  // Every kernel but oneDNN's reads and writes plain memory.
  if (block_->blocked()) block_->MakePlain();
  if (block_->data() == nullptr) return nullptr;
  return static_cast<char*>(block_->data()) + offset_ * static_cast<int64_t>(SizeOf(dtype_));
}

Tensor Tensor::Clone() const {
  Tensor out(shape_, device_, dtype_);
  out.CopyData(*this);
  return out;
}

void Tensor::CopyData(const Tensor& src) {
  if (src.Size() != Size())
    throw ValueError(Msg("CopyData: source has ", src.Size(), " elements ", ShapeStr(src.shape()),
                         ", destination has ", Size(), " ", ShapeStr(shape_)));
  if (Size() == 0) return;
  // Same element count but different shapes: copy in row-major order (Reshape views a
  // contiguous source and copies any other). The common case copies no handle.
  std::optional<Tensor> reshaped;
  if (src.shape() != shape_) reshaped = src.Reshape(shape_);
  const Tensor& s = reshaped ? *reshaped : src;
  const std::shared_ptr<Device>& from = s.device();
  if (from == device_ || (from->host_memory() && device_->host_memory())) {
    device_->kernels().elementwise.copy(*this, s);
    return;
  }
  // The host cannot reach both memories: the bytes of a contiguous copy go through the
  // host, then this device converts them into place.
  Tensor packed = s.Contiguous();
  const bool direct = IsContiguous() && dtype_ == packed.data_type();
  Tensor landing = direct ? *this : Tensor(shape_, device_, packed.data_type());
  const size_t bytes = packed.MemSize();
  if (from->host_memory()) {
    device_->CopyFromHost(landing.raw(), packed.raw(), bytes);
  } else if (device_->host_memory()) {
    from->CopyToHost(landing.raw(), packed.raw(), bytes);
  } else {
    std::vector<char> host(bytes);
    from->CopyToHost(host.data(), packed.raw(), bytes);
    device_->CopyFromHost(landing.raw(), host.data(), bytes);
  }
  if (!direct) device_->kernels().elementwise.copy(*this, landing);
}

Tensor Tensor::AsType(DataType dtype) const& {
  if (dtype == dtype_) return *this;
  Tensor out(shape_, device_, dtype);
  out.CopyData(*this);
  return out;
}

// The rvalue forms serve chains like x.AsType(dt).Contiguous(): a copy of a handle
// allocates its shape and stride vectors, a move does not.
Tensor Tensor::AsType(DataType dtype) && {
  if (dtype == dtype_) return std::move(*this);
  return static_cast<const Tensor&>(*this).AsType(dtype);
}

void Tensor::ToType(DataType dtype) { *this = AsType(dtype); }

void Tensor::ToDevice(std::shared_ptr<Device> dev) {
  if (!dev) dev = defaultDevice();
  if (dev == device_) return;
  Tensor out(shape_, dev, dtype_);
  out.CopyData(*this);
  *this = out;
}

void Tensor::SetValue(double v) {
  if (Size() == 0) return;
  device_->kernels().elementwise.fill(*this, v);
}

void Tensor::ResetLike(const Tensor& t) { *this = Tensor(t.shape(), t.device(), t.data_type()); }

Tensor Tensor::Contiguous() const& {
  if (IsContiguous()) return *this;
  return Clone();
}

Tensor Tensor::Contiguous() && {
  if (IsContiguous()) return std::move(*this);
  return Clone();
}

Tensor Tensor::Reshape(const Shape& shape) const {
  if (Product(shape) != Size())
    throw ValueError(Msg("Reshape: cannot reshape a tensor of shape ", ShapeStr(shape_), " (",
                         Size(), " elements) into ", ShapeStr(shape)));
  // A contiguous tensor is viewed in place: Contiguous() would copy the handle (its
  // shape and stride vectors) only to read two fields of it.
  if (IsContiguous()) return Tensor(block_, device_, dtype_, shape, ContiguousStrides(shape), offset_);
  Tensor src = Clone();
  return Tensor(src.block_, device_, dtype_, shape, ContiguousStrides(shape), src.offset_);
}

Tensor Tensor::Transpose() const {
  std::vector<size_t> axes(shape_.size());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return Transpose(axes);
}

Tensor Tensor::Transpose(const std::vector<size_t>& axes) const {
  if (axes.size() != shape_.size())
    throw ValueError(Msg("Transpose: axes of length ", axes.size(), " do not match shape ",
                         ShapeStr(shape_)));
  std::vector<bool> seen(axes.size(), false);
  Shape shape(axes.size());
  Strides st(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] >= axes.size() || seen[axes[i]])
      throw ValueError(Msg("Transpose: axes are not a permutation of 0..", axes.size() - 1));
    seen[axes[i]] = true;
    shape[i] = shape_[axes[i]];
    st[i] = strides_[axes[i]];
  }
  return Tensor(block_, device_, dtype_, shape, st, offset_);
}

Tensor Tensor::Broadcast(const Shape& shape) const {
  if (shape.size() < shape_.size())
    throw ValueError(Msg("Broadcast: cannot broadcast shape ", ShapeStr(shape_), " to ",
                         ShapeStr(shape)));
  size_t lead = shape.size() - shape_.size();
  Strides st(shape.size(), 0);
  for (size_t i = 0; i < shape_.size(); ++i) {
    if (shape_[i] == shape[lead + i]) {
      st[lead + i] = strides_[i];
    } else if (shape_[i] != 1) {
      throw ValueError(Msg("Broadcast: cannot broadcast shape ", ShapeStr(shape_), " to ",
                           ShapeStr(shape)));
    }
  }
  return Tensor(block_, device_, dtype_, shape, st, offset_);
}

Tensor Tensor::Slice(size_t axis, size_t start, size_t end, int64_t step) const {
  if (axis >= shape_.size())
    throw IndexError(Msg("Slice: axis ", axis, " is out of range for shape ", ShapeStr(shape_)));
  if (step == 0) throw ValueError("Slice: step cannot be zero");
  Shape shape = shape_;
  Strides st = strides_;
  size_t count;
  if (step > 0) {
    end = std::min(end, shape_[axis]);
    // ceil((end - start) / step) without the sum end - start + step, which a huge step
    // would overflow
    count = start >= end ? 0 : 1 + (end - start - 1) / static_cast<size_t>(step);
  } else {
    // start > end, walking backwards; `end` may be SIZE_MAX meaning "before 0".
    if (end != SIZE_MAX && end >= shape_[axis]) end = shape_[axis] - 1;
    if (start >= shape_[axis]) {
      if (shape_[axis] == 0) start = 0, end = SIZE_MAX;  // empty either way
      else start = shape_[axis] - 1;
    }
    int64_t s = static_cast<int64_t>(start), e = end == SIZE_MAX ? -1 : static_cast<int64_t>(end);
    if (shape_[axis] == 0) s = -1;
    // -step fits: Python clamps steps to -PY_SSIZE_T_MAX, and the binding takes no other
    count = s <= e ? 0 : 1 + static_cast<size_t>(s - e - 1) / static_cast<size_t>(-step);
  }
  shape[axis] = count;
  // A huge step (Python's t[::2**62]) times the stride can overflow int64, but only when
  // the slice has one element (two or more keep the product within the block), and then
  // the stride is never stepped over: the axis keeps its own.
  if (__builtin_mul_overflow(strides_[axis], step, &st[axis])) st[axis] = strides_[axis];
  int64_t off = count ? offset_ + static_cast<int64_t>(start) * strides_[axis] : offset_;
  return Tensor(block_, device_, dtype_, shape, st, off);
}

Tensor Tensor::Squeeze(size_t axis) const {
  if (axis >= shape_.size() || shape_[axis] != 1)
    throw ValueError(Msg("Squeeze: axis ", axis, " of shape ", ShapeStr(shape_),
                         " does not have size 1"));
  Shape shape = shape_;
  Strides st = strides_;
  shape.erase(shape.begin() + static_cast<int64_t>(axis));
  st.erase(st.begin() + static_cast<int64_t>(axis));
  return Tensor(block_, device_, dtype_, shape, st, offset_);
}

Tensor Tensor::Unsqueeze(size_t axis) const {
  if (axis > shape_.size())
    throw IndexError(Msg("Unsqueeze: axis ", axis, " is out of range for shape ",
                         ShapeStr(shape_)));
  Shape shape = shape_;
  Strides st = strides_;
  int64_t s = axis < shape_.size() ? strides_[axis] * static_cast<int64_t>(shape_[axis]) : 1;
  shape.insert(shape.begin() + static_cast<int64_t>(axis), 1);
  st.insert(st.begin() + static_cast<int64_t>(axis), s);
  return Tensor(block_, device_, dtype_, shape, st, offset_);
}

double Tensor::L1() const {
  NoteCaptureHazard("returns a value to the host");
  if (Size() == 0) return 0;
  return device_->kernels().reduce.power_sum(*this, 1) / static_cast<double>(Size());
}

double Tensor::L2() const {
  NoteCaptureHazard("returns a value to the host");
  if (Size() == 0) return 0;
  return std::sqrt(device_->kernels().reduce.power_sum(*this, 2)) / static_cast<double>(Size());
}

Tensor OnHost(const Tensor& t) {
  if (t.device()->host_memory()) return t;
  Tensor h(t.shape(), defaultDevice(), t.data_type());
  h.CopyData(t);
  return h;
}

void CheckSameDevice(const char* fn, std::initializer_list<const Tensor*> tensors) {
  const Device* first = nullptr;
  for (const Tensor* t : tensors) {
    const Device* d = t->device().get();
    if (first == nullptr) {
      first = d;
    } else if (d != first) {
      throw DeviceError(Msg(fn, ": operands are on different devices (", first->name(), " id ",
                            first->id(), " and ", d->name(), " id ", d->id(), ")"));
    }
  }
}

}  // namespace singa
