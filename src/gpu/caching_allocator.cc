#include "gpu/caching_allocator.h"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace singa {
namespace gpu {

namespace {

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

std::string PtrText(const void* p) {
  std::ostringstream out;
  out << p;
  return out.str();
}

}  // namespace

bool CachingAllocator::BlockLess::operator()(const Block* a, const Block* b) const {
  const auto sa = reinterpret_cast<uintptr_t>(a->stream), sb = reinterpret_cast<uintptr_t>(b->stream);
  if (sa != sb) return sa < sb;
  if (a->size != b->size) return a->size < b->size;
  return reinterpret_cast<uintptr_t>(a->ptr) < reinterpret_cast<uintptr_t>(b->ptr);
}

CachingAllocator::CachingAllocator(Driver* driver, bool expandable_segments) : driver_(driver) {
  small_.small = true;
  if (expandable_segments) granularity_ = driver_->MapGranularity();
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  // Every block is in a free set, active, pending events or deferred: find the segments
  // from them and give each back whole.
  for (auto& [event, block] : pending_) {
    driver_->HostWaitEvent(event);
    driver_->DestroyEvent(event);
  }
  for (Event e : spare_events_) driver_->DestroyEvent(e);
  std::set<Block*> heads;
  auto add = [&heads](Block* b) {
    while (b->prev) b = b->prev;
    heads.insert(b);
  };
  for (Block* b : small_.free_blocks) add(b);
  for (Block* b : large_.free_blocks) add(b);
  for (auto& [id, pp] : private_) {
    for (Block* b : pp->small.free_blocks) add(b);
    for (Block* b : pp->large.free_blocks) add(b);
  }
  for (auto& [ptr, b] : active_) add(b);
  for (auto& [event, b] : pending_) add(b);
  for (Block* b : deferred_) add(b);
  for (Block* head : heads) {
    if (!head->expandable) driver_->Free(head->ptr);
    for (Block* b = head; b;) {
      Block* next = b->next;
      delete b;
      b = next;
    }
  }
  for (auto& [stream, x] : expandable_) {
    if (x.mapped) driver_->Unmap(x.range.base, x.mapped);
    if (x.range.base) driver_->ReleaseRange(x.range);
  }
}

CachingAllocator::Pool& CachingAllocator::PoolFor(size_t size, Stream stream) {
  const bool small = size <= kSmallSize;
  if (!capturing_.empty()) {
    auto it = capturing_.find(stream);
    if (it != capturing_.end()) {
      PrivatePool& pp = *private_.at(it->second);
      return small ? pp.small : pp.large;
    }
  }
  return small ? small_ : large_;
}

CachingAllocator::Block* CachingAllocator::TakeFree(Pool& pool, size_t size, Stream stream) {
  Block key;
  key.stream = stream;
  key.size = size;
  key.ptr = nullptr;
  auto it = pool.free_blocks.lower_bound(&key);
  if (it == pool.free_blocks.end() || (*it)->stream != stream) return nullptr;
  Block* b = *it;
  pool.free_blocks.erase(it);
  b->in_pool = false;
  return b;
}

void* CachingAllocator::DriverMalloc(size_t bytes, Stream stream) {
  if (capturing_.count(stream) == 0 && driver_->IsCapturing(stream))
    throw std::logic_error(
        "CachingAllocator::Malloc: the stream is capturing a CUDA graph but no capture pool is "
        "open for it (call BeginCapture(stream) when the capture begins): memory allocated now "
        "would be reused while the graph may still replay");
  void* p = driver_->Malloc(bytes);
  if (p)
    ++st_.driver_mallocs;
  else
    ++st_.driver_failed_mallocs;
  return p;
}

CachingAllocator::Block* CachingAllocator::Grow(Pool& pool, size_t size, Stream stream) {
  Expandable& x = expandable_[stream];
  if (x.range.base == nullptr) {
    x.range = driver_->ReserveRange();
    if (x.range.base == nullptr) return nullptr;
  }
  Block* tail = x.head;
  while (tail && tail->next) tail = tail->next;
  const size_t have = tail && tail->in_pool ? tail->size : 0;
  const size_t grow = RoundUp(size - have, granularity_);
  if (grow > x.range.bytes - x.mapped) return nullptr;
  if (capturing_.count(stream) == 0 && driver_->IsCapturing(stream))
    throw std::logic_error(
        "CachingAllocator::Malloc: the stream is capturing a CUDA graph but no capture pool is "
        "open for it (call BeginCapture(stream) when the capture begins): memory allocated now "
        "would be reused while the graph may still replay");
  char* end = static_cast<char*>(x.range.base) + x.mapped;
  if (!driver_->Map(end, grow)) {
    ++st_.driver_failed_mallocs;
    return nullptr;
  }
  ++st_.driver_mallocs;
  if (x.mapped == 0) ++st_.segments;
  x.mapped += grow;
  st_.reserved += grow;
  st_.max_reserved = std::max(st_.max_reserved, st_.reserved);
  if (have) {  // the free end grows
    pool.free_blocks.erase(tail);
    tail->in_pool = false;
    tail->size += grow;
    return tail;
  }
  Block* b = new Block;
  b->stream = stream;
  b->size = grow;
  b->ptr = end;
  b->pool = &pool;
  b->expandable = true;
  b->prev = tail;
  if (tail)
    tail->next = b;
  else
    x.head = b;
  return b;
}

void CachingAllocator::Shrink(Expandable& x, size_t keep) {
  Block* tail = x.head;
  while (tail && tail->next) tail = tail->next;
  if (!tail || !tail->in_pool) return;
  char* base = static_cast<char*>(x.range.base);
  char* end = base + x.mapped;
  char* cut = base + RoundUp(static_cast<size_t>(tail->ptr - base), granularity_);
  if (cut >= end) return;
  const size_t cached = st_.reserved - st_.allocated;
  if (cached <= keep) return;
  // The free end's whole granules, no more than it takes to get under `keep`.
  const size_t bytes = std::min(static_cast<size_t>(end - cut), RoundUp(cached - keep, granularity_));
  driver_->Unmap(end - bytes, bytes);
  ++st_.driver_frees;
  x.mapped -= bytes;
  st_.reserved -= bytes;
  tail->pool->free_blocks.erase(tail);
  tail->size -= bytes;
  if (tail->size) {
    tail->pool->free_blocks.insert(tail);
  } else {
    if (tail->prev)
      tail->prev->next = nullptr;
    else
      x.head = nullptr;
    delete tail;
  }
  if (x.mapped == 0) --st_.segments;
}

CachingAllocator::Block* CachingAllocator::NewSegment(Pool& pool, size_t size, Stream stream) {
  if (granularity_ && pool.owner == 0 && !pool.small) {
    if (Block* b = Grow(pool, size, stream)) return b;
    // Out of memory, unless no address range could be reserved: plain segments then.
    if (expandable_[stream].range.base) return nullptr;
  }
  const size_t exact = RoundUp(size, kRoundLarge);
  size_t bytes = pool.small ? kSmallBuffer : (size < kMinLargeAlloc ? kLargeBuffer : exact);
  void* p = DriverMalloc(bytes, stream);
  if (!p && bytes > exact) {  // no room for a whole 20 MiB segment: one of the request's size
    bytes = exact;
    p = DriverMalloc(bytes, stream);
  }
  if (!p) return nullptr;
  Block* b = new Block;
  b->stream = stream;
  b->size = bytes;
  b->ptr = static_cast<char*>(p);
  b->pool = &pool;
  st_.reserved += bytes;
  st_.max_reserved = std::max(st_.max_reserved, st_.reserved);
  ++st_.segments;
  if (pool.owner) private_.at(pool.owner)->reserved += bytes;
  return b;
}

CachingAllocator::Block* CachingAllocator::Split(Block* b, size_t size) {
  const size_t rest = b->size - size;
  const bool split = b->pool->small ? rest >= kRound : rest > kSmallSize;
  if (!split) return b;
  Block* r = new Block;
  r->stream = b->stream;
  r->size = rest;
  r->ptr = b->ptr + size;
  r->pool = b->pool;
  r->prev = b;
  r->next = b->next;
  if (b->next) b->next->prev = r;
  b->next = r;
  b->size = size;
  r->in_pool = true;
  r->pool->free_blocks.insert(r);
  return b;
}

void CachingAllocator::Allocated(Block* b, size_t requested) {
  b->allocated = true;
  b->requested = requested;
  active_.emplace(b->ptr, b);
  st_.allocated += b->size;
  st_.max_allocated = std::max(st_.max_allocated, st_.allocated);
  st_.requested += requested;
  st_.max_requested = std::max(st_.max_requested, st_.requested);
  ++st_.active_blocks;
}

void* CachingAllocator::Malloc(size_t bytes, Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes > SIZE_MAX - kRoundLarge) {
    ++st_.ooms;
    return nullptr;
  }
  const size_t size = std::max(kRound, RoundUp(bytes, kRound));
  if (capturing_.empty()) ProcessEvents();
  Pool& pool = PoolFor(size, stream);
  Block* b = TakeFree(pool, size, stream);
  if (!b) b = NewSegment(pool, size, stream);
  if (!b && capturing_.empty() && (st_.reserved > st_.allocated || !pending_.empty())) {
    // Out of memory: wait for the pending frees, empty the cache and try again.
    ++st_.cache_flushes;
    SynchronizeEvents();
    ReleaseCached(0);
    b = TakeFree(pool, size, stream);
    if (!b) b = NewSegment(pool, size, stream);
  }
  if (!b) {
    ++st_.ooms;
    return nullptr;
  }
  b = Split(b, size);
  Allocated(b, bytes);
  return b->ptr;
}

