// Zero-copy exchange with other array libraries: DLPack (the Python array API standard's
// protocol: Tensor.__dlpack__ / __dlpack_device__ here, from_dlpack_capsule for the
// consumer side that singa.tensor.from_dlpack drives) and, on CUDA tensors, the
// __cuda_array_interface__ (version 3). The Python half is python/singa/tensor_interop.py.
//
// Exporting: a capsule named "dltensor_versioned" (DLPack 1.0, DLManagedTensorVersioned)
// when the consumer passes max_version >= (1, 0), else a legacy "dltensor" one
// (DLManagedTensor). Its manager context holds a view of the tensor, so the memory lives
// until the consumer calls the deleter, however long the exporting tensor lives. A
// consumer renames the capsule "used_dltensor[_versioned]" and owns the deleter from then
// on; a capsule that dies unconsumed calls the deleter itself.
//
// Importing: the memory becomes a borrowed Block (Device::BorrowBlock) on the CPU device or
// on the CUDA device of the array, whose release calls the producer's deleter. Read-only
// memory (NumPy's read-only arrays) is copied: a singa tensor is always writable.
//
// CUDA streams: a consumer of a CUDA tensor passes its stream; the stream then waits for
// everything singa has queued on the tensor's device (cuda/interop.h). from_dlpack passes
// singa's own stream to the producer the same way.
#include <Python.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bind/def.h"
#include "bind/dlpack.h"
#ifdef USE_CUDA
#include "cuda/interop.h"
#endif

