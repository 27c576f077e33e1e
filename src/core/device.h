// Devices own memory and random state. The CPU device is a process-wide singleton
// (id -1) handed out by Platform; a CUDA device plugs in behind the same interface.
#pragma once

#include <atomic>
#include <utility>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common.h"

namespace singa {

enum LangType { kCpp = 0, kCuda = 1 };

class Device;

// A reference-counted span of device memory. Either allocated by a Device (and counted
// in its memory statistics) or borrowed from outside (a NumPy array) with a release hook.
class Block {
 public:
  Block(void* ptr, size_t size, Device* owner, std::function<void()> release = nullptr);
  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  void* data() const { return ptr_; }
  size_t size() const { return size_; }
  bool borrowed() const { return static_cast<bool>(release_); }
  // Exchanges the memory (and ownership) of two blocks: graph replay moves a freshly
  // computed result into the block every recorded consumer refers to.
  void SwapData(Block& other) {
    std::swap(ptr_, other.ptr_);
    std::swap(size_, other.size_);
    std::swap(owner_, other.owner_);
    std::swap(release_, other.release_);
  }
  // Returns the memory to the device and leaves the block empty: graph replay frees an
  // intermediate after its last reader; SwapData refills it on the next replay.
  void ReleaseData();

 private:
  void* ptr_;
  size_t size_;
  Device* owner_;
  std::function<void()> release_;
};

class Device : public std::enable_shared_from_this<Device> {
 public:
  Device(int id, LangType lang) : id_(id), lang_(lang) {}
  virtual ~Device() = default;

  int id() const { return id_; }
  LangType lang() const { return lang_; }
  virtual std::string name() const = 0;

  // Allocates `size` bytes (64-byte aligned, zero-filled when `zero`).
  std::shared_ptr<Block> NewBlock(size_t size, bool zero = false);
  // Wraps memory the device does not own; `release` runs when the last view dies.
  std::shared_ptr<Block> BorrowBlock(void* ptr, size_t size, std::function<void()> release);

  virtual void Sync() {}

  // Freed memory a device keeps for reuse (bytes), dropping it, and capping it.
  virtual size_t cached_bytes() const { return 0; }
  virtual void EmptyCache() {}
  virtual void SetCacheLimit(size_t) {}

  // Memory statistics for tests and benchmarks (bytes).
  size_t bytes_in_use() const { return in_use_.load(); }
  size_t peak_bytes() const { return peak_.load(); }
  void ResetPeak() { peak_.store(in_use_.load()); }

  // Random numbers: a counter-based generator, so a seed fixes every later draw,
  // whatever the thread count.
  void SetRandSeed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  // Reserves `n` consecutive counters and returns the first.
  uint64_t TakeCounters(uint64_t n) { return counter_.fetch_add(n); }

  // Graph buffering (SINGA's EnableGraph/RunGraph): operations here always execute
  // eagerly; the flag is kept so scripts that toggle it behave identically.
  void EnableGraph(bool enable) { graph_enabled_ = enable; }
  bool graph_enabled() const { return graph_enabled_; }
  void SetVerbosity(int v) { verbosity_ = v; }
  int verbosity() const { return verbosity_; }

 protected:
  virtual void* Malloc(size_t size) = 0;
  virtual void Free(void* ptr, size_t size) = 0;
  friend class Block;

 private:
  void Released(size_t size);

  int id_;
  LangType lang_;
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};
  uint64_t seed_ = 0x5eed;
  std::atomic<uint64_t> counter_{0};
  bool graph_enabled_ = false;
  int verbosity_ = 0;
};

// Free memory carved out of larger system allocations (arenas): a request takes the
// smallest free span that fits (the rest stays free) and freed spans merge with free
// neighbours, so memory one layer frees serves the next layer's different sizes.
class SpanPool {
 public:
  SpanPool(size_t min_arena, bool huge_pages) : min_arena_(min_arena), huge_pages_(huge_pages) {}
  ~SpanPool();
  void* Take(size_t size);      // nullptr when no free span fits
  void* Grow(size_t size);      // a new arena, then Take
  void Return(void* p);
  // Gives whole free arenas back to the system while more than `keep` bytes are free.
  void ReleaseFreeArenas(size_t keep);
  // Drops the pages of free spans (at least `bytes` of them) while keeping the address
  // range: growing by an arena then adds no resident memory that the free spans
  // already hold. Their next use faults fresh zero pages in.
  void Purge(size_t bytes);
  size_t free_bytes() const { return free_bytes_; }

 private:
  struct Span {
    size_t size;
    char* arena;  // spans merge only within one arena
    bool free;
  };
  std::map<char*, Span> spans_;                    // every span, by address
  std::set<std::pair<size_t, char*>> free_spans_;  // free spans by (size, address)
  std::map<char*, size_t> arenas_;                 // arena base -> bytes
  size_t free_bytes_ = 0;
  size_t min_arena_;
  bool huge_pages_;
};

// The CPU device keeps freed memory of 64 KiB and more for reuse: a training step
// allocates the same sizes every time, and fresh large allocations are page-faulted in on
// first touch otherwise. Two span pools keep small and large blocks apart, so a
// long-lived small block does not split a large free span.
class CppCPU : public Device {
 public:
  CppCPU();
  std::string name() const override { return "cpu"; }
  size_t cached_bytes() const override;
  void EmptyCache() override;
  void SetCacheLimit(size_t bytes) override;

 protected:
  void* Malloc(size_t size) override;
  void Free(void* ptr, size_t size) override;

 private:
  SpanPool& PoolFor(size_t rounded);
  void Trim(size_t keep);  // mu_ held

  mutable std::mutex mu_;
  SpanPool medium_, large_;
  size_t limit_;
};

// Registry of devices. Only the CPU exists in a build without CUDA.
class Platform {
 public:
  static std::shared_ptr<Device> GetDefaultDevice();
  static int GetNumGPUs();
  static std::shared_ptr<Device> CreateCudaGPU(int id);
  static bool UsesCuda();
};

// The process-wide CPU device.
inline std::shared_ptr<Device> defaultDevice() { return Platform::GetDefaultDevice(); }

// SplitMix64's output function.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// 32 random bits for element `counter` of a stream keyed by `key`: two rounds of a
// 32-bit integer hash. 32-bit multiplies vectorise 16 to a register, so bulk masks
// (dropout) cost about as much as any element-wise op.
inline uint32_t Hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

inline uint32_t RandomBits32(uint32_t key, uint32_t counter) {
  return Hash32(Hash32(counter ^ key) + key);
}

// Random bits number `counter` of the stream of `seed`: SplitMix64 whose state starts
// at a hash of the seed (loop-invariant, so hoisted out of fill loops).
inline uint64_t RandomBits(uint64_t seed, uint64_t counter) {
  return Mix64(Mix64(seed + 0x94d049bb133111ebull) + counter * 0x9e3779b97f4a7c15ull);
}

}  // namespace singa