CachingAllocator::Block* CachingAllocator::Lookup(void* ptr, const char* fn) const {
  auto it = active_.find(ptr);
  if (it == active_.end())
    throw std::invalid_argument(std::string("CachingAllocator::") + fn + "(" + PtrText(ptr) +
                                "): not a block allocated by this allocator (or freed already)");
  return it->second;
}

void CachingAllocator::Free(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = Lookup(ptr, "Free");
  active_.erase(ptr);
  b->allocated = false;
  st_.allocated -= b->size;
  st_.requested -= b->requested;
  --st_.active_blocks;
  if (!b->stream_uses.empty()) {
    if (capturing_.empty())
      InsertEvents(b);
    else
      deferred_.push_back(b);
    return;
  }
  FreeBlock(b);
  TrimToLimit();
}

void CachingAllocator::RecordStream(void* ptr, Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = Lookup(ptr, "RecordStream");
  if (stream == b->stream) return;
  if (std::find(b->stream_uses.begin(), b->stream_uses.end(), stream) == b->stream_uses.end())
    b->stream_uses.push_back(stream);
}

void CachingAllocator::InsertEvents(Block* b) {
  for (Stream s : b->stream_uses) {
    Event e;
    if (spare_events_.empty()) {
      e = driver_->CreateEvent();
    } else {
      e = spare_events_.back();
      spare_events_.pop_back();
    }
    driver_->RecordEvent(e, s);
    pending_.emplace_back(e, b);
    ++b->event_count;
  }
  b->stream_uses.clear();
}

