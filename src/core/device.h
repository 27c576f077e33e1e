// Devices own memory, random state and the kernels that run on their memory. The CPU
// device is a process-wide singleton (id -1) handed out by Platform; other devices (the
// test device, CUDA) plug in behind the same interface: memory, copies to and from the
// host, and a kernel table (math/kernels.h) that the entry points in src/math call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/capture.h"
#include "core/common.h"

namespace singa {

enum LangType { kCpp = 0, kCuda = 1 };

class Device;
class Graph;
struct KernelTable;

// How a block's bytes are arranged. Plain is row-major in the tensor's own strides. A
// channel-blocked block holds a 4-D (N, C, H, W) tensor as oneDNN's nChw8c / nChw16c:
// channels in groups of `channel_block`, the last group zero-padded, so it may be larger
// than N*C*H*W elements. Only oneDNN kernels produce and read such blocks; everything else
// reaches memory through Tensor::raw(), which converts the block back to plain first.
struct MemLayout {
  int channel_block = 0;  // 0: plain
  int64_t n = 0, c = 0, h = 0, w = 0;
  DataType dtype = kFloat32;
  // Writes the plain NCHW copy of `src` (this layout) to `dst`; set by the producer, so
  // the core needs no oneDNN.
  void (*to_plain)(const MemLayout&, const void* src, void* dst) = nullptr;

  bool plain() const { return channel_block == 0; }
  bool operator==(const MemLayout& o) const {
    return channel_block == o.channel_block && n == o.n && c == o.c && h == o.h && w == o.w &&
           dtype == o.dtype;
  }
  size_t plain_bytes() const {
    return static_cast<size_t>(n * c * h * w) * SizeOf(dtype);
  }
};

// A reference-counted span of device memory. Either allocated by a Device (and counted
// in its memory statistics) or borrowed from outside (a NumPy array) with a release hook.
// A block keeps its device alive: the last reference to a device may be a tensor whose
// block still has to be given back to it.
class Block {
 public:
  Block(void* ptr, size_t size, std::shared_ptr<Device> owner,
        std::function<void()> release = nullptr);
  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  void* data() const { return ptr_; }
  size_t size() const { return size_; }
  bool borrowed() const { return static_cast<bool>(release_); }
  const std::shared_ptr<Device>& owner() const { return owner_; }
  // Exchanges the memory (and ownership and layout) of two blocks: graph replay moves a
  // freshly computed result into the block every recorded consumer refers to.
  void SwapData(Block& other) {
    std::swap(ptr_, other.ptr_);
    std::swap(size_, other.size_);
    std::swap(owner_, other.owner_);
    std::swap(release_, other.release_);
    std::swap(layout_, other.layout_);
    const bool mine = blocked_.load(std::memory_order_acquire);
    blocked_.store(other.blocked_.load(std::memory_order_acquire), std::memory_order_release);
    other.blocked_.store(mine, std::memory_order_release);
  }

  // ---- physical layout (see MemLayout) ----
  // Cheap and safe from any thread: raw() asks it on every call.
  bool blocked() const { return blocked_.load(std::memory_order_acquire); }
  // The layout; read it only on the thread that uses the blocked memory.
  const MemLayout& layout() const { return layout_; }
  // Replaces the memory by `bytes` fresh bytes of the owner device holding `layout`
  // (the old memory is freed); the producer then writes them.
  void* InstallBlocked(size_t bytes, const MemLayout& layout);
  // Declares the bytes just written to this (fresh, unshared) block to be in `layout`,
  // which must fit its size.
  void MarkLayout(const MemLayout& layout);
  // Converts a blocked block to plain in place (a no-op when plain). Serialised across
  // threads: Tensor::raw() is const and several threads may read one tensor.
  void MakePlain();
  // Returns the memory to the device and leaves the block empty: graph replay frees an
  // intermediate after its last reader; SwapData refills it on the next replay.
  void ReleaseData();

