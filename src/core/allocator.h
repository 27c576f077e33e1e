// Host memory allocators: the span pool and the CPU device's caching allocator.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace singa {

// Free memory carved out of larger system allocations (arenas): a request takes the
// smallest free span that fits (the rest stays free) and freed spans merge with free
// neighbours, so memory one layer frees serves the next layer's different sizes.
class SpanPool {
 public:
  SpanPool(size_t min_arena, bool huge_pages) : min_arena_(min_arena), huge_pages_(huge_pages) {}
  ~SpanPool();
  SpanPool(const SpanPool&) = delete;
  SpanPool& operator=(const SpanPool&) = delete;
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

// The CPU device's allocator. It keeps freed memory of 64 KiB and more for reuse: a
// training step allocates the same sizes every time, and fresh large allocations are
// page-faulted in on first touch otherwise. Two span pools keep small and large blocks
// apart, so a long-lived small block does not split a large free span. Thread-safe.
class CachingHostAllocator {
 public:
  // `limit`: the most free bytes kept for reuse.
  explicit CachingHostAllocator(size_t limit);
  void* Malloc(size_t size);  // 64-byte aligned; nullptr when the system has no memory
  void Free(void* ptr, size_t size);
  size_t cached_bytes() const;
  void EmptyCache();
  void SetCacheLimit(size_t bytes);

 private:
  SpanPool& PoolFor(size_t rounded);
  void Trim(size_t keep);  // mu_ held

  mutable std::mutex mu_;
  SpanPool medium_, large_;
  size_t limit_;
};

}  // namespace singa