void CachingAllocator::ProcessEvents() {
  if (pending_.empty()) return;
  size_t kept = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    auto [e, b] = pending_[i];
    if (!driver_->QueryEvent(e)) {
      pending_[kept++] = pending_[i];
      continue;
    }
    spare_events_.push_back(e);
    if (--b->event_count == 0) FreeBlock(b);
  }
  pending_.resize(kept);
}

void CachingAllocator::SynchronizeEvents() {
  for (auto& [e, b] : pending_) {
    driver_->HostWaitEvent(e);
    spare_events_.push_back(e);
    if (--b->event_count == 0) FreeBlock(b);
  }
  pending_.clear();
}

void CachingAllocator::FreeBlock(Block* b) {
  Pool& pool = *b->pool;
  b->stream_uses.clear();
  if (Block* p = b->prev; p && p->in_pool) {
    pool.free_blocks.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
  }
  if (Block* n = b->next; n && n->in_pool) {
    pool.free_blocks.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  b->in_pool = true;
  pool.free_blocks.insert(b);
  if (pool.owner) RetireIfReleased(b);
}

void CachingAllocator::RetireIfReleased(Block* b) {
  if (b->prev || b->next) return;  // not a whole segment
  auto it = private_.find(b->pool->owner);
  PrivatePool& pp = *it->second;
  if (!pp.released) return;
  // No graph of the pool replays again: the segment joins the ordinary cache.
  b->pool->free_blocks.erase(b);
  pp.reserved -= b->size;
  b->pool = b->pool->small ? &small_ : &large_;
  b->pool->free_blocks.insert(b);
  if (pp.reserved == 0) private_.erase(it);
}

void CachingAllocator::ReleaseSegment(Block* b) {
  b->pool->free_blocks.erase(b);
  driver_->Free(b->ptr);
  ++st_.driver_frees;
  st_.reserved -= b->size;
  --st_.segments;
  delete b;
}

void CachingAllocator::ReleaseCached(size_t keep) {
  for (auto& [stream, x] : expandable_) {
    if (st_.reserved - st_.allocated <= keep) return;
    Shrink(x, keep);
  }
  for (Pool* pool : {&large_, &small_}) {
    std::vector<Block*> whole;
    for (Block* b : pool->free_blocks)
      if (!b->prev && !b->next && !b->expandable) whole.push_back(b);
    // The largest first: the fewest driver calls to get under `keep`.
    std::sort(whole.begin(), whole.end(), [](Block* a, Block* b) { return a->size > b->size; });
    for (Block* b : whole) {
      if (st_.reserved - st_.allocated <= keep) return;
      ReleaseSegment(b);
    }
  }
}

void CachingAllocator::TrimToLimit() {
  if (limit_ != SIZE_MAX && capturing_.empty() && st_.reserved - st_.allocated > limit_)
    ReleaseCached(limit_);
}

size_t CachingAllocator::cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return st_.reserved - st_.allocated;
}