 private:
  void* ptr_;
  size_t size_;
  std::shared_ptr<Device> owner_;
  std::function<void()> release_;
  MemLayout layout_;
  std::atomic<bool> blocked_{false};
};

class Device : public std::enable_shared_from_this<Device> {
 public:
  Device(int id, LangType lang) : id_(id), lang_(lang) {}
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  int id() const { return id_; }
  LangType lang() const { return lang_; }
  virtual std::string name() const = 0;

  // The kernels that run on this device's memory, one entry per kernel family.
  virtual const KernelTable& kernels() const = 0;

  // Whether the host may read and write this device's memory directly. When it may not,
  // NumPy interchange and cross-device copies go through CopyToHost/CopyFromHost.
  virtual bool host_memory() const { return true; }
  // Bytes between this device's memory and host memory (a memcpy for host memory).
  virtual void CopyToHost(void* dst, const void* src, size_t bytes) const;
  virtual void CopyFromHost(void* dst, const void* src, size_t bytes);

  // Kernel calls per family, for devices that count them (the test device); empty for
  // the others.
  virtual std::vector<std::pair<std::string, long>> kernel_calls() const { return {}; }
  virtual void ResetKernelCalls() {}

  // Allocates `size` bytes (64-byte aligned, uninitialised).
  std::shared_ptr<Block> NewBlock(size_t size);
  // Wraps memory the device does not own; `release` runs when the last view dies.
  std::shared_ptr<Block> BorrowBlock(void* ptr, size_t size, std::function<void()> release);

  virtual void Sync() {}

  // Freed memory a device keeps for reuse (bytes), dropping it, and capping it.
  virtual size_t cached_bytes() const { return 0; }
  // Bytes the device holds from its system allocator: in use plus cached (PyTorch's
  // memory_reserved).
  virtual size_t reserved_bytes() const { return bytes_in_use() + cached_bytes(); }
  virtual void EmptyCache() {}
  virtual void SetCacheLimit(size_t) {}

  // Memory statistics for tests and benchmarks (bytes).
  size_t bytes_in_use() const { return in_use_.load(); }
  size_t peak_bytes() const { return peak_.load(); }
  void ResetPeak() { peak_.store(in_use_.load()); }

  // ---- allocation trace ----
  // Opt-in record of every block this device allocates and releases, in order (the GPU
  // caching allocator's tests replay it: tests/tools/record_alloc_trace.py). Off, it
  // costs one relaxed load and branch per allocation and release.
  struct AllocEvent {
    char kind;    // 'a': allocation, 'f': release, 's': a mark (MarkAllocTrace)
    uint64_t id;  // 'a'/'f': the allocation's number in the trace; 's': the mark's number
    size_t size;  // bytes ('a' and 'f'); 0 for 's'
  };
  // Clears the trace and starts recording (blocks allocated before are not traced).
  void StartAllocTrace();
  // Appends a mark (a training step's end, say).
  void MarkAllocTrace();
  // Stops recording and returns what was recorded.
  std::vector<AllocEvent> StopAllocTrace();
  bool alloc_tracing() const { return tracing_.load(std::memory_order_relaxed); }

  // Random numbers: a counter-based generator (core/random.h), so a seed fixes every
  // later draw, whatever the thread count.
  void SetRandSeed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  // Reserves `n` consecutive counters and returns the first.
  // The position is host state: a captured kernel would draw the same numbers on
  // every launch (core/capture.h).
  uint64_t TakeCounters(uint64_t n) {
    NoteCaptureHazard("draws from the device's random stream, whose position is host state");
    return counter_.fetch_add(n);
  }

  // ---- capturing queued work (core/capture.h) ----
  virtual bool can_capture() const { return false; }
  // Starts capturing the work queued on this device; memory allocated until EndCapture
  // comes from capture pool `*pool` (0: a new pool, whose id is stored there). A device
  // that cannot capture throws DeviceError.
  virtual void BeginCapture(uint64_t* pool);
  // Ends the capture and returns the captured work, or nullptr with `why` set when the
  // capture failed (the work queued meanwhile has not run, nor will it).
  virtual std::unique_ptr<CapturedWork> EndCapture(std::string* why);
  // No work captured into `pool` will launch again: its memory may serve anyone.
  virtual void ReleaseCapturePool(uint64_t /*pool*/) {}

