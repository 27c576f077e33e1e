// A host-memory Driver (gpu/driver.h) for tests of the caching allocator without a GPU:
// a capacity past which Malloc returns nullptr, counts of every call, and streams that
// run host tasks asynchronously in order (one worker thread per stream), with events, so
// the allocator's stream ordering can be tested. The null stream runs its tasks at once
// on the calling thread (nothing is ever queued on it). Free waits until every stream is
// idle first, as cudaFree waits for the device.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gpu/driver.h"

namespace singa {
namespace gpu {

struct FakeDriverCalls {
  uint64_t mallocs = 0, failed_mallocs = 0, frees = 0;
  uint64_t event_creates = 0, event_destroys = 0, event_records = 0, event_queries = 0,
           event_host_waits = 0, stream_waits = 0, capture_queries = 0;
  uint64_t maps = 0, failed_maps = 0, unmaps = 0, ranges = 0;
  // Mallocs, frees, maps, unmaps and event queries while some stream was marked capturing.
  uint64_t calls_while_capturing = 0;
};

class FakeDriver : public Driver {
 public:
  explicit FakeDriver(size_t capacity);
  ~FakeDriver() override;  // drains and joins the streams; frees what is still allocated

  void* Malloc(size_t bytes) override;
  void Free(void* ptr) override;
  Event CreateEvent() override;
  void DestroyEvent(Event event) override;
  void RecordEvent(Event event, Stream stream) override;
  bool QueryEvent(Event event) override;
  void HostWaitEvent(Event event) override;
  void StreamWaitEvent(Stream stream, Event event) override;
  bool IsCapturing(Stream stream) override;
  // Virtual memory: ranges of host address space (mmap, no access), mapped in 2 MiB
  // granules (made accessible, counted against the capacity), unmapped (no access again,
  // pages dropped) after waiting for every stream, as Free.
  size_t MapGranularity() override { return kGranularity; }
  Range ReserveRange() override;
  void ReleaseRange(Range range) override;
  bool Map(void* addr, size_t bytes) override;
  void Unmap(void* addr, size_t bytes) override;
  static constexpr size_t kGranularity = 2 << 20;

  // A new stream with its own worker thread (destroyed with the driver).
  Stream NewStream();
  // Queues `task` on `stream` (runs it now on the null stream).
  void Enqueue(Stream stream, std::function<void()> task);
  // Waits until every task queued on `stream` so far has run.
  void Sync(Stream stream);
  void SyncAll();
  // What IsCapturing reports for `stream`.
  void SetCapturing(Stream stream, bool capturing);

  FakeDriverCalls calls() const;
  size_t used() const;  // bytes allocated now
  size_t capacity() const { return capacity_; }
  void set_capacity(size_t bytes);

 private:
  struct FakeStream;
  struct FakeEvent {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t recorded = 0;  // records so far
    uint64_t done = 0;      // the latest record whose point its stream has passed
  };
  FakeStream* Find(Stream stream) const;
  // The event of a handle (held by the tasks that refer to it, so it may be destroyed
  // with its record or a stream's wait for it still queued, as in CUDA).
  std::shared_ptr<FakeEvent> AsEvent(Event e) const;

  mutable std::mutex mu_;
  size_t capacity_;
  size_t used_ = 0;
  std::map<void*, size_t> blocks_;
  std::set<Stream> capturing_;
  std::map<Event, std::shared_ptr<FakeEvent>> events_;
  std::map<void*, size_t> ranges_;  // reserved ranges: base -> bytes
  FakeDriverCalls calls_;
  std::vector<std::unique_ptr<FakeStream>> streams_;
};

}  // namespace gpu
}  // namespace singa