namespace singa {

namespace {

using namespace dlpack;  // NOLINT: the ABI names (bind/dlpack.h)

std::string DeviceTypeName(int32_t type) {
  switch (type) {
    case kDLCPU: return "kDLCPU";
    case kDLCUDA: return "kDLCUDA";
    case kDLCUDAHost: return "kDLCUDAHost";
    case 4: return "kDLOpenCL";
    case 7: return "kDLVulkan";
    case 8: return "kDLMetal";
    case 10: return "kDLROCM";
    case 11: return "kDLROCMHost";
    case kDLCUDAManaged: return "kDLCUDAManaged";
    case 14: return "kDLOneAPI";
    default: return "device type " + std::to_string(type);
  }
}

std::string DeviceStr(int32_t type, int32_t id) {
  return Msg("(", type, ", ", id, ") (", DeviceTypeName(type), " ", id, ")");
}

DLDataType ToDLDataType(DataType dt) {
  switch (dt) {
    case kFloat32: return {kDLFloat, 32, 1};
    case kFloat16: return {kDLFloat, 16, 1};
    case kDouble: return {kDLFloat, 64, 1};
    case kBFloat16: return {kDLBfloat, 16, 1};
    case kInt: return {kDLInt, 32, 1};
    case kInt64: return {kDLInt, 64, 1};
    case kChar: return {kDLInt, 8, 1};
    case kUChar: return {kDLUInt, 8, 1};
    case kBool: return {kDLBool, 8, 1};
  }
  throw py::buffer_error(Msg("__dlpack__: dtype code ", static_cast<int>(dt), " has no DLPack type"));
}

std::string DLDataTypeName(DLDataType t) {
  const char* kinds[] = {"int", "uint", "float", "opaque handle ", "bfloat", "complex", "bool"};
  std::string s = t.code < 7 ? kinds[t.code] : Msg("type code ", static_cast<int>(t.code), " ");
  if (t.code >= 7) s += "(a float8/6/4 format) ";
  s += std::to_string(t.bits);
  if (t.lanes != 1) s += Msg(" x ", t.lanes, " lanes");
  return s;
}

DataType FromDLDataType(DLDataType t, const char* fn) {
  if (t.lanes != 1)
    throw py::buffer_error(Msg(fn, ": vector dtypes are not supported (", DLDataTypeName(t),
                               "); singa reads scalar elements only (lanes == 1)"));
  switch (t.code) {
    case kDLFloat:
      if (t.bits == 32) return kFloat32;
      if (t.bits == 64) return kDouble;
      if (t.bits == 16) return kFloat16;
      break;
    case kDLBfloat:
      if (t.bits == 16) return kBFloat16;
      break;
    case kDLInt:
      if (t.bits == 32) return kInt;
      if (t.bits == 64) return kInt64;
      if (t.bits == 8) return kChar;
      break;
    case kDLUInt:
      if (t.bits == 8) return kUChar;
      break;
    case kDLBool:
      if (t.bits == 8) return kBool;
      break;
    default:
      break;
  }
  throw py::buffer_error(Msg(fn, ": the array's dtype ", DLDataTypeName(t),
                             " is not a singa dtype (float32, float64, float16, bfloat16, "
                             "int32, int64, int8, uint8, bool); convert it first"));
}

// Where DLPack says a tensor's memory is; a BufferError for memory DLPack cannot name.
DLDevice DeviceOf(const Tensor& t, const char* fn) {
  const Device& d = *t.device();
  if (d.lang() == kCuda) return {kDLCUDA, d.id()};
  if (d.host_memory()) return {kDLCPU, 0};
  throw py::buffer_error(Msg(fn, ": the tensor lives on ", d.name(), " (id ", d.id(),
                             "), whose memory is neither host memory nor a CUDA GPU's, so "
                             "DLPack cannot describe it; copy it to the host first "
                             "(to_host), or ask for a host copy with dl_device=(1, 0)"));
}

// ---- export ----

// What a capsule's manager context owns: a view of the tensor (its Block and device stay
// alive) and the shape and strides the DLTensor points to.
struct Export {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
  DLManagedTensor legacy{};
  DLManagedTensorVersioned versioned{};
};

void DeleteLegacy(DLManagedTensor* self) { delete static_cast<Export*>(self->manager_ctx); }
void DeleteVersioned(DLManagedTensorVersioned* self) {
  delete static_cast<Export*>(self->manager_ctx);
}

// A capsule's destructor: frees the tensor unless a consumer took it (renamed it).
template <typename M>
void CapsuleDestructor(PyObject* capsule, const char* name, const char* used) {
  if (PyCapsule_IsValid(capsule, used)) return;
  // A destructor may run while an exception is being raised: keep it.
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* pending = PyErr_GetRaisedException();
#else
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
#endif
  auto* m = static_cast<M*>(PyCapsule_GetPointer(capsule, name));
  if (m == nullptr) {
    PyErr_WriteUnraisable(capsule);
  } else if (m->deleter != nullptr) {
    m->deleter(m);
  }
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException(pending);
#else
  PyErr_Restore(type, value, traceback);
#endif
}
void LegacyCapsuleDestructor(PyObject* c) {
  CapsuleDestructor<DLManagedTensor>(c, kLegacyName, kUsedLegacyName);
}
void VersionedCapsuleDestructor(PyObject* c) {
  CapsuleDestructor<DLManagedTensorVersioned>(c, kVersionedName, kUsedVersionedName);
}

// The consumer's stream argument for memory on `dev`: the stream handle to wait on, or
// nullopt for no synchronisation.
std::optional<int64_t> ConsumerStream(std::optional<int64_t> stream, DLDevice dev) {
  if (dev.device_type == kDLCPU) {
    if (stream)
      throw py::value_error(Msg("__dlpack__: stream=", *stream, " for host memory; on the CPU "
                                "only stream=None is accepted (the DLPack standard)"));
    return std::nullopt;
  }
  if (!stream) return 1;  // None: the legacy default stream
  if (*stream == -1) return std::nullopt;  // the consumer asks for no synchronisation
  if (*stream == 0 || *stream < -1)
    throw py::value_error(Msg("__dlpack__: stream=", *stream, " is not a CUDA stream: pass 1 "
                              "(the legacy default stream), 2 (the per-thread default "
                              "stream), a cudaStream_t as an int, -1 (no synchronisation) "
                              "or None (the legacy default stream); 0 is ambiguous"));
  return stream;
}

py::capsule ToDLPack(const Tensor& t, std::optional<int64_t> stream,
                    std::optional<std::tuple<int64_t, int64_t>> max_version,
                    std::optional<std::tuple<int64_t, int64_t>> dl_device,
                    std::optional<bool> copy) {
  const char* fn = "__dlpack__";
  // Where the consumer wants the memory: the tensor's own device, or the host (a copy).
  bool to_host = false;
  DLDevice target{};
  if (dl_device) {
    target = {static_cast<int32_t>(std::get<0>(*dl_device)), static_cast<int32_t>(std::get<1>(*dl_device))};
    const Device& d = *t.device();
    const bool own = (target.device_type == kDLCUDA && d.lang() == kCuda && target.device_id == d.id()) ||
                     (target.device_type == kDLCPU && d.lang() != kCuda && d.host_memory());
    if (!own) {
      if (target.device_type != kDLCPU)
        throw py::buffer_error(Msg(fn, ": cannot export the tensor on ", d.name(), " to ",
                                   DeviceStr(target.device_type, target.device_id),
                                   "; singa exports a tensor on its own device, or copies it "
                                   "to the host for dl_device=(1, 0)"));
      if (copy && !*copy)
        throw py::buffer_error(Msg(fn, ": the tensor lives on ", d.name(), "; dl_device=(1, 0) "
                                   "needs a copy to the host, and copy=False forbids it"));
      to_host = true;
    }
  } else {
    target = DeviceOf(t, fn);
  }
  const std::optional<int64_t> wait = ConsumerStream(stream, target);

  Tensor src = t;
  bool copied = false;
  if (to_host) {
    src = Tensor(t.shape(), defaultDevice(), t.data_type());
    src.CopyData(t);  // waits for the copy
    copied = true;
  } else if (copy && *copy) {
    src = t.Clone();  // contiguous, on the same device (queued on its stream)
    copied = true;
  }
  void* data = src.raw();  // a channel-blocked (oneDNN) block becomes plain here
  if (src.Size() && data == nullptr)
    throw py::buffer_error(Msg(fn, ": the tensor of shape ", ShapeStr(src.shape()),
                               " holds no memory (an intermediate freed by graph replay)"));

  auto e = std::make_unique<Export>();
  e->tensor = src;
  e->shape.assign(src.shape().begin(), src.shape().end());
  e->strides.assign(src.stride().begin(), src.stride().end());
  DLTensor dl{};
  dl.data = data;
  dl.device = target;
  dl.ndim = static_cast<int32_t>(src.nDim());
  dl.dtype = ToDLDataType(src.data_type());
  dl.shape = e->shape.empty() ? nullptr : e->shape.data();
  dl.strides = e->strides.empty() ? nullptr : e->strides.data();
  dl.byte_offset = 0;

#ifdef USE_CUDA
  if (wait && target.device_type == kDLCUDA)
    cuda::StreamWaitsForDevice(*wait, *src.device(), src.block().get());
#else
  (void)wait;  // only CUDA memory has streams
#endif

  const bool versioned = max_version && std::get<0>(*max_version) >= 1;
  PyObject* capsule = nullptr;
  if (versioned) {
    DLManagedTensorVersioned& m = e->versioned;
    m.version = {kMajor, kMinor};
    m.manager_ctx = e.get();
    m.deleter = DeleteVersioned;
    m.flags = copied ? kFlagIsCopied : 0;
    m.dl_tensor = dl;
    capsule = PyCapsule_New(&m, kVersionedName, VersionedCapsuleDestructor);
  } else {
    DLManagedTensor& m = e->legacy;
    m.dl_tensor = dl;
    m.manager_ctx = e.get();
    m.deleter = DeleteLegacy;
    capsule = PyCapsule_New(&m, kLegacyName, LegacyCapsuleDestructor);
  }
  if (capsule == nullptr) throw py::error_already_set();
  e.release();  // the capsule (then its consumer) owns it
  return py::reinterpret_steal<py::capsule>(capsule);
}

std::tuple<int, int> DLPackDevice(const Tensor& t) {
  const DLDevice d = DeviceOf(t, "__dlpack_device__");
  return {d.device_type, d.device_id};
}

// ---- import ----

// The memory a strided view spans: the Block is [base, base + bytes) and the view starts
// `offset` elements into it (strides may be negative or zero).
struct Span {
  char* base = nullptr;
  size_t bytes = 0;
  int64_t offset = 0;
};

Span SpanOf(char* start, const Shape& shape, const Strides& strides, size_t item, const char* fn) {
  __int128 lo = 0, hi = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    const __int128 reach = static_cast<__int128>(shape[i] - 1) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  const __int128 bytes = (hi - lo + 1) * static_cast<__int128>(item);
  if (lo < INT64_MIN / 16 || bytes > (static_cast<__int128>(1) << 62))
    throw py::buffer_error(Msg(fn, ": the array's strides reach beyond any addressable memory"));
  Span s;
  s.offset = static_cast<int64_t>(-lo);
  s.base = start + static_cast<int64_t>(lo) * static_cast<int64_t>(item);
  s.bytes = static_cast<size_t>(bytes);
  return s;
}

Shape CheckedShape(const int64_t* dims, int32_t ndim, const char* fn) {
  Shape s;
  size_t total = 1;
  if (ndim > 0 && dims == nullptr) throw py::buffer_error(Msg(fn, ": ndim ", ndim, " but no shape"));
  for (int32_t i = 0; i < ndim; ++i) {
    if (dims[i] < 0) throw py::buffer_error(Msg(fn, ": negative dimension ", dims[i]));
    s.push_back(static_cast<size_t>(dims[i]));
  }
  for (size_t d : s)
    if (d && __builtin_mul_overflow(total, d, &total))
      throw py::buffer_error(Msg(fn, ": the shape ", ShapeStr(s), " has 2^64 or more elements"));
  return s;
}

// The device that holds memory DLPack places on `dev`.
std::shared_ptr<Device> DeviceFor(DLDevice dev, const char* fn) {
  if (dev.device_type == kDLCPU || dev.device_type == kDLCUDAHost) return defaultDevice();
  if (dev.device_type == kDLCUDA || dev.device_type == kDLCUDAManaged) {
#ifdef USE_CUDA
    try {
      return Platform::CreateCudaGPU(dev.device_id);
    } catch (const std::exception& e) {
      throw py::buffer_error(Msg(fn, ": the array lives on CUDA device ", dev.device_id,
                                 ", which singa cannot use: ", e.what()));
    }
#else
    throw py::buffer_error(Msg(fn, ": the array lives on CUDA device ", dev.device_id,
                               ", and this singa was built without CUDA (USE_CUDA is False)"));
#endif
  }
  throw py::buffer_error(Msg(fn, ": the array lives on ", DeviceStr(dev.device_type, dev.device_id),
                             "; singa reads host memory (kDLCPU, kDLCUDAHost) and CUDA memory "
                             "(kDLCUDA, kDLCUDAManaged)"));
}

// A view over foreign memory (released by `release` when its last user dies), or a copy
// of it when `need_copy`. Empty arrays give a fresh empty tensor (nothing to share).
Tensor Adopt(char* start, const Shape& shape, const Strides& strides, DataType dt,
             std::shared_ptr<Device> dev, std::function<void()> release, bool need_copy,
             const char* fn) {
  if (Product(shape) == 0) {
    release();
    return Tensor(shape, dev, dt);
  }
  Span span;
  try {
    span = SpanOf(start, shape, strides, SizeOf(dt), fn);
  } catch (...) {
    release();
    throw;
  }
  auto block = dev->BorrowBlock(span.base, span.bytes, std::move(release));
  Tensor view(block, dev, dt, shape, strides, span.offset);
  if (!need_copy) return view;
  Tensor out = view.Clone();
  // The copy is queued on a GPU's stream: the producer may reuse its memory as soon as the
  // view lets go of it, so the copy must have run by then.
  if (!dev->host_memory()) dev->Sync();
  return out;
}

Tensor FromDLPackCapsule(py::capsule capsule, std::optional<bool> copy) {
  const char* fn = "from_dlpack";
  PyObject* c = capsule.ptr();
  DLManagedTensor* legacy = nullptr;
  DLManagedTensorVersioned* versioned = nullptr;
  if (PyCapsule_IsValid(c, kVersionedName)) {
    versioned = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(c, kVersionedName));
  } else if (PyCapsule_IsValid(c, kLegacyName)) {
    legacy = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, kLegacyName));
  } else {
    const char* name = PyCapsule_GetName(c);
    if (name == nullptr) PyErr_Clear();
    const std::string n = name ? name : "";
    if (n == kUsedLegacyName || n == kUsedVersionedName)
      throw py::value_error(Msg(fn, ": this DLPack capsule was consumed already (named '", n,
                                "'); a capsule can be read only once"));
    throw py::type_error(Msg(fn, ": a DLPack capsule is named 'dltensor' or "
                             "'dltensor_versioned', not '", n, "'"));
  }
  if (versioned == nullptr && legacy == nullptr) throw py::error_already_set();
  uint64_t flags = 0;
  const DLTensor* dl = nullptr;
  if (versioned) {
    // A newer major version may have changed the struct: refuse it and leave the capsule
    // to its producer (its destructor frees it).
    if (versioned->version.major > kMajor)
      throw py::buffer_error(Msg(fn, ": the capsule is DLPack ", versioned->version.major, ".",
                                 versioned->version.minor, "; singa reads DLPack ", kMajor,
                                 ".x. Ask the producer for max_version=(1, 0)"));
    flags = versioned->flags;
    dl = &versioned->dl_tensor;
  } else {
    dl = &legacy->dl_tensor;
  }

  // Everything that can be refused is checked before the capsule is taken.
  const DataType dt = FromDLDataType(dl->dtype, fn);
  if (dl->ndim < 0) throw py::buffer_error(Msg(fn, ": negative ndim ", dl->ndim));
  const Shape shape = CheckedShape(dl->shape, dl->ndim, fn);
  if (dl->data == nullptr && Product(shape) != 0)
    throw py::buffer_error(Msg(fn, ": the capsule's data pointer is NULL for a shape of ",
                               ShapeStr(shape)));
  Strides strides;
  if (dl->strides != nullptr && dl->ndim > 0)
    strides.assign(dl->strides, dl->strides + dl->ndim);
  else
    strides = ContiguousStrides(shape);
  const bool read_only = flags & kFlagReadOnly;
  if (read_only && copy && !*copy)
    throw py::buffer_error(Msg(fn, ": the array is read-only and copy=False; a singa tensor is "
                               "always writable, so read-only memory is copied (copy=None)"));
  const bool need_copy = read_only || (copy && *copy && !(flags & kFlagIsCopied));
  std::shared_ptr<Device> dev = DeviceFor(dl->device, fn);
  char* start = static_cast<char*>(dl->data) + dl->byte_offset;

  // Taken: from here on the deleter is ours to call, once.
  if (PyCapsule_SetName(c, versioned ? kUsedVersionedName : kUsedLegacyName) != 0)
    throw py::error_already_set();
  std::function<void()> release;
  if (versioned) {
    release = [versioned] {
      // After the interpreter has gone the producer (NumPy, PyTorch) may not be callable.
      if (Py_IsInitialized() && versioned->deleter) versioned->deleter(versioned);
    };
  } else {
    release = [legacy] {
      if (Py_IsInitialized() && legacy->deleter) legacy->deleter(legacy);
    };
  }
  return Adopt(start, shape, strides, dt, std::move(dev), std::move(release), need_copy, fn);
}

