// CUDA index kernels (math/kernels.h, SINGA_SHAPE_KERNELS): take, gather_elements and
// scatter_elements, with the CPU's semantics (cpu/shape.cc).
//
// The indices arrive as a host std::vector<int64_t> (checked and made non-negative by the
// entry point). Up to kInline of them travel by value in the kernel's arguments; longer
// lists are written into pinned host memory and copied on the tensor's stream into a
// device buffer. A pinned buffer goes back to a small pool with an event recorded after
// its copy and is reused only once that event has completed, so the entry never waits.
//
// scatter_elements without add and with repeated destinations: the CPU writes the updates
// in flat order, so the last one wins. Here every update but the last one of each
// destination is dropped on the host (its index is sent as -1) before the copy, so the
// same update wins, whatever the order the threads run in. With add, duplicates are
// summed with atomics (float32, float64, int32; int64 through unsigned long long, which
// wraps around as the CPU's WrapAdd does); float sums of repeated destinations are added
// in an order that may change from run to run, within rounding.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cuda/cuda_kernels.h"
#include "cuda/reduce_util.cuh"

namespace singa {
namespace cuda {
namespace {

using red::kMaxDims;

constexpr int64_t kInline = 256;  // indices passed by value (2 KiB of kernel arguments)

struct InlineIdx {
  int64_t v[kInline];
  __device__ __forceinline__ int64_t operator[](int64_t i) const { return v[i]; }
};
struct PtrIdx {
  const int64_t* p;
  __device__ __forceinline__ int64_t operator[](int64_t i) const { return p[i]; }
};

// ---- pinned staging of index lists ----

struct Pinned {
  void* host = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;  // recorded after the copy that reads the buffer; null: idle
};

class PinnedPool {
 public:
  // A pinned buffer of at least `bytes` that no queued copy reads.
  Pinned Acquire(size_t bytes, int ordinal) {
    std::lock_guard<std::mutex> lock(mu_);
    Reclaim(ordinal);
    size_t best = bufs_.size();
    for (size_t i = 0; i < bufs_.size(); ++i)
      if (!bufs_[i].done && bufs_[i].bytes >= bytes &&
          (best == bufs_.size() || bufs_[i].bytes < bufs_[best].bytes))
        best = i;
    if (best < bufs_.size()) {
      Pinned p = bufs_[best];
      bufs_.erase(bufs_.begin() + static_cast<int64_t>(best));
      return p;
    }
    Pinned p;
    p.bytes = std::max<size_t>(size_t{64} << 10, bytes);
    SINGA_CUDA_CHECK(cudaHostAlloc(&p.host, p.bytes, cudaHostAllocPortable), ordinal);
    return p;
  }
  // Back to the pool once the work queued so far on `stream` (the copy) has run.
  // The calling thread's current device must be the stream's.
  void Release(Pinned p, cudaStream_t stream, int ordinal) {
    SINGA_CUDA_CHECK(cudaEventCreateWithFlags(&p.done, cudaEventDisableTiming), ordinal);
    const cudaError_t err = cudaEventRecord(p.done, stream);
    if (err != cudaSuccess) {
      // The copy may still be queued: the buffer is never reused (it is leaked).
      cudaEventDestroy(p.done);
      ThrowCudaError(err, "cudaEventRecord(p.done, stream)", ordinal);
    }
    std::lock_guard<std::mutex> lock(mu_);
    bufs_.push_back(p);
  }
  // An unused buffer (its copy was never queued) goes straight back.
  void Return(Pinned p) {
    std::lock_guard<std::mutex> lock(mu_);
    bufs_.push_back(p);
  }

 private:
  static constexpr size_t kKeepIdle = 8;