  // SINGA's per-device buffering switch. A device here never buffers: every kernel runs
  // when it is called. Graph mode (Model.compile(use_graph=True)) records a training
  // step's kernels and replays them in C++ through core/graph.h, independently of this
  // flag, which is kept so scripts that toggle it behave identically.
  void EnableGraph(bool enable) { graph_enabled_ = enable; }
  bool graph_enabled() const { return graph_enabled_; }

  // Time profiling of replayed graphs (core/graph.h), SINGA's semantics: verbosity 0
  // times nothing, 1 reports the mean time per iteration of each kernel type, 2 of each
  // node; the first `skip` iterations of a graph (its recording included) are not
  // timed. Eager kernels are never timed.
  void SetVerbosity(int v);
  int verbosity() const { return verbosity_.load(std::memory_order_relaxed); }
  void SetSkipIteration(int skip);
  int skip_iteration() const { return skip_.load(std::memory_order_relaxed); }
  // A graph's first timed replay registers it here (held weakly: a graph dropped by its
  // model leaves the report).
  void AddTimedGraph(std::weak_ptr<Graph> graph);
  // The report PrintTimeProfiling prints: empty at verbosity 0, else the timings of
  // every live graph of this device, or a line that says why there are none.
  std::string TimeProfile();

 protected:
  virtual void* Malloc(size_t size) = 0;
  virtual void Free(void* ptr, size_t size) = 0;
  friend class Block;

 private:
  void Released(void* ptr, size_t size);
  void TraceAlloc(void* ptr, size_t size);
  void TraceRelease(void* ptr, size_t size);

  struct AllocTrace {
    std::mutex mu;
    std::vector<AllocEvent> events;
    std::unordered_map<void*, uint64_t> live;  // traced blocks not yet released
    uint64_t next_id = 0, marks = 0;
  };

  int id_;
  LangType lang_;
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};
  uint64_t seed_ = 0x5eed;
  std::atomic<uint64_t> counter_{0};
  bool graph_enabled_ = false;
  std::atomic<int> verbosity_{0};
  std::atomic<int> skip_{5};  // SINGA's default
  std::mutex timed_mu_;
  std::vector<std::weak_ptr<Graph>> timed_graphs_;
  std::atomic<bool> tracing_{false};
  AllocTrace trace_;
};

// Registry of devices: the CPU, test devices and (in CUDA builds) GPUs.
class Platform {
 public:
  static std::shared_ptr<Device> GetDefaultDevice();
  // CUDA GPUs the process can use (CUDA_VISIBLE_DEVICES applied): 0 in a CPU-only build
  // and where the driver or the GPUs are missing.
  static int GetNumGPUs();
  // "" when GetNumGPUs() > 0, else why there is no usable GPU (the build, the driver,
  // CUDA_VISIBLE_DEVICES, zero devices).
  static std::string GpuUnavailableReason();
  // The device of GPU `id`, one per id for the whole process; DeviceError naming the id
  // and the reason when there is no such GPU.
  static std::shared_ptr<Device> CreateCudaGPU(int id);
  // (free, total) bytes of GPU `id`, and a description of its properties.
  static std::pair<size_t, size_t> GetGPUMemSize(int id);
  static std::string DeviceQuery(int id, bool verbose);
  static bool UsesCuda();
  // A new host-memory device with its own allocator and a kernel table that runs the
  // CPU kernels and counts calls per family (cpu/test_device.h). Every call makes a new
  // device, ids -2, -3, ... With `host_memory` false the core treats its memory as
  // device memory (NumPy interchange and copies go through CopyToHost/CopyFromHost), as
  // it will a GPU's.
  static std::shared_ptr<Device> CreateTestDevice(bool host_memory = true);
};

// The process-wide CPU device.
inline std::shared_ptr<Device> defaultDevice() { return Platform::GetDefaultDevice(); }

}  // namespace singa