// ---- __cuda_array_interface__ ----

py::dict CudaArrayInterface(const Tensor& t) {
  const Device& d = *t.device();
  if (d.lang() != kCuda)
    throw py::attribute_error(Msg("__cuda_array_interface__: only CUDA tensors have it; this one "
                                  "lives on ", d.name(), " (use __dlpack__ or numpy())"));
  static const char* typestr[] = {"<f4", "<f2", "<i4", "|i1", "<f8", "|u1", nullptr, "<i8", "|b1"};
  const char* ts = typestr[static_cast<int>(t.data_type())];
  if (ts == nullptr)
    throw py::attribute_error("__cuda_array_interface__: bfloat16 has no typestr; exchange "
                              "bfloat16 tensors through __dlpack__ (torch.from_dlpack)");
  void* data = t.raw();
  if (t.Size() && data == nullptr)
    throw py::buffer_error(Msg("__cuda_array_interface__: the tensor of shape ", ShapeStr(t.shape()),
                               " holds no memory (an intermediate freed by graph replay)"));
  py::dict out;
  out["shape"] = py::tuple(py::cast(t.shape()));
  out["typestr"] = ts;
  out["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(t.Size() ? data : nullptr), false);
  out["version"] = 3;
  if (t.IsContiguous()) {
    out["strides"] = py::none();
  } else {
    py::list strides;
    for (int64_t s : t.stride()) strides.append(s * static_cast<int64_t>(SizeOf(t.data_type())));
    out["strides"] = py::tuple(strides);
  }
#ifdef USE_CUDA
  out["stream"] = cuda::StreamHandle(*t.device());
#endif
  return out;
}

Tensor FromCudaArrayInterface(uintptr_t ptr, int dtype, const std::vector<int64_t>& dims,
                              std::optional<std::vector<int64_t>> strides, py::object owner,
                              std::optional<int64_t> stream, bool readonly,
                              std::optional<bool> copy) {
  const char* fn = "from_dlpack";
  const DataType dt = static_cast<DataType>(dtype);
  SizeOf(dt);  // validates the code
  const Shape shape = CheckedShape(dims.data(), static_cast<int32_t>(dims.size()), fn);
  if (strides && strides->size() != shape.size())
    throw py::value_error(Msg(fn, ": ", strides->size(), " strides for a shape of ", shape.size(),
                              " axes"));
  if (stream && (*stream == 0 || *stream < 0))
    throw py::value_error(Msg(fn, ": __cuda_array_interface__ stream ", *stream, " is not a "
                              "stream (0 is disallowed by version 3; None means no "
                              "synchronisation)"));
  if (readonly && copy && !*copy)
    throw py::buffer_error(Msg(fn, ": the array is read-only and copy=False; a singa tensor is "
                               "always writable, so read-only memory is copied (copy=None)"));
#ifdef USE_CUDA
  const bool empty = Product(shape) == 0;
  int ordinal = 0;
  try {
    if (!empty || ptr != 0) ordinal = cuda::PointerDevice(ptr);
  } catch (const std::exception& e) {  // no driver, no GPU, or host memory
    throw py::buffer_error(Msg(fn, ": the __cuda_array_interface__ pointer is on no GPU singa "
                               "can use: ", e.what()));
  }
  std::shared_ptr<Device> dev = DeviceFor({kDLCUDA, ordinal}, fn);
  if (stream && !empty) cuda::DeviceWaitsForStream(*dev, *stream);
  auto* holder = new py::object(std::move(owner));
  std::function<void()> release = [holder] { ReleasePyObject(holder); };
  return Adopt(reinterpret_cast<char*>(ptr), shape, strides ? Strides(*strides) : ContiguousStrides(shape),
               dt, std::move(dev), std::move(release), readonly || (copy && *copy), fn);
#else
  (void)ptr;
  (void)owner;
  throw py::buffer_error(Msg(fn, ": the array has a __cuda_array_interface__ (CUDA memory), and "
                             "this singa was built without CUDA (USE_CUDA is False)"));
#endif
}

int64_t CudaStreamHandle(const std::shared_ptr<Device>& dev) {
  if (dev == nullptr) throw py::type_error("cuda_stream_handle: device must be a Device, not None");
#ifdef USE_CUDA
  if (dev->lang() == kCuda) return cuda::StreamHandle(*dev);
#endif
  throw py::value_error(Msg("cuda_stream_handle: ", dev->name(), " (id ", dev->id(),
                            ") is not a CUDA device and has no stream"));
}

}  // namespace

