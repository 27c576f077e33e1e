// The CUDA reduce and index kernels (src/cuda/reduce.cu, shape.cu, compiled by a host
// compiler with cuda_emu.h force-included) behind a C interface for ctypes
// (tests/gpu/test_cuda_emulated.py), on an emulated CudaGPU whose memory is host memory.
// Defines what those files need of the core, the CUDA device and the CUDA runtime, in
// the simplest form: memory is malloc, copies are memcpy, streams and events are no-ops.
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>

#include "core/common.h"
#include "core/device.h"
#include "core/tensor.h"
#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"

// ---- the CUDA runtime calls of reduce.cu / shape.cu ----
extern "C" {
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind,
                            cudaStream_t) {
  std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamIsCapturing(cudaStream_t, enum cudaStreamCaptureStatus* status) {
  *status = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int) {
  *p = std::malloc(size);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
static int g_events = 0;  // live events: every one created is destroyed
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  *e = reinterpret_cast<cudaEvent_t>(new int(0));
  ++g_events;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventQuery(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete reinterpret_cast<int*>(e);
  --g_events;
  return cudaSuccess;
}
const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
}

namespace singa {

// ---- the core, as little of it as the kernels touch ----
size_t SizeOf(DataType dt) {
  switch (dt) {
    case kFloat32: case kInt: return 4;
    case kFloat16: case kBFloat16: return 2;
    case kChar: case kUChar: case kBool: return 1;
    case kDouble: case kInt64: return 8;
  }
  return 0;
}
const char* DataTypeName(DataType dt) {
  static const char* names[] = {"float32", "float16", "int32", "int8", "float64",
                                "uint8", "bfloat16", "int64", "bool"};
  return names[dt];
}
std::string ShapeStr(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
  return os.str();
}
size_t Product(const Shape& s, size_t begin, size_t end) {
  size_t p = 1;
  for (size_t i = begin; i < s.size() && i < end; ++i) p *= s[i];
  return p;
}
Strides ContiguousStrides(const Shape& shape) {
  Strides st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= static_cast<int64_t>(shape[i]);
  }
  return st;
}

Block::Block(void* ptr, size_t size, std::shared_ptr<Device> owner, std::function<void()> release)
    : ptr_(ptr), size_(size), owner_(std::move(owner)), release_(std::move(release)) {}
Block::~Block() {
  if (release_) release_();
  else if (ptr_) owner_->Free(ptr_, size_);
}
std::shared_ptr<Block> Device::NewBlock(size_t size) {
  return std::make_shared<Block>(Malloc(size), size, shared_from_this());
}
void Device::CopyToHost(void* dst, const void* src, size_t bytes) const { std::memcpy(dst, src, bytes); }
void Device::CopyFromHost(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

Tensor::Tensor(std::shared_ptr<Block> block, std::shared_ptr<Device> dev, DataType dtype,
               const Shape& shape, const Strides& strides, int64_t offset)
    : block_(std::move(block)), device_(std::move(dev)), dtype_(dtype), shape_(shape),
      strides_(strides), offset_(offset) {}
size_t Tensor::shape(size_t i) const { return shape_.at(i); }
void* Tensor::raw() const {
  return static_cast<char*>(block_->data()) + offset_ * static_cast<int64_t>(SizeOf(dtype_));
}

namespace gpu {
CachingAllocator::~CachingAllocator() {}  // never made here
}

// ---- the emulated GPU: host memory, counted ----
static long g_live_blocks = 0;
CudaGPU::CudaGPU(int ordinal) : Device(ordinal, kCuda) {}
CudaGPU::~CudaGPU() {}
const KernelTable& CudaGPU::kernels() const { throw DeviceError("emulated GPU: no kernel table"); }
void CudaGPU::CopyToHost(void* dst, const void* src, size_t bytes) const { std::memcpy(dst, src, bytes); }
void CudaGPU::CopyFromHost(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CudaGPU::Sync() {}
size_t CudaGPU::cached_bytes() const { return 0; }
void CudaGPU::EmptyCache() {}
void CudaGPU::SetCacheLimit(size_t) {}
size_t CudaGPU::reserved_bytes() const { return bytes_in_use(); }
void CudaGPU::Activate() const {}
void* CudaGPU::Malloc(size_t size) {
  ++g_live_blocks;
  // NaN-filled, so a kernel reading scratch it never wrote gives a visible wrong result
  void* p = std::malloc(size + 64);
  std::memset(p, 0xff, size + 64);
  return p;
}
void CudaGPU::Free(void* ptr, size_t) {
  --g_live_blocks;
  std::free(ptr);
}

namespace cuda {
void ThrowCudaError(cudaError_t err, const char* call, int ordinal) {
  throw DeviceError(Msg(call, " failed on cuda:", ordinal, ": error ", static_cast<int>(err)));
}
CudaGPU& GpuOf(const Tensor& t, const char*) { return static_cast<CudaGPU&>(*t.device()); }
cudaStream_t StreamOf(const Tensor&, const char*) { return nullptr; }
void CheckLaunch(const char*, const Tensor&) {}
}  // namespace cuda

}  // namespace singa

// ---- the C interface ----
namespace {

using namespace singa;

std::string g_error;

std::shared_ptr<CudaGPU> Gpu() {
  static std::shared_ptr<CudaGPU> gpu = std::make_shared<CudaGPU>(0);
  return gpu;
}
const ReduceKernels& RK() {
  static ReduceKernels k = [] {
    ReduceKernels r;
    cuda::FillReduce(r);
    return r;
  }();
  return k;
}
const ShapeKernels& SK() {
  static ShapeKernels k = [] {
    ShapeKernels r;
    cuda::FillShape(r);
    return r;
  }();
  return k;
}

Shape ToShape(int nd, const int64_t* s) {
  Shape r;
  for (int i = 0; i < nd; ++i) r.push_back(static_cast<size_t>(s[i]));
  return r;
}
// A tensor over the caller's memory (contiguous unless strides are given).
Tensor Wrap(void* p, int dtype, const Shape& shape, const int64_t* strides = nullptr) {
  auto block = std::make_shared<Block>(p, 0, Gpu(), [] {});
  Strides st = strides ? Strides(strides, strides + shape.size()) : ContiguousStrides(shape);
  return Tensor(block, Gpu(), static_cast<DataType>(dtype), shape, st, 0);
}

template <typename F>
int Guard(F f) {
  try {
    f();
    g_error.clear();
    return 0;
  } catch (const std::exception& e) {
    g_error = e.what();
    return 1;
  }
}

}  // namespace

extern "C" {

const char* emu_error() { return g_error.c_str(); }
long emu_live_blocks() { return singa::g_live_blocks; }
int emu_live_events() { return g_events; }

int emu_reduce(int kind, int dtype, int nd, const int64_t* shape, const int8_t* red, void* x,
               int ond, const int64_t* oshape, void* out) {
  return Guard([&] {
    std::vector<bool> r(red, red + nd);
    RK().reduce(static_cast<ReduceKind>(kind), Wrap(x, dtype, ToShape(nd, shape)), r,
                Wrap(out, dtype, ToShape(ond, oshape)));
  });
}

int emu_argext(int kmin, int dtype, int nd, const int64_t* shape, int axis, void* x, int ond,
               const int64_t* oshape, void* out) {
  return Guard([&] {
    Tensor xt = Wrap(x, dtype, ToShape(nd, shape)), ot = Wrap(out, kInt, ToShape(ond, oshape));
    if (kmin) RK().argmin(xt, static_cast<size_t>(axis), ot);
    else RK().argmax(xt, static_cast<size_t>(axis), ot);
  });
}

int emu_cumsum(int dtype, int nd, const int64_t* shape, int axis, int exclusive, int reverse,
               void* x, void* out) {
  return Guard([&] {
    Shape s = ToShape(nd, shape);
    RK().cumsum(Wrap(x, dtype, s), static_cast<size_t>(axis), exclusive != 0, reverse != 0,
                Wrap(out, dtype, s));
  });
}

int emu_softmax(int dtype, int nd, const int64_t* shape, int axis, int log, void* x, void* y) {
  return Guard([&] {
    Shape s = ToShape(nd, shape);
    RK().softmax(Wrap(x, dtype, s), static_cast<size_t>(axis), log != 0, Wrap(y, dtype, s));
  });
}

int emu_cross_entropy(int dtype, int64_t n, int64_t c, int index_labels, void* p, void* t,
                      void* loss) {
  return Guard([&] {
    Shape ps{static_cast<size_t>(n), static_cast<size_t>(c)};
    Tensor tt = index_labels ? Wrap(t, kInt, Shape{static_cast<size_t>(n)}) : Wrap(t, dtype, ps);
    RK().cross_entropy(Wrap(p, dtype, ps), tt, index_labels != 0,
                       Wrap(loss, dtype, Shape{static_cast<size_t>(n)}));
  });
}

int emu_subtract_at_labels(int dtype, int64_t n, int64_t c, void* g, void* labels) {
  return Guard([&] {
    RK().subtract_at_labels(Wrap(g, dtype, Shape{static_cast<size_t>(n), static_cast<size_t>(c)}),
                            Wrap(labels, kInt, Shape{static_cast<size_t>(n)}));
  });
}

int emu_power_sum(int dtype, int nd, const int64_t* shape, const int64_t* strides, void* base,
                  int power, double* result) {
  return Guard([&] { *result = RK().power_sum(Wrap(base, dtype, ToShape(nd, shape), strides), power); });
}

int emu_take(int dtype, int nd, const int64_t* shape, int axis, const int64_t* idx, int64_t k,
             void* src, int ond, const int64_t* oshape, void* out) {
  return Guard([&] {
    std::vector<int64_t> ix(idx, idx + k);
    SK().take(Wrap(src, dtype, ToShape(nd, shape)), ix, static_cast<size_t>(axis),
              Wrap(out, dtype, ToShape(ond, oshape)));
  });
}

int emu_gather(int dtype, int nd, const int64_t* shape, const int64_t* ishape, const int64_t* idx,
               int axis, void* src, void* out) {
  return Guard([&] {
    Shape is = ToShape(nd, ishape);
    std::vector<int64_t> ix(idx, idx + Product(is));
    SK().gather_elements(Wrap(src, dtype, ToShape(nd, shape)), is, ix, static_cast<size_t>(axis),
                         Wrap(out, dtype, is));
  });
}

int emu_scatter(int dtype, int nd, const int64_t* shape, const int64_t* ishape, const int64_t* idx,
                int axis, int add, void* out, void* upd) {
  return Guard([&] {
    Shape is = ToShape(nd, ishape);
    std::vector<int64_t> ix(idx, idx + Product(is));
    SK().scatter_elements(Wrap(out, dtype, ToShape(nd, shape)), is, ix, Wrap(upd, dtype, is),
                          static_cast<size_t>(axis), add != 0);
  });
}

}  // extern "C"
