#include "gpu/fake_driver.h"

#include <sys/mman.h>

#include <cstdlib>
#include <algorithm>
#include <stdexcept>
#include <utility>

namespace singa {
namespace gpu {

// A worker thread running queued tasks in order.
struct FakeDriver::FakeStream {
  std::mutex mu;
  std::condition_variable cv;       // tasks queued, or stop
  std::condition_variable idle_cv;  // a task finished
  std::deque<std::function<void()>> tasks;
  uint64_t queued = 0, finished = 0;
  bool stop = false;
  std::thread worker;

  FakeStream() : worker([this] { Run(); }) {}
  ~FakeStream() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [this] { return stop || !tasks.empty(); });
      if (tasks.empty()) return;  // stop, and everything queued has run
      std::function<void()> task = std::move(tasks.front());
      tasks.pop_front();
      lock.unlock();
      task();
      lock.lock();
      ++finished;
      idle_cv.notify_all();
    }
  }

  void Push(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu);
      tasks.push_back(std::move(task));
      ++queued;
    }
    cv.notify_one();
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    const uint64_t target = queued;
    idle_cv.wait(lock, [&] { return finished >= target; });
  }
};

FakeDriver::FakeDriver(size_t capacity) : capacity_(capacity) {}

FakeDriver::~FakeDriver() {
  streams_.clear();  // drains and joins (the tasks hold their events)
  for (auto& [ptr, bytes] : blocks_) std::free(ptr);
  for (auto& [base, bytes] : ranges_) munmap(base, bytes);
}

Driver::Range FakeDriver::ReserveRange() {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t bytes = std::max(kGranularity, (capacity_ + kGranularity - 1) / kGranularity * kGranularity);
  void* base = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return {};
  ranges_.emplace(base, bytes);
  ++calls_.ranges;
  return {base, bytes};
}

void FakeDriver::ReleaseRange(Range range) {
  SyncAll();
  std::lock_guard<std::mutex> lock(mu_);
  if (ranges_.erase(range.base) == 0) throw std::invalid_argument("FakeDriver::ReleaseRange: not reserved here");
  munmap(range.base, range.bytes);
}

bool FakeDriver::Map(void* addr, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!capturing_.empty()) ++calls_.calls_while_capturing;
  if (bytes == 0 || bytes % kGranularity || reinterpret_cast<uintptr_t>(addr) % kGranularity)
    throw std::invalid_argument("FakeDriver::Map: not whole granules");
  if (used_ > capacity_ || bytes > capacity_ - used_ ||
      mprotect(addr, bytes, PROT_READ | PROT_WRITE) != 0) {
    ++calls_.failed_maps;
    return false;
  }
  used_ += bytes;
  ++calls_.maps;
  return true;
}

void FakeDriver::Unmap(void* addr, size_t bytes) {
  SyncAll();  // as Free
  std::lock_guard<std::mutex> lock(mu_);
  if (!capturing_.empty()) ++calls_.calls_while_capturing;
  madvise(addr, bytes, MADV_DONTNEED);
  mprotect(addr, bytes, PROT_NONE);
  used_ -= bytes;
  ++calls_.unmaps;
}

FakeDriver::FakeStream* FakeDriver::Find(Stream stream) const {
  if (stream == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : streams_)
    if (s.get() == stream) return s.get();
  throw std::invalid_argument("FakeDriver: not a stream of this driver");
}

void* FakeDriver::Malloc(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!capturing_.empty()) ++calls_.calls_while_capturing;
  if (bytes == 0 || used_ > capacity_ || bytes > capacity_ - used_) {
    ++calls_.failed_mallocs;
    return nullptr;
  }
  void* p = std::aligned_alloc(512, (bytes + 511) / 512 * 512);
  if (!p) {
    ++calls_.failed_mallocs;
    return nullptr;
  }
  used_ += bytes;
  blocks_.emplace(p, bytes);
  ++calls_.mallocs;
  return p;
}