void BindDLPack(py::module_& m) {
  auto t = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  DefHost(t, "__dlpack__", &ToDLPack, py::arg("stream") = py::none(), py::kw_only(),
          py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
          py::arg("copy") = py::none(),
          "A DLPack capsule of this tensor's memory (the Python array API standard): "
          "'dltensor_versioned' when max_version >= (1, 0), else the legacy 'dltensor'. "
          "stream: the consumer's CUDA stream, made to wait for this device's work (None or 1: "
          "the legacy default stream, 2: the per-thread default stream, -1: no "
          "synchronisation); None for host memory. dl_device=(1, 0) asks for a host copy of a "
          "GPU tensor; copy=True exports a copy, copy=False refuses to copy. BufferError when "
          "the memory cannot be exported.");
  DefHost(t, "__dlpack_device__", &DLPackDevice,
          "(device type, device id) of the memory __dlpack__ exports: (1, 0) for host memory "
          "(kDLCPU), (2, ordinal) on a CUDA GPU (kDLCUDA).");
  t.def_property_readonly("__cuda_array_interface__", &CudaArrayInterface,
                          "Version 3 of Numba's CUDA Array Interface (with singa's stream), on "
                          "CUDA tensors only: AttributeError on the others, so CuPy and Numba "
                          "never take host memory for device memory.");

  DefNotReplayable(m, "from_dlpack_capsule", &FromDLPackCapsule,
                   "creating a tensor from another library's memory inside the step",
                   py::arg("capsule"), py::arg("copy") = py::none(),
                   "A tensor over the memory of a DLPack capsule, which it consumes (renames "
                   "'used_...'); a copy when copy=True or the memory is read-only. "
                   "singa.tensor.from_dlpack does the stream handshake around it.");
  DefNotReplayable(m, "from_cuda_array_interface", &FromCudaArrayInterface,
                   "creating a tensor from another library's memory inside the step",
                   py::arg("ptr"), py::arg("dtype"), py::arg("shape"), py::arg("strides"),
                   py::arg("owner"), py::arg("stream"), py::arg("readonly"),
                   py::arg("copy") = py::none(),
                   "A tensor over CUDA memory described by a __cuda_array_interface__ "
                   "(strides in elements, or None when C-contiguous); `owner` is kept alive "
                   "while the memory is used, and singa's stream waits for `stream` first.");
  DefHost(m, "cuda_stream_handle", &CudaStreamHandle, py::arg("device"),
          "The stream every kernel of a CUDA device runs on, as the integer DLPack and the "
          "CUDA Array Interface pass (1: the legacy default stream); ValueError off CUDA.");
}

}  // namespace singa