  // Marks buffers whose copy has run idle; frees the smallest idle ones past kKeepIdle.
  void Reclaim(int ordinal) {
    size_t idle = 0;
    for (Pinned& b : bufs_) {
      if (b.done) {
        const cudaError_t st = cudaEventQuery(b.done);
        if (st == cudaErrorNotReady) continue;
        if (st != cudaSuccess) ThrowCudaError(st, "cudaEventQuery(staged index copy)", ordinal);
        SINGA_CUDA_CHECK(cudaEventDestroy(b.done), ordinal);
        b.done = nullptr;
      }
      ++idle;
    }
    while (idle > kKeepIdle) {
      size_t smallest = bufs_.size();
      for (size_t i = 0; i < bufs_.size(); ++i)
        if (!bufs_[i].done && (smallest == bufs_.size() || bufs_[i].bytes < bufs_[smallest].bytes))
          smallest = i;
      SINGA_CUDA_CHECK(cudaFreeHost(bufs_[smallest].host), ordinal);
      bufs_.erase(bufs_.begin() + static_cast<int64_t>(smallest));
      --idle;
    }
  }

  std::mutex mu_;
  std::vector<Pinned> bufs_;
};

PinnedPool& Pool() {
  static PinnedPool* pool = new PinnedPool();  // never destroyed: no CUDA calls at exit
  return *pool;
}

// The indices of one call on the device: inline when there are at most kInline of them,
// else in a device buffer filled from pinned memory on the stream. `mark`, when set, is
// called on the host copy (n entries) before it is sent, e.g. to drop duplicates.
class DeviceIndices {
 public:
  template <typename Mark>
  DeviceIndices(const Tensor& t, const std::vector<int64_t>& idx, cudaStream_t stream,
                const char* fn, Mark mark)
      : n_(static_cast<int64_t>(idx.size())) {
    const int ordinal = GpuOf(t, fn).ordinal();
    if (n_ <= kInline) {
      std::copy(idx.begin(), idx.end(), inline_.v);
      mark(inline_.v);
      return;
    }
    // Graph mode runs this node outside its CUDA graphs (core/capture.h).
    NoteCaptureHazard("uploads a list of indices from the host");
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    SINGA_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture), ordinal);
    if (capture != cudaStreamCaptureStatusNone)
      throw DeviceError(Msg(fn, ": a list of ", n_, " indices from the host cannot be captured "
                            "into a CUDA graph on ", GpuOf(t, fn).name(), " (at most ", kInline,
                            ")"));
    const size_t bytes = idx.size() * sizeof(int64_t);
    Pinned p = Pool().Acquire(bytes, ordinal);
    int64_t* host = static_cast<int64_t*>(p.host);
    std::memcpy(host, idx.data(), bytes);
    try {
      mark(host);
      buffer_ = red::Scratch<int64_t>(t, idx.size(), fn);
    } catch (...) {
      Pool().Return(p);
      throw;
    }
    const cudaError_t err =
        cudaMemcpyAsync(buffer_.ptr, host, bytes, cudaMemcpyHostToDevice, stream);
    if (err != cudaSuccess) {
      Pool().Return(p);  // nothing was queued
      ThrowCudaError(err, "cudaMemcpyAsync(indices to the device)", ordinal);
    }
    Pool().Release(p, stream, ordinal);
  }
  bool inline_list() const { return n_ <= kInline; }
  const InlineIdx& inline_idx() const { return inline_; }
  PtrIdx ptr_idx() const { return PtrIdx{buffer_.ptr}; }

 private:
  int64_t n_;
  InlineIdx inline_;
  red::Scratch<int64_t> buffer_;
};

// Calls f(accessor) with the index accessor of `d` (a by-value list or a device pointer).
template <typename F>
void WithIdx(const DeviceIndices& d, F f) {
  if (d.inline_list()) f(d.inline_idx());
  else f(d.ptr_idx());
}

unsigned Grid(int64_t n) { return BlocksFor(n); }

// ---- take ----

// out (outer, k, inner) = src (outer, n, inner) at the indexed rows of its middle axis;
// inner counted in words W of the copy.
template <typename W, typename Idx>
__global__ void TakeKernel(const W* src, W* out, Idx idx, int64_t outer, int64_t k, int64_t n,
                           int64_t inner) {
  const int64_t total = outer * k * inner;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t in = e % inner, t = e / inner;
    const int64_t j = t % k, o = t / k;
    out[e] = src[(o * n + idx[j]) * inner + in];
  }
}