size_t CachingAllocator::reserved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return st_.reserved;
}

size_t CachingAllocator::allocated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return st_.allocated;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  AllocatorStats s = st_;
  s.cached = s.reserved - s.allocated;
  return s;
}

void CachingAllocator::ResetPeak() {
  std::lock_guard<std::mutex> lock(mu_);
  st_.max_allocated = st_.allocated;
  st_.max_requested = st_.requested;
  st_.max_reserved = st_.reserved;
}

void CachingAllocator::EmptyCache() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!capturing_.empty()) return;  // no event queries or frees during a capture
  SynchronizeEvents();
  ReleaseCached(0);
}

void CachingAllocator::SetCacheLimit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  limit_ = bytes;
  TrimToLimit();
}

CachingAllocator::PoolId CachingAllocator::BeginCapture(Stream stream, PoolId pool) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capturing_.count(stream))
    throw std::logic_error("CachingAllocator::BeginCapture: a capture is already open on stream " +
                           PtrText(stream));
  PrivatePool* pp;
  if (pool == 0) {
    pool = next_pool_++;
    auto fresh = std::make_unique<PrivatePool>();
    fresh->small.small = true;
    fresh->small.owner = fresh->large.owner = pool;
    pp = fresh.get();
    private_.emplace(pool, std::move(fresh));
  } else {
    auto it = private_.find(pool);
    if (it == private_.end() || it->second->released)
      throw std::invalid_argument("CachingAllocator::BeginCapture: no open capture pool " +
                                  std::to_string(pool) + " (unknown or released)");
    pp = it->second.get();
  }
  ++pp->captures;
  capturing_.emplace(stream, pool);
  return pool;
}

void CachingAllocator::EndCapture(Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = capturing_.find(stream);
  if (it == capturing_.end())
    throw std::logic_error("CachingAllocator::EndCapture: no capture is open on stream " +
                           PtrText(stream));
  --private_.at(it->second)->captures;
  capturing_.erase(it);
  if (!capturing_.empty()) return;
  for (Block* b : deferred_) InsertEvents(b);
  deferred_.clear();
}

void CachingAllocator::ReleasePool(PoolId pool) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = private_.find(pool);
  if (it == private_.end() || it->second->released)
    throw std::invalid_argument("CachingAllocator::ReleasePool: no capture pool " +
                                std::to_string(pool) + " (unknown or released already)");
  PrivatePool& pp = *it->second;
  if (pp.captures)
    throw std::logic_error("CachingAllocator::ReleasePool: pool " + std::to_string(pool) +
                           " has a capture open (EndCapture first)");
  pp.released = true;
  if (pp.reserved == 0) {
    private_.erase(it);
    return;
  }
  std::vector<Block*> whole;
  for (Pool* p : {&pp.small, &pp.large})
    for (Block* b : p->free_blocks)
      if (!b->prev && !b->next) whole.push_back(b);
  // The last one may erase the pool (when nothing of it is in use).
  for (Block* b : whole) RetireIfReleased(b);
  if (!whole.empty()) TrimToLimit();
}

size_t CachingAllocator::pool_reserved(PoolId pool) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = private_.find(pool);
  return it == private_.end() ? 0 : it->second->reserved;
}

}  // namespace gpu
}  // namespace singa