void FakeDriver::Free(void* ptr) {
  SyncAll();  // as cudaFree: no queued work may still use the memory
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(ptr);
  if (it == blocks_.end()) throw std::invalid_argument("FakeDriver::Free: not allocated here");
  if (!capturing_.empty()) ++calls_.calls_while_capturing;
  used_ -= it->second;
  blocks_.erase(it);
  std::free(ptr);
  ++calls_.frees;
}

std::shared_ptr<FakeDriver::FakeEvent> FakeDriver::AsEvent(Event e) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = events_.find(e);
  if (it == events_.end()) throw std::invalid_argument("FakeDriver: not an event of this driver");
  return it->second;
}

Event FakeDriver::CreateEvent() {
  auto e = std::make_shared<FakeEvent>();
  std::lock_guard<std::mutex> lock(mu_);
  ++calls_.event_creates;
  events_.emplace(e.get(), e);
  return e.get();
}

void FakeDriver::DestroyEvent(Event event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (events_.erase(event) == 0) throw std::invalid_argument("FakeDriver: not an event of this driver");
  ++calls_.event_destroys;
}

void FakeDriver::RecordEvent(Event event, Stream stream) {
  std::shared_ptr<FakeEvent> e = AsEvent(event);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.event_records;
  }
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    gen = ++e->recorded;
  }
  auto mark = [e, gen] {
    std::lock_guard<std::mutex> lock(e->mu);
    if (e->done < gen) e->done = gen;
    e->cv.notify_all();
  };
  if (FakeStream* s = Find(stream))
    s->Push(mark);
  else
    mark();
}

bool FakeDriver::QueryEvent(Event event) {
  std::shared_ptr<FakeEvent> e = AsEvent(event);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.event_queries;
    if (!capturing_.empty()) ++calls_.calls_while_capturing;
  }
  std::lock_guard<std::mutex> lock(e->mu);
  return e->done >= e->recorded;
}

void FakeDriver::HostWaitEvent(Event event) {
  std::shared_ptr<FakeEvent> e = AsEvent(event);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.event_host_waits;
  }
  std::unique_lock<std::mutex> lock(e->mu);
  const uint64_t target = e->recorded;
  e->cv.wait(lock, [&] { return e->done >= target; });
}

void FakeDriver::StreamWaitEvent(Stream stream, Event event) {
  std::shared_ptr<FakeEvent> e = AsEvent(event);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.stream_waits;
  }
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    target = e->recorded;
  }
  auto wait = [e, target] {
    std::unique_lock<std::mutex> lock(e->mu);
    e->cv.wait(lock, [&] { return e->done >= target; });
  };
  if (FakeStream* s = Find(stream))
    s->Push(wait);
  else
    wait();
}

bool FakeDriver::IsCapturing(Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  ++calls_.capture_queries;
  return capturing_.count(stream) > 0;
}

Stream FakeDriver::NewStream() {
  auto s = std::make_unique<FakeStream>();
  Stream handle = s.get();
  std::lock_guard<std::mutex> lock(mu_);
  streams_.push_back(std::move(s));
  return handle;
}

void FakeDriver::Enqueue(Stream stream, std::function<void()> task) {
  FakeStream* s = Find(stream);
  if (s)
    s->Push(std::move(task));
  else
    task();
}

void FakeDriver::Sync(Stream stream) {
  if (FakeStream* s = Find(stream)) s->Wait();
}

void FakeDriver::SyncAll() {
  std::vector<FakeStream*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : streams_) all.push_back(s.get());
  }
  for (FakeStream* s : all) s->Wait();
}

void FakeDriver::SetCapturing(Stream stream, bool capturing) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capturing)
    capturing_.insert(stream);
  else
    capturing_.erase(stream);
}

FakeDriverCalls FakeDriver::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

size_t FakeDriver::used() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

void FakeDriver::set_capacity(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = bytes;
}

}  // namespace gpu
}  // namespace singa