template <typename W>
void LaunchTake(const Tensor& src, const DeviceIndices& d, const Tensor& out, int64_t outer,
                int64_t k, int64_t n, int64_t inner_bytes, cudaStream_t stream) {
  const int64_t inner = inner_bytes / static_cast<int64_t>(sizeof(W));
  const W* sp = static_cast<const W*>(src.raw());
  W* op = static_cast<W*>(out.raw());
  WithIdx(d, [&](const auto& idx) {
    SINGA_RED_LAUNCH(Grid(outer * k * inner), kThreads, stream, TakeKernel)(sp, op, idx, outer, k,
                                                                            n, inner);
  });
  CheckLaunch("Gather (take)", src);
}

void Take(const Tensor& src, const std::vector<int64_t>& idx, size_t ax, const Tensor& out) {
  const char* fn = "Gather";
  cudaStream_t stream = red::Begin(src, fn);
  const Shape& s = src.shape();
  const int64_t outer = static_cast<int64_t>(Product(s, 0, ax));
  const int64_t inner = static_cast<int64_t>(Product(s, ax + 1));
  const int64_t n = static_cast<int64_t>(s[ax]), k = static_cast<int64_t>(idx.size());
  if (outer * inner * k == 0) return;
  DeviceIndices d(src, idx, stream, fn, [](int64_t*) {});
  // The widest word that divides a row (inner elements) and both addresses.
  const int64_t bytes = inner * static_cast<int64_t>(SizeOf(src.data_type()));
  const uintptr_t addr =
      reinterpret_cast<uintptr_t>(src.raw()) | reinterpret_cast<uintptr_t>(out.raw());
  auto fits = [&](int64_t w) { return bytes % w == 0 && addr % static_cast<uintptr_t>(w) == 0; };
  if (fits(16)) LaunchTake<uint4>(src, d, out, outer, k, n, bytes, stream);
  else if (fits(8)) LaunchTake<uint64_t>(src, d, out, outer, k, n, bytes, stream);
  else if (fits(4)) LaunchTake<uint32_t>(src, d, out, outer, k, n, bytes, stream);
  else if (fits(2)) LaunchTake<uint16_t>(src, d, out, outer, k, n, bytes, stream);
  else LaunchTake<uint8_t>(src, d, out, outer, k, n, bytes, stream);
}

// ---- gather / scatter elements ----

// Where index position f (flat, row-major in the index shape) lands in the contiguous
// data: its own coordinates, the one on `ax` replaced by the index. The axes are the
// index shape's with size-1 axes (other than ax) dropped and neighbours merged where the
// data's strides allow.
struct ElemGeom {
  int nd = 0;
  int ax = -1;                 // position of the indexed axis among the nd
  int64_t size[kMaxDims];      // index shape
  int64_t stride[kMaxDims];    // data strides (elements)
  __device__ __forceinline__ int64_t Offset(int64_t f, int64_t index) const {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t n = size[d];
      off += (d == ax ? index : f % n) * stride[d];
      f /= n;
    }
    return off;
  }
};

