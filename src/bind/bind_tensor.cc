// The Tensor class and NumPy interchange.
#include "bind/bind.h"
#include "bind/graphed.h"
#include "math/iter.h"

namespace singa {

DataType NumpyToDataType(const py::dtype& dt) {
  if (dt.is(py::dtype::of<float>())) return kFloat32;
  if (dt.is(py::dtype::of<double>())) return kDouble;
  if (dt.is(py::dtype::of<int32_t>())) return kInt;
  if (dt.is(py::dtype::of<int8_t>())) return kChar;
  if (dt.kind() == 'f' && dt.itemsize() == 2) return kFloat16;
  throw TypeError(Msg("from_numpy: unsupported NumPy dtype ", std::string(py::str(dt)),
                      " (use float32, float64, float16, int32 or int8)"));
}

static py::dtype DataTypeToNumpy(DataType dt) {
  switch (dt) {
    case kFloat32: return py::dtype::of<float>();
    case kDouble: return py::dtype::of<double>();
    case kInt: return py::dtype::of<int32_t>();
    case kChar: return py::dtype::of<int8_t>();
    case kFloat16: return py::dtype("float16");
  }
  throw TypeError("unknown dtype");
}

Tensor FromNumpy(py::array arr, std::shared_ptr<Device> dev) {
  if (!dev) dev = defaultDevice();
  DataType dt = NumpyToDataType(arr.dtype());
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  bool contiguous = arr.flags() & py::array::c_style;
  if (contiguous && dev->lang() == kCpp && arr.writeable()) {
    // Share the array's memory; the Block keeps the array alive.
    py::object keep = arr;
    auto* holder = new py::object(keep);
    auto block = dev->BorrowBlock(arr.mutable_data(), arr.nbytes(), [holder] {
      py::gil_scoped_acquire gil;
      delete holder;
    });
    return Tensor(block, dev, dt, shape, ContiguousStrides(shape), 0);
  }
  py::array c = py::array::ensure(arr, py::array::c_style | py::array::forcecast);
  Tensor t(shape, dev, dt);
  if (t.MemSize()) std::memcpy(t.raw(), c.data(), t.MemSize());
  return t;
}

py::array ToNumpy(const Tensor& t) {
  Tensor h = t;
  if (h.device()->lang() != kCpp) {
    h = t.Clone();
    h.ToHost();
  }
  std::vector<py::ssize_t> shape(h.shape().begin(), h.shape().end());
  std::vector<py::ssize_t> strides;
  py::ssize_t item = static_cast<py::ssize_t>(SizeOf(h.data_type()));
  for (int64_t s : h.stride()) strides.push_back(s * item);
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
  Tensor f = t.AsType(kFloat32).Contiguous();
  py::array_t<float> out(static_cast<py::ssize_t>(n));
  if (n) std::memcpy(out.mutable_data(), f.raw(), n * sizeof(float));
  return out;
}

void CopyFromHost(Tensor& t, py::array arr, size_t num, size_t offset) {
  py::array c = py::array::ensure(arr, py::array::c_style);
  DataType dt = NumpyToDataType(c.dtype());
  size_t n = num ? num : static_cast<size_t>(c.size());
  if (n > static_cast<size_t>(c.size()) || offset + n > t.Size())
    throw ValueError(Msg("CopyDataFromHostPtr: copying ", n, " values at offset ", offset,
                         " into a tensor of ", t.Size(), " from an array of ", c.size()));
  if (n == 0) return;
  Shape s{n};
  auto block = t.device()->BorrowBlock(const_cast<void*>(c.data()), n * SizeOf(dt), [] {});
  Tensor src(block, t.device(), dt, s, {1}, 0);
  Tensor dst = t.Contiguous();
  Tensor flat = dst.Reshape({t.Size()}).Slice(0, offset, offset + n);
  flat.CopyData(src);
  if (dst.block() != t.block()) t.CopyData(dst);
}

}  // namespace

void BindTensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor")
      .def(py::init<>())
      .def(py::init([](const std::vector<int64_t>& shape, std::shared_ptr<Device> dev, int dt) {
             return Tensor(ToShape(shape, "Tensor"), dev, static_cast<DataType>(dt));
           }),
           py::arg("shape"), py::arg("device") = nullptr, py::arg("dtype") = 0)
      .def("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def("shape", py::overload_cast<size_t>(&Tensor::shape, py::const_), py::arg("axis"))
      .def("stride", [](const Tensor& t) { return py::tuple(py::cast(t.stride())); })
      .def("offset", &Tensor::offset)
      .def("nDim", &Tensor::nDim)
      .def("Size", &Tensor::Size)
      .def("MemSize", &Tensor::MemSize)
      .def("BlockBytes", &Tensor::BlockBytes)
      .def("data_type", [](const Tensor& t) { return static_cast<int>(t.data_type()); })
      .def("device", &Tensor::device)
      .def("transpose", py::overload_cast<>(&Tensor::transpose, py::const_))
      .def("IsContiguous", &Tensor::IsContiguous)
      .def("shares_memory", [](const Tensor& a, const Tensor& b) { return a.block() == b.block(); })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw()); })
      .def("Clone", Graphed([](const Tensor& t) { return t.Clone(); }), NoGIL())
      .def("Contiguous", Graphed([](const Tensor& t) { return t.Contiguous(); }), NoGIL())
      .def("CopyData", Graphed([](Tensor& t, const Tensor& src) { t.CopyData(src); }), py::arg("src"), NoGIL())
      .def("AsType", Graphed([](const Tensor& t, int dt) { return t.AsType(static_cast<DataType>(dt)); }),
           py::arg("dtype"), NoGIL())
      .def("ToType", [](Tensor& t, int dt) { t.ToType(static_cast<DataType>(dt)); }, py::arg("dtype"), NoGIL())
      .def("ToDevice", &Tensor::ToDevice, py::arg("device"))
      .def("ToHost", &Tensor::ToHost)
      .def("ResetLike", &Tensor::ResetLike)
      .def("SetValue", Graphed([](Tensor& t, double v) { t.SetValue(v); }), py::arg("value"), NoGIL())
      .def("SetFloatValue", Graphed([](Tensor& t, double v) { t.SetValue(v); }), py::arg("value"), NoGIL())
      .def("SetIntValue", Graphed([](Tensor& t, int v) { t.SetValue(v); }), py::arg("value"), NoGIL())
      .def("L1", &Tensor::L1, NoGIL())
      .def("L2", &Tensor::L2, NoGIL())
      // SINGA's member Reshape changes this tensor's shape (a view when contiguous).
      .def("Reshape", [](Tensor& t, const std::vector<int64_t>& shape) -> Tensor& {
             t = t.Reshape(InferShape(shape, t.Size(), "Reshape"));
             return t;
           }, py::arg("shape"), py::return_value_policy::reference_internal)
      .def("T", py::overload_cast<>(&Tensor::Transpose, py::const_))
      .def("Transpose", [](const Tensor& t, const std::vector<size_t>& axes) { return t.Transpose(axes); })
      .def("Broadcast", [](const Tensor& t, const std::vector<int64_t>& shape) {
        return t.Broadcast(ToShape(shape, "Broadcast"));
      })
      // Python slice semantics: negative and None bounds, negative steps.
      .def("Slice", [](const Tensor& t, size_t axis, const py::object& start, const py::object& end,
                       int64_t step) {
        if (axis >= t.nDim())
          throw IndexError(Msg("Slice: axis ", axis, " is out of range for shape ", ShapeStr(t.shape())));
        if (step == 0) throw ValueError("Slice: step cannot be zero");
        py::ssize_t b, e, st, len;
        py::slice sl(start, end, py::int_(step));
        if (!sl.compute(static_cast<py::ssize_t>(t.shape(axis)), &b, &e, &st, &len))
          throw py::error_already_set();
        if (len == 0) return t.Slice(axis, 0, 0, 1);
        size_t stop = e < 0 ? SIZE_MAX : static_cast<size_t>(e);
        return t.Slice(axis, static_cast<size_t>(b), stop, st);
      }, py::arg("axis"), py::arg("start") = py::none(), py::arg("end") = py::none(), py::arg("step") = 1)
      .def("Squeeze", &Tensor::Squeeze)
      .def("Unsqueeze", &Tensor::Unsqueeze)
      .def("Repeat", Graphed([](const Tensor& t, const std::vector<size_t>& reps, int axis) {
        return Repeat(t, reps, axis);
      }), py::arg("repeats"), py::arg("axis"), NoGIL())
      .def("CopyFloatDataFromHostPtr", NotGraphed([](Tensor& t, py::array_t<float, py::array::c_style | py::array::forcecast> a,
                                          size_t num, size_t offset) { CopyFromHost(t, a, num, offset); }, "copying host (NumPy) data into a tensor inside the step"),
           py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0)
      .def("CopyIntDataFromHostPtr", NotGraphed([](Tensor& t, py::array_t<int32_t, py::array::c_style | py::array::forcecast> a,
                                        size_t num, size_t offset) { CopyFromHost(t, a, num, offset); }, "copying host (NumPy) data into a tensor inside the step"),
           py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0)
      .def("CopyDataFromHostPtr", NotGraphed([](Tensor& t, py::array a, size_t num, size_t offset) {
        CopyFromHost(t, a, num, offset);
      }, "copying host (NumPy) data into a tensor inside the step"), py::arg("src"), py::arg("num") = 0, py::arg("offset") = 0)
      .def("GetFloatValue", [](const Tensor& t, size_t n) { return FloatValues(t, n); }, py::arg("num"))
      .def("GetIntValue", [](const Tensor& t, size_t n) {
        if (n > t.Size()) throw ValueError(Msg("GetIntValue: asked for ", n, " values of ", t.Size()));
        Tensor f = t.AsType(kInt).Contiguous();
        py::array_t<int32_t> out(static_cast<py::ssize_t>(n));
        if (n) std::memcpy(out.mutable_data(), f.raw(), n * sizeof(int32_t));
        return out;
      }, py::arg("num"))
      .def("GetValue", [](const Tensor& t) { return ToNumpy(t).attr("copy")(); })
      .def("numpy", &ToNumpy, "A NumPy view sharing this tensor's memory")
      .def("__iadd__", Graphed([](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kAdd, &a, b, "__iadd__"); return a; }), NoGIL())
      .def("__isub__", Graphed([](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kSub, &a, b, "__isub__"); return a; }), NoGIL())
      .def("__imul__", Graphed([](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kMul, &a, b, "__imul__"); return a; }), NoGIL())
      .def("__itruediv__", Graphed([](Tensor& a, const Tensor& b) -> Tensor& { ApplyInPlace(Binary::kDiv, &a, b, "__idiv__"); return a; }), NoGIL())
      .def("__iadd__", Graphed([](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kAdd, a, x, &a, "__iadd__"); return a; }), NoGIL())
      .def("__isub__", Graphed([](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kSub, a, x, &a, "__isub__"); return a; }), NoGIL())
      .def("__imul__", Graphed([](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kMul, a, x, &a, "__imul__"); return a; }), NoGIL())
      .def("__itruediv__", Graphed([](Tensor& a, double x) -> Tensor& { ApplyScalarInto(Binary::kDiv, a, x, &a, "__idiv__"); return a; }), NoGIL())
      .def("__repr__", [](const Tensor& t) {
        return Msg("<singa_wrap.Tensor shape=", ShapeStr(t.shape()), " dtype=", DataTypeName(t.data_type()),
                   " device=", t.device()->name(), ">");
      });

  m.def("from_numpy", NotGraphed([](py::array a, std::shared_ptr<Device> dev) { return FromNumpy(a, dev); }, "creating a tensor from a NumPy array inside the step"),
        py::arg("array"), py::arg("device") = nullptr);
  m.def("to_numpy", &ToNumpy, py::arg("tensor"));
}

}  // namespace singa
