// The Tensor class and NumPy interchange.
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "bind/def.h"

namespace singa {

DataType NumpyToDataType(const py::dtype& dt) {
  if (dt.is(py::dtype::of<float>())) return kFloat32;
  if (dt.is(py::dtype::of<double>())) return kDouble;
  if (dt.is(py::dtype::of<int32_t>())) return kInt;
  if (dt.is(py::dtype::of<int8_t>())) return kChar;
  if (dt.kind() == 'f' && dt.itemsize() == 2) return kFloat16;
  // By kind and size: NumPy has two 8-byte integer dtypes (long and long long) on Linux.
  const bool native = dt.attr("isnative").cast<bool>();
  if (native && dt.kind() == 'i' && dt.itemsize() == 8) return kInt64;
  if (dt.kind() == 'u' && dt.itemsize() == 1) return kUChar;
  if (dt.kind() == 'b' && dt.itemsize() == 1) return kBool;
  throw TypeError(Msg("from_numpy: unsupported NumPy dtype ", std::string(py::str(dt)),
                      " (use float32, float64, float16, int32, int64, int8, uint8 or bool)"));
}

static py::dtype DataTypeToNumpy(DataType dt) {
  switch (dt) {
    case kFloat32: return py::dtype::of<float>();
    case kDouble: return py::dtype::of<double>();
    case kInt: return py::dtype::of<int32_t>();
    case kChar: return py::dtype::of<int8_t>();
    case kFloat16: return py::dtype("float16");
    case kInt64: return py::dtype::of<int64_t>();
    case kUChar: return py::dtype::of<uint8_t>();
    case kBool: return py::dtype("bool");
    case kBFloat16: break;  // NumPy has no bfloat16: ToNumpy widens to float32 first
  }
  throw TypeError("unknown dtype");
}

namespace {

// Objects released on a thread Python no longer knows, waiting for a release made under
// the GIL (see ReleasePyObject).
std::mutex orphans_mutex;
std::vector<py::object*> orphans;

}  // namespace

void ReleasePyObject(py::object* obj) {
  if (!Py_IsInitialized()) return;
  // A thread without a Python thread state here is typically a Python thread whose OS
  // thread is ending and destroying its thread_locals (a recording graph). It must not take
  // the GIL: the main thread may be finalizing the interpreter meanwhile, and a thread that
  // waits for the GIL then is ended by pthread_exit, whose unwinding through this
  // destructor's path calls std::terminate. Its objects wait for the next release under
  // the GIL (or, at process exit, are left to the OS).
  if (PyGILState_GetThisThreadState() == nullptr) {
    std::lock_guard<std::mutex> lock(orphans_mutex);
    orphans.push_back(obj);
    return;
  }
  std::vector<py::object*> waiting;
  {
    std::lock_guard<std::mutex> lock(orphans_mutex);
    waiting.swap(orphans);
  }
  py::gil_scoped_acquire gil;
  delete obj;
  for (py::object* o : waiting) delete o;
}

Tensor FromNumpy(py::array arr, std::shared_ptr<Device> dev) {
  if (!dev) dev = defaultDevice();
  DataType dt = NumpyToDataType(arr.dtype());
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  bool contiguous = arr.flags() & py::array::c_style;
  if (contiguous && arr.writeable() && dev->host_memory()) {
    // Share the array's memory; the Block keeps the array alive.
    py::object keep = arr;
    auto* holder = new py::object(keep);
    auto block = dev->BorrowBlock(arr.mutable_data(), arr.nbytes(),
                                  [holder] { ReleasePyObject(holder); });
    return Tensor(block, dev, dt, shape, ContiguousStrides(shape), 0);
  }
  py::array c = py::array::ensure(arr, py::array::c_style | py::array::forcecast);
  Tensor t(shape, dev, dt);
  if (t.MemSize()) dev->CopyFromHost(t.raw(), c.data(), t.MemSize());
  return t;
}

py::array ToNumpy(const Tensor& t) {
  // NumPy has no bfloat16, so its arrays are float32 copies (exact: bfloat16 widens
  // without rounding); they share no memory with the tensor.
  if (t.data_type() == kBFloat16) return ToNumpy(t.AsType(kFloat32));
  Tensor h = t;
  if (!h.device()->host_memory()) {
    h = Tensor(t.shape(), defaultDevice(), t.data_type());
    h.CopyData(t);
  }
  std::vector<py::ssize_t> shape(h.shape().begin(), h.shape().end());
  std::vector<py::ssize_t> strides;
  py::ssize_t item = static_cast<py::ssize_t>(SizeOf(h.data_type()));
  for (int64_t s : h.stride()) {
    // Only an axis of one element can have a stride whose byte count overflows (a huge
    // slice step); it is never stepped over, so any stride does.
    py::ssize_t bytes = 0;
    strides.push_back(__builtin_mul_overflow(s, item, &bytes) ? 0 : bytes);
  }
  if (h.Size() == 0) return py::array(DataTypeToNumpy(h.data_type()), shape);
  if (h.raw() == nullptr)
    throw ValueError(Msg("to_numpy: the tensor of shape ", ShapeStr(h.shape()),
                         " holds no memory (an intermediate freed by graph replay)"));
  // The capsule owns a handle to the tensor, keeping its block alive.
  auto* keep = new Tensor(h);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(DataTypeToNumpy(h.data_type()), shape, strides, h.raw(), owner);
}

namespace {

Shape ToShape(const std::vector<int64_t>& dims, const char* fn) {
  Shape s;
  for (int64_t d : dims) {
    if (d < 0) throw ValueError(Msg(fn, ": negative dimension ", d));
    s.push_back(static_cast<size_t>(d));
  }
  return s;
}

py::array_t<float> FloatValues(const Tensor& t, size_t n) {
  if (n > t.Size())
    throw ValueError(Msg("GetFloatValue: asked for ", n, " values of a tensor with ", t.Size()));
  Tensor f = OnHost(t.AsType(kFloat32).Contiguous());
  py::array_t<float> out(static_cast<py::ssize_t>(n));
  if (n) std::memcpy(out.mutable_data(), f.raw(), n * sizeof(float));
  return out;
}

void CopyFromHost(Tensor& t, py::array arr, size_t num, size_t offset) {
  py::array c = py::array::ensure(arr, py::array::c_style);
  DataType dt = NumpyToDataType(c.dtype());
  size_t n = num ? num : static_cast<size_t>(c.size());
  if (n > static_cast<size_t>(c.size()) || n > t.Size() || offset > t.Size() - n)  // no wrap
    throw ValueError(Msg("CopyDataFromHostPtr: copying ", n, " values at offset ", offset,
                         " into a tensor of ", t.Size(), " from an array of ", c.size()));
  if (n == 0) return;
  // The array's memory as a CPU tensor; CopyData moves it to t's device.
  Shape s{n};
  auto cpu = defaultDevice();
  auto block = cpu->BorrowBlock(const_cast<void*>(c.data()), n * SizeOf(dt), [] {});
  Tensor src(block, cpu, dt, s, {1}, 0);
  Tensor dst = t.Contiguous();
  Tensor flat = dst.Reshape({t.Size()}).Slice(0, offset, offset + n);
  flat.CopyData(src);
  if (dst.block() != t.block()) t.CopyData(dst);
}

}  // namespace

void BindTensor(py::module_& m) {
  py::class_<Tensor> t(m, "Tensor", py::buffer_protocol());
  DefInit(t, py::init<>());
  DefInit(t, py::init([](const std::vector<int64_t>& shape, std::optional<std::shared_ptr<Device>> dev,
                         int dt) {
            return Tensor(ToShape(shape, "Tensor"), dev.value_or(nullptr), static_cast<DataType>(dt));
          }),
          py::arg("shape"), py::arg("device") = nullptr, py::arg("dtype") = 0);

  // ---- metadata ----
  DefHost(t, "shape", [](const Tensor& x) { return py::tuple(py::cast(x.shape())); });
  DefHost(t, "shape", py::overload_cast<size_t>(&Tensor::shape, py::const_), py::arg("axis"));
  DefHost(t, "stride", [](const Tensor& x) { return py::tuple(py::cast(x.stride())); });
  DefHost(t, "offset", &Tensor::offset);
  DefHost(t, "nDim", &Tensor::nDim);
  DefHost(t, "Size", &Tensor::Size);
  DefHost(t, "MemSize", &Tensor::MemSize);
  DefHost(t, "BlockBytes", &Tensor::BlockBytes);
  DefHost(t, "data_type", [](const Tensor& x) { return static_cast<int>(x.data_type()); });
  DefHost(t, "device", &Tensor::device);
  DefHost(t, "transpose", py::overload_cast<>(&Tensor::transpose, py::const_));
  DefHost(t, "IsContiguous", &Tensor::IsContiguous);
  DefHost(t, "shares_memory", [](const Tensor& a, const Tensor& b) { return a.block() == b.block(); });
  DefHost(t, "data_ptr", [](const Tensor& x) { return reinterpret_cast<uintptr_t>(x.raw()); });
  // How the memory is arranged inside (oneDNN's outputs may stay channel-blocked until
  // read); every host view sees plain NCHW whatever this says. Does not convert.
  DefHost(t, "layout_name", [](const Tensor& x) -> std::string {
    const auto& b = x.block();
    if (!b || !b->blocked()) return "plain";
    return b->layout().channel_block == 16 ? "nChw16c" : "nChw8c";
  });

  // ---- copies and conversions ----
  DefRecorded(t, "Clone", [](const Tensor& x) { return x.Clone(); }, NoGIL());
  DefRecorded(t, "Contiguous", [](const Tensor& x) { return x.Contiguous(); }, NoGIL());
  DefRecorded(t, "CopyData", [](Tensor& x, const Tensor& src) { x.CopyData(src); }, py::arg("src"), NoGIL());
  DefRecorded(t, "AsType", [](const Tensor& x, int dt) { return x.AsType(static_cast<DataType>(dt)); },
              py::arg("dtype"), NoGIL());
  // These rebind the Python tensor to new storage, which the recorded nodes cannot follow.
  DefNotReplayable(t, "ToType", [](Tensor& x, int dt) { x.ToType(static_cast<DataType>(dt)); },
                   "Tensor.ToType moves a tensor to new storage inside the step",
                   py::arg("dtype"), NoGIL());
  DefNotReplayable(t, "ToDevice", [](Tensor& x, std::shared_ptr<Device> dev) { x.ToDevice(dev); },
                   "Tensor.ToDevice moves a tensor to new storage inside the step", py::arg("device"));
  DefNotReplayable(t, "ToHost", [](Tensor& x) { x.ToHost(); },
                   "Tensor.ToHost moves a tensor to new storage inside the step");
  DefNotReplayable(t, "ResetLike", [](Tensor& x, const Tensor& like) { x.ResetLike(like); },
                   "Tensor.ResetLike gives a tensor new storage inside the step");
  DefRecorded(t, "SetValue", [](Tensor& x, double v) { x.SetValue(v); }, py::arg("value"), NoGIL());
  DefRecorded(t, "SetFloatValue", [](Tensor& x, double v) { x.SetValue(v); }, py::arg("value"), NoGIL());
  DefRecorded(t, "SetIntValue", [](Tensor& x, int v) { x.SetValue(v); }, py::arg("value"), NoGIL());
  DefHost(t, "L1", &Tensor::L1, NoGIL());
  DefHost(t, "L2", &Tensor::L2, NoGIL());

  // ---- views ----
  // SINGA's member Reshape changes this tensor's shape: a view when contiguous, else a
  // copy, which the recorded Reshape kernel repeats on replay.
  static const auto reshape =
      Graphed("Tensor.Reshape", [](const Tensor& x, const Shape& shape) { return x.Reshape(shape); });
  DefRecorded(t, "Reshape", CallsRecorded([](Tensor& x, const std::vector<int64_t>& shape) -> Tensor& {
                Shape s = InferShape(shape, x.Size(), "Reshape");
                x = reshape(x, s);
                return x;
              }), py::arg("shape"), py::return_value_policy::reference_internal);
  DefHost(t, "T", py::overload_cast<>(&Tensor::Transpose, py::const_));
  DefHost(t, "Transpose", [](const Tensor& x, const std::vector<size_t>& axes) { return x.Transpose(axes); });
  DefHost(t, "Broadcast", [](const Tensor& x, const std::vector<int64_t>& shape) {
    return x.Broadcast(ToShape(shape, "Broadcast"));
  });
  // Python slice semantics: negative and None bounds, negative steps.
  DefHost(t, "Slice", [](const Tensor& x, size_t axis, std::optional<py::ssize_t> start,
                         std::optional<py::ssize_t> end, int64_t step) {
    if (axis >= x.nDim())
      throw IndexError(Msg("Slice: axis ", axis, " is out of range for shape ", ShapeStr(x.shape())));
    if (step == 0) throw ValueError("Slice: step cannot be zero");
    auto bound = [](std::optional<py::ssize_t> v) -> py::object {
      return v ? py::object(py::int_(*v)) : py::object(py::none());
    };
    py::ssize_t b, e, st, len;
    py::slice sl(bound(start), bound(end), py::int_(step));
    if (!sl.compute(static_cast<py::ssize_t>(x.shape(axis)), &b, &e, &st, &len))
      throw py::error_already_set();
    if (len == 0) return x.Slice(axis, 0, 0, 1);
    size_t stop = e < 0 ? SIZE_MAX : static_cast<size_t>(e);
    return x.Slice(axis, static_cast<size_t>(b), stop, st);
  }, py::arg("axis"), py::arg("start") = py::none(), py::arg("end") = py::none(), py::arg("step") = 1);
  DefHost(t, "Squeeze", &Tensor::Squeeze);
  DefHost(t, "Unsqueeze", &Tensor::Unsqueeze);
  DefRecorded(t, "Repeat", [](const Tensor& x, const std::vector<size_t>& reps, int axis) {
    return Repeat(x, reps, axis);
  }, py::arg("repeats"), py::arg("axis"), NoGIL());

  // ---- host data in and out ----
  const char* from_host = "copying host (NumPy) data into a tensor inside the step";
  DefNotReplayable(t, "CopyFloatDataFromHostPtr",
                   [](Tensor& x, py::array_t<float, py::array::c_style | py::array::forcecast> a,
                      size_t num, size_t offset) { CopyFromHost(x, a, num, offset); },
                   from_host, py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0);
  DefNotReplayable(t, "CopyIntDataFromHostPtr",
                   [](Tensor& x, py::array_t<int32_t, py::array::c_style | py::array::forcecast> a,
                      size_t num, size_t offset) { CopyFromHost(x, a, num, offset); },
                   from_host, py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0);
  DefNotReplayable(t, "CopyDataFromHostPtr",
                   [](Tensor& x, py::array a, size_t num, size_t offset) { CopyFromHost(x, a, num, offset); },
                   from_host, py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0);
  DefHost(t, "GetFloatValue", [](const Tensor& x, size_t n) { return FloatValues(x, n); }, py::arg("num"));
  DefHost(t, "GetIntValue", [](const Tensor& x, size_t n) {
    if (n > x.Size()) throw ValueError(Msg("GetIntValue: asked for ", n, " values of ", x.Size()));
    Tensor f = OnHost(x.AsType(kInt).Contiguous());
    py::array_t<int32_t> out(static_cast<py::ssize_t>(n));
    if (n) std::memcpy(out.mutable_data(), f.raw(), n * sizeof(int32_t));
    return out;
  }, py::arg("num"));
  DefHost(t, "GetValue", [](const Tensor& x) { return py::array(ToNumpy(x).attr("copy")()); },
          "A NumPy copy of the values");
  DefHost(t, "numpy", &ToNumpy, "A NumPy view sharing this tensor's memory (a copy off the host)");
  // The buffer protocol (memoryview, mpi4py) reads and writes the tensor's own memory.
  // The exported view goes through a NumPy view whose capsule holds the tensor's block,
  // so the memory outlives a later rebinding of this tensor (ResetLike, ToType). Only
  // what a consumer can use in place is exported: a copy would silently drop writes.
  t.def_buffer([](Tensor& x) -> py::buffer_info {
    if (!x.device()->host_memory())
      throw py::buffer_error(Msg("Tensor buffer: the tensor of shape ", ShapeStr(x.shape()),
                                 " lives on ", x.device()->name(), ", not in host memory"));
    if (x.data_type() == kBFloat16)
      throw py::buffer_error(Msg("Tensor buffer: bfloat16 has no buffer-protocol format "
                                 "(tensor of shape ", ShapeStr(x.shape()), ")"));
    if (!x.IsContiguous())
      throw py::buffer_error(Msg("Tensor buffer: the view of shape ", ShapeStr(x.shape()),
                                 " is not contiguous; export x.Contiguous() instead"));
    if (x.Size() && x.raw() == nullptr)
      throw py::buffer_error(Msg("Tensor buffer: the tensor of shape ", ShapeStr(x.shape()),
                                 " holds no memory (an intermediate freed by graph replay)"));
    return py::array(ToNumpy(x)).request(true);
  });

  // ---- in-place arithmetic ----
  DefRecorded(t, "__iadd__", [](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kAdd, &a, b, "__iadd__"); return a; }, NoGIL());
  DefRecorded(t, "__isub__", [](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kSub, &a, b, "__isub__"); return a; }, NoGIL());
  DefRecorded(t, "__imul__", [](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kMul, &a, b, "__imul__"); return a; }, NoGIL());
  DefRecorded(t, "__itruediv__", [](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kDiv, &a, b, "__idiv__"); return a; }, NoGIL());
  DefRecorded(t, "__iadd__", [](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kAdd, a, x, &a, "__iadd__"); return a; }, NoGIL());
  DefRecorded(t, "__isub__", [](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kSub, a, x, &a, "__isub__"); return a; }, NoGIL());
  DefRecorded(t, "__imul__", [](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kMul, a, x, &a, "__imul__"); return a; }, NoGIL());
  DefRecorded(t, "__itruediv__", [](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kDiv, a, x, &a, "__idiv__"); return a; }, NoGIL());
  DefHost(t, "__repr__", [](const Tensor& x) {
    return Msg("<singa_wrap.Tensor shape=", ShapeStr(x.shape()), " dtype=", DataTypeName(x.data_type()),
               " device=", x.device()->name(), ">");
  });

  DefNotReplayable(m, "from_numpy", [](py::array a, std::optional<std::shared_ptr<Device>> dev) {
                     return FromNumpy(a, dev.value_or(nullptr));
                   },
                   "creating a tensor from a NumPy array inside the step", py::arg("array"),
                   py::arg("device") = nullptr);
  DefHost(m, "to_numpy", &ToNumpy, py::arg("tensor"));
}

}  // namespace singa