ElemGeom MakeGeom(const Shape& data, const Shape& index, size_t ax, const char* fn) {
  const Strides ts = ContiguousStrides(data);
  std::vector<int64_t> sz, st;
  int pos = -1;
  for (size_t d = 0; d < index.size(); ++d) {
    const int64_t n = static_cast<int64_t>(index[d]), s = ts[d];
    if (d == ax) {
      pos = static_cast<int>(sz.size());
      sz.push_back(n);
      st.push_back(s);
      continue;
    }
    if (n == 1) continue;  // coordinate 0: adds nothing
    const bool prev_plain = !sz.empty() && pos != static_cast<int>(sz.size()) - 1;
    if (prev_plain && st.back() == n * s) {
      sz.back() *= n;
      st.back() = s;
    } else {
      sz.push_back(n);
      st.push_back(s);
    }
  }
  if (sz.size() > static_cast<size_t>(kMaxDims))
    throw ValueError(Msg(fn, ": indices of shape ", ShapeStr(index), " have ", sz.size(),
                         " axes after merging, more than the ", kMaxDims,
                         " the CUDA kernel takes"));
  ElemGeom g;
  g.nd = static_cast<int>(sz.size());
  g.ax = pos;
  for (int i = 0; i < g.nd; ++i) {
    g.size[i] = sz[static_cast<size_t>(i)];
    g.stride[i] = st[static_cast<size_t>(i)];
  }
  return g;
}

