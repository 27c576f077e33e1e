#include "core/allocator.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>

namespace singa {

namespace {

constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kMinCached = size_t{64} << 10;
// Blocks from here on come from the large pool, whose arenas use huge pages.
constexpr size_t kLarge = size_t{1} << 20;

// The size actually allocated for a request: pooled sizes are whole 64 KiB units (the
// pools' alignment), others whole cache lines.
size_t RoundedSize(size_t size) {
  if (size >= kMinCached) return (size + kMinCached - 1) / kMinCached * kMinCached;
  return (size + 63) / 64 * 64;
}

}  // namespace

SpanPool::~SpanPool() {
  // Memory still in use at exit stays mapped (tensors may outlive static destruction).
  ReleaseFreeArenas(0);
}

void* SpanPool::Take(size_t size) {
  auto it = free_spans_.lower_bound({size, nullptr});
  if (it == free_spans_.end()) return nullptr;
  const size_t have = it->first;
  char* p = it->second;
  free_spans_.erase(it);
  free_bytes_ -= have;
  Span& span = spans_[p];
  span.free = false;
  if (have > size) {
    span.size = size;
    spans_[p + size] = Span{have - size, span.arena, true};
    free_spans_.insert({have - size, p + size});
    free_bytes_ += have - size;
  }
  return p;
}

void* SpanPool::Grow(size_t size) {
  // No free span fits, so whole free arenas are all smaller than this request: give
  // them back; the new, larger arena serves their sizes from now on.
  ReleaseFreeArenas(0);
  Purge(size);
  // Bigger arenas let more freed spans merge; their pages become resident only when a
  // span is used.
  const size_t bytes = std::max(size, min_arena_);
  char* base = static_cast<char*>(std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge));
  if (base == nullptr) return nullptr;
#ifdef MADV_HUGEPAGE
  // One fault per 2 MiB instead of per 4 KiB page, as NumPy does from 4 MiB.
  if (huge_pages_) madvise(base, bytes, MADV_HUGEPAGE);
#endif
  arenas_[base] = bytes;
  spans_[base] = Span{bytes, base, true};
  free_spans_.insert({bytes, base});
  free_bytes_ += bytes;
  return Take(size);
}

void SpanPool::Purge(size_t bytes) {
  // The largest free spans first: they are the likeliest to be resident in whole pages.
  size_t purged = 0;
  for (auto it = free_spans_.rbegin(); it != free_spans_.rend() && purged < bytes; ++it) {
    auto lo = reinterpret_cast<uintptr_t>(it->second);
    uintptr_t begin = (lo + 4095) & ~uintptr_t{4095}, end = (lo + it->first) & ~uintptr_t{4095};
    if (end <= begin) continue;
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    purged += end - begin;
  }
}

void SpanPool::Return(void* ptr) {
  auto it = spans_.find(static_cast<char*>(ptr));
  it->second.free = true;
  free_bytes_ += it->second.size;
  auto next = std::next(it);
  if (next != spans_.end() && next->second.free && next->second.arena == it->second.arena) {
    free_spans_.erase({next->second.size, next->first});
    it->second.size += next->second.size;
    spans_.erase(next);
  }
  if (it != spans_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free && prev->second.arena == it->second.arena) {
      free_spans_.erase({prev->second.size, prev->first});
      prev->second.size += it->second.size;
      spans_.erase(it);
      it = prev;
    }
  }
  free_spans_.insert({it->second.size, it->first});
}

void SpanPool::ReleaseFreeArenas(size_t keep) {
  for (auto a = arenas_.begin(); a != arenas_.end() && free_bytes_ > keep;) {
    auto span = spans_.find(a->first);
    if (!span->second.free || span->second.size != a->second) {
      ++a;
      continue;
    }
    free_spans_.erase({span->second.size, span->first});
    spans_.erase(span);
    free_bytes_ -= a->second;
    std::free(a->first);
    a = arenas_.erase(a);
  }
}

CachingHostAllocator::CachingHostAllocator(size_t limit)
    : medium_(kHuge, false), large_(size_t{16} << 20, true), limit_(limit) {}

SpanPool& CachingHostAllocator::PoolFor(size_t rounded) {
  return rounded >= kLarge ? large_ : medium_;
}

void CachingHostAllocator::Trim(size_t keep) {
  large_.ReleaseFreeArenas(keep > medium_.free_bytes() ? keep - medium_.free_bytes() : 0);
  medium_.ReleaseFreeArenas(keep > large_.free_bytes() ? keep - large_.free_bytes() : 0);
}

void* CachingHostAllocator::Malloc(size_t size) {
  const size_t rounded = RoundedSize(size);
  if (rounded < kMinCached) return std::aligned_alloc(64, rounded);
  std::lock_guard<std::mutex> lock(mu_);
  SpanPool& pool = PoolFor(rounded);
  if (void* p = pool.Take(rounded)) return p;
  return pool.Grow(rounded);
}

void CachingHostAllocator::Free(void* ptr, size_t size) {
  if (ptr == nullptr) return;
  const size_t rounded = RoundedSize(size);
  if (rounded < kMinCached) {
    std::free(ptr);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  PoolFor(rounded).Return(ptr);
  if (medium_.free_bytes() + large_.free_bytes() > limit_) Trim(limit_);
}

size_t CachingHostAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return medium_.free_bytes() + large_.free_bytes();
}

void CachingHostAllocator::EmptyCache() {
  std::lock_guard<std::mutex> lock(mu_);
  Trim(0);
}

void CachingHostAllocator::SetCacheLimit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  limit_ = bytes;
  if (medium_.free_bytes() + large_.free_bytes() > limit_) Trim(limit_);
}

}  // namespace singa