template <typename U, typename Idx>
__global__ void GatherElementsKernel(const U* src, U* out, Idx idx, ElemGeom g, int64_t n) {
  for (int64_t f = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; f < n;
       f += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[f] = src[g.Offset(f, idx[f])];
}

// Plain scatter: an index of -1 marks an update that a later one overwrites (dropped).
template <typename U, typename Idx>
__global__ void ScatterElementsKernel(U* out, const U* upd, Idx idx, ElemGeom g, int64_t n) {
  for (int64_t f = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; f < n;
       f += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = idx[f];
    if (i >= 0) out[g.Offset(f, i)] = upd[f];
  }
}

__device__ __forceinline__ void AtomicAddTo(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void AtomicAddTo(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void AtomicAddTo(int32_t* p, int32_t v) { atomicAdd(p, v); }
__device__ __forceinline__ void AtomicAddTo(int64_t* p, int64_t v) {
  static_assert(sizeof(unsigned long long) == sizeof(int64_t), "64-bit atomics");
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

template <typename T, typename Idx>
__global__ void ScatterAddKernel(T* out, const T* upd, Idx idx, ElemGeom g, int64_t n) {
  for (int64_t f = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; f < n;
       f += static_cast<int64_t>(gridDim.x) * blockDim.x)
    AtomicAddTo(out + g.Offset(f, idx[f]), upd[f]);
}

// Calls f(U{}) with the unsigned type of an element of `dt`'s size.
template <typename F>
void BySize(DataType dt, F f) {
  switch (SizeOf(dt)) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    case 8: f(uint64_t{}); break;
    default: throw TypeError(Msg("index kernels: unsupported dtype ", DataTypeName(dt)));
  }
}

void GatherElements(const Tensor& src, const Shape& index_shape, const std::vector<int64_t>& idx,
                    size_t ax, const Tensor& out) {
  const char* fn = "GatherElements";
  cudaStream_t stream = red::Begin(src, fn);
  const int64_t n = static_cast<int64_t>(idx.size());
  if (n == 0) return;
  const ElemGeom g = MakeGeom(src.shape(), index_shape, ax, fn);
  DeviceIndices d(src, idx, stream, fn, [](int64_t*) {});
  BySize(src.data_type(), [&](auto u) {
    using U = decltype(u);
    const U* sp = static_cast<const U*>(src.raw());
    U* op = static_cast<U*>(out.raw());
    WithIdx(d, [&](const auto& ix) {
      SINGA_RED_LAUNCH(Grid(n), kThreads, stream, GatherElementsKernel)(sp, op, ix, g, n);
    });
  });
  CheckLaunch(fn, src);
}

// Marks with -1 every update a later one (in flat order) overwrites. Positions that share
// a destination lie in one lane (every coordinate but the one on `ax`) and carry the same
// index, so each lane is walked backwards along ax, remembering per index value the last
// lane that wrote it: in a table of the axis's length, or a hash map when that axis is
// much longer than the list.
template <typename Stamp>
void MarkOverwrittenWith(int64_t* idx, const Shape& index_shape, size_t ax, Stamp& stamp) {
  const int64_t K = static_cast<int64_t>(index_shape[ax]);
  const int64_t outer = static_cast<int64_t>(Product(index_shape, 0, ax));
  const int64_t inner = static_cast<int64_t>(Product(index_shape, ax + 1));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      const int64_t lane = o * inner + in;
      for (int64_t k = K - 1; k >= 0; --k) {
        int64_t& v = idx[(o * K + k) * inner + in];
        auto it = stamp.find(v);
        if (it.first && *it.second == lane) v = -1;
        else stamp.set(v, lane);
      }
    }
}

struct TableStamp {
  std::vector<int64_t> last;
  std::pair<bool, int64_t*> find(int64_t v) { return {true, &last[static_cast<size_t>(v)]}; }
  void set(int64_t v, int64_t lane) { last[static_cast<size_t>(v)] = lane; }
};
struct MapStamp {
  std::unordered_map<int64_t, int64_t> last;
  std::pair<bool, int64_t*> find(int64_t v) {
    auto it = last.find(v);
    return {it != last.end(), it != last.end() ? &it->second : nullptr};
  }
  void set(int64_t v, int64_t lane) { last[v] = lane; }
};

void MarkOverwritten(int64_t* idx, size_t n, const Shape& index_shape, size_t ax, size_t axis_len) {
  if (index_shape[ax] <= 1) return;  // one update per destination
  if (axis_len <= std::max<size_t>(size_t{1} << 16, 4 * n)) {
    TableStamp stamp{std::vector<int64_t>(axis_len, -1)};
    MarkOverwrittenWith(idx, index_shape, ax, stamp);
  } else {
    MapStamp stamp;
    stamp.last.reserve(std::min(n, axis_len));
    MarkOverwrittenWith(idx, index_shape, ax, stamp);
  }
}

void ScatterElements(const Tensor& out, const Shape& index_shape, const std::vector<int64_t>& idx,
                     const Tensor& updates, size_t ax, bool add) {
  const char* fn = "ScatterElements";
  cudaStream_t stream = red::Begin(out, fn);
  const int64_t n = static_cast<int64_t>(idx.size());
  if (n == 0) return;
  const ElemGeom g = MakeGeom(out.shape(), index_shape, ax, fn);
  if (!add) {
    const size_t axis_len = out.shape(ax);
    DeviceIndices d(out, idx, stream, fn, [&](int64_t* host) {
      MarkOverwritten(host, idx.size(), index_shape, ax, axis_len);
    });
    BySize(out.data_type(), [&](auto u) {
      using U = decltype(u);
      U* op = static_cast<U*>(out.raw());
      const U* up = static_cast<const U*>(updates.raw());
      WithIdx(d, [&](const auto& ix) {
        SINGA_RED_LAUNCH(Grid(n), kThreads, stream, ScatterElementsKernel)(op, up, ix, g, n);
      });
    });
    CheckLaunch(fn, out);
    return;
  }
  DeviceIndices d(out, idx, stream, fn, [](int64_t*) {});
  SINGA_RED_DISPATCH_ARITH(out.data_type(), fn, {
    T* op = out.data<T>();
    const T* up = updates.data<T>();
    WithIdx(d, [&](const auto& ix) {
      SINGA_RED_LAUNCH(Grid(n), kThreads, stream, ScatterAddKernel)(op, up, ix, g, n);
    });
  });
  CheckLaunch(fn, out);
}

}  // namespace

void FillShape(ShapeKernels& k) {
  k.take = Take;
  k.gather_elements = GatherElements;
  k.scatter_elements = ScatterElements;
}

}  // namespace cuda
}  // namespace singa
