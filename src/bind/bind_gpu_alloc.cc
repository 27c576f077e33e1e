// Test bindings of the GPU caching allocator (gpu/caching_allocator.h) over the host-memory
// fake driver (gpu/fake_driver.h): `singa_wrap._GpuAllocTest`, for tests/test_gpu_allocator.py.
// Addresses and streams cross as integers (stream 0 is the null stream; malloc returns 0
// for nullptr). Not part of singa's API.
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bind/def.h"
#include "cpu/cpu_kernels.h"
#include "gpu/caching_allocator.h"
#include "gpu/fake_driver.h"

namespace singa {

namespace {

using gpu::CachingAllocator;
using gpu::FakeDriver;
using gpu::Stream;

class GpuAllocTest {
 public:
  GpuAllocTest(size_t capacity, bool expandable)
      : driver_(std::make_unique<FakeDriver>(capacity)),
        alloc_(std::make_unique<CachingAllocator>(driver_.get(), expandable)) {
    streams_.push_back(nullptr);
  }
  ~GpuAllocTest() {
    driver_->SyncAll();
    alloc_.reset();  // before the driver it uses
  }

  FakeDriver& driver() { return *driver_; }
  CachingAllocator& alloc() { return *alloc_; }

  int NewStream() {
    streams_.push_back(driver_->NewStream());
    return static_cast<int>(streams_.size()) - 1;
  }
  Stream stream(int index) const {
    if (index < 0 || index >= static_cast<int>(streams_.size()))
      throw IndexError(Msg("_GpuAllocTest: no stream ", index, " (", streams_.size(), " made)"));
    return streams_[index];
  }

  // A host task on `stream`: sleep, then fill `bytes` bytes at `ptr` with `value`.
  void Fill(int s, uintptr_t ptr, size_t bytes, int value, double delay_ms) {
    auto* p = reinterpret_cast<void*>(ptr);
    driver_->Enqueue(stream(s), [p, bytes, value, delay_ms] {
      Sleep(delay_ms);
      std::memset(p, value, bytes);
    });
  }
  // A host task on `stream`: sleep, then copy `bytes` bytes at `ptr`; Result(ticket) has them.
  int Snapshot(int s, uintptr_t ptr, size_t bytes, double delay_ms) {
    auto out = std::make_shared<std::vector<unsigned char>>(bytes);
    int ticket;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ticket = static_cast<int>(results_.size());
      results_.push_back(out);
    }
    auto* p = reinterpret_cast<const unsigned char*>(ptr);
    driver_->Enqueue(stream(s), [p, bytes, delay_ms, out] {
      Sleep(delay_ms);
      std::memcpy(out->data(), p, bytes);
    });
    return ticket;
  }
  py::bytes Result(int ticket) {
    driver_->SyncAll();
    std::lock_guard<std::mutex> lock(mu_);
    if (ticket < 0 || ticket >= static_cast<int>(results_.size()))
      throw IndexError(Msg("_GpuAllocTest.result: no ticket ", ticket));
    const auto& v = *results_[ticket];
    return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
  }

 private:
  static void Sleep(double ms) {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }

  std::unique_ptr<FakeDriver> driver_;
  std::unique_ptr<CachingAllocator> alloc_;
  std::vector<Stream> streams_;
  std::mutex mu_;
  std::vector<std::shared_ptr<std::vector<unsigned char>>> results_;
};

// A host-memory Device whose memory comes from the caching allocator on the fake driver
// (the null stream), with the CPU kernels: Device::NewBlock's out-of-memory path as a
// CudaGPU takes it.
class FakeGpuDevice : public Device {
 public:
  explicit FakeGpuDevice(std::shared_ptr<GpuAllocTest> harness)
      : Device(-100, kCpp), harness_(std::move(harness)) {}
  std::string name() const override { return "fake-gpu"; }
  const KernelTable& kernels() const override { return cpu::Kernels(); }
  size_t cached_bytes() const override { return harness_->alloc().cached(); }
  void EmptyCache() override { harness_->alloc().EmptyCache(); }
  void SetCacheLimit(size_t bytes) override { harness_->alloc().SetCacheLimit(bytes); }

 protected:
  void* Malloc(size_t size) override { return harness_->alloc().Malloc(size, nullptr); }
  void Free(void* ptr, size_t) override { harness_->alloc().Free(ptr); }

 private:
  std::shared_ptr<GpuAllocTest> harness_;
};

py::dict StatsDict(const gpu::AllocatorStats& s) {
  py::dict d;
  d["allocated"] = s.allocated;
  d["max_allocated"] = s.max_allocated;
  d["requested"] = s.requested;
  d["max_requested"] = s.max_requested;
  d["reserved"] = s.reserved;
  d["max_reserved"] = s.max_reserved;
  d["cached"] = s.cached;
  d["segments"] = s.segments;
  d["active_blocks"] = s.active_blocks;
  d["driver_mallocs"] = s.driver_mallocs;
  d["driver_frees"] = s.driver_frees;
  d["driver_failed_mallocs"] = s.driver_failed_mallocs;
  d["cache_flushes"] = s.cache_flushes;
  d["ooms"] = s.ooms;
  return d;
}

void* AsPtr(uintptr_t p) { return reinterpret_cast<void*>(p); }

}  // namespace

void BindGpuAlloc(py::module_& m) {
  py::class_<GpuAllocTest, std::shared_ptr<GpuAllocTest>> t(
      m, "_GpuAllocTest",
      "Test harness (not API): the GPU caching allocator over a host-memory fake driver of "
      "`capacity` bytes whose streams run host tasks on worker threads; `expandable`: the "
      "large pools are expandable segments (mapped address ranges).");
  DefInit(t, py::init<size_t, bool>(), py::arg("capacity"), py::arg("expandable") = false);
  DefHost(t, "expandable_segments", [](GpuAllocTest& h) { return h.alloc().expandable_segments(); });
  DefHost(t, "new_stream", &GpuAllocTest::NewStream, "A new fake stream's index (0: the null stream).");
  DefHost(t, "malloc", [](GpuAllocTest& h, size_t bytes, int s) {
    return reinterpret_cast<uintptr_t>(h.alloc().Malloc(bytes, h.stream(s)));
  }, py::arg("bytes"), py::arg("stream") = 0, py::call_guard<py::gil_scoped_release>(),
     "The block's address; 0 when out of memory.");
  DefHost(t, "free", [](GpuAllocTest& h, uintptr_t p) { h.alloc().Free(AsPtr(p)); }, py::arg("ptr"),
          py::call_guard<py::gil_scoped_release>());
  DefHost(t, "record_stream", [](GpuAllocTest& h, uintptr_t p, int s) {
    h.alloc().RecordStream(AsPtr(p), h.stream(s));
  }, py::arg("ptr"), py::arg("stream"));
  DefHost(t, "begin_capture", [](GpuAllocTest& h, int s, uint64_t pool) {
    return h.alloc().BeginCapture(h.stream(s), pool);
  }, py::arg("stream"), py::arg("pool") = 0);
  DefHost(t, "end_capture", [](GpuAllocTest& h, int s) { h.alloc().EndCapture(h.stream(s)); },
          py::arg("stream"));
  DefHost(t, "release_pool", [](GpuAllocTest& h, uint64_t pool) { h.alloc().ReleasePool(pool); },
          py::arg("pool"));
  DefHost(t, "pool_reserved", [](GpuAllocTest& h, uint64_t pool) {
    return h.alloc().pool_reserved(pool);
  }, py::arg("pool"));
  DefHost(t, "set_capturing", [](GpuAllocTest& h, int s, bool on) {
    h.driver().SetCapturing(h.stream(s), on);
  }, py::arg("stream"), py::arg("capturing"), "What the fake driver's IsCapturing reports.");
  DefHost(t, "empty_cache", [](GpuAllocTest& h) { h.alloc().EmptyCache(); });
  DefHost(t, "set_cache_limit", [](GpuAllocTest& h, size_t bytes) { h.alloc().SetCacheLimit(bytes); },
          py::arg("bytes"));
  DefHost(t, "reset_peak", [](GpuAllocTest& h) { h.alloc().ResetPeak(); });
  DefHost(t, "set_capacity", [](GpuAllocTest& h, size_t bytes) { h.driver().set_capacity(bytes); },
          py::arg("bytes"));
  DefHost(t, "stats", [](GpuAllocTest& h) { return StatsDict(h.alloc().stats()); });
  DefHost(t, "driver_calls", [](GpuAllocTest& h) {
    const gpu::FakeDriverCalls c = h.driver().calls();
    py::dict d;
    d["mallocs"] = c.mallocs;
    d["failed_mallocs"] = c.failed_mallocs;
    d["frees"] = c.frees;
    d["event_creates"] = c.event_creates;
    d["event_destroys"] = c.event_destroys;
    d["event_records"] = c.event_records;
    d["event_queries"] = c.event_queries;
    d["event_host_waits"] = c.event_host_waits;
    d["stream_waits"] = c.stream_waits;
    d["capture_queries"] = c.capture_queries;
    d["calls_while_capturing"] = c.calls_while_capturing;
    d["maps"] = c.maps;
    d["failed_maps"] = c.failed_maps;
    d["unmaps"] = c.unmaps;
    d["ranges"] = c.ranges;
    d["used"] = h.driver().used();
    return d;
  });
  DefHost(t, "fill", &GpuAllocTest::Fill, py::arg("stream"), py::arg("ptr"), py::arg("bytes"),
          py::arg("value"), py::arg("delay_ms") = 0.0,
          "Queues on the stream: sleep delay_ms, then memset(ptr, value, bytes).");
  DefHost(t, "snapshot", &GpuAllocTest::Snapshot, py::arg("stream"), py::arg("ptr"),
          py::arg("bytes"), py::arg("delay_ms") = 0.0,
          "Queues on the stream: sleep delay_ms, then copy the bytes; result(ticket) has them.");
  DefHost(t, "result", &GpuAllocTest::Result, py::arg("ticket"),
          py::call_guard<py::gil_scoped_release>(), "Waits for every stream, then the snapshot's bytes.");
  DefHost(t, "sync", [](GpuAllocTest& h, int s) { h.driver().Sync(h.stream(s)); }, py::arg("stream"),
          py::call_guard<py::gil_scoped_release>());
  DefHost(t, "sync_all", [](GpuAllocTest& h) { h.driver().SyncAll(); },
          py::call_guard<py::gil_scoped_release>());
  DefHost(t, "replay", [](GpuAllocTest& h, const std::vector<std::vector<int64_t>>& events, int s) {
    // [0, id, size]: allocate; [1, id]: free; [2, mark]: the stats now, into the result.
    const Stream stream = h.stream(s);
    std::unordered_map<int64_t, void*> live;
    py::list marks;
    for (const auto& e : events) {
      if (e.size() < 2) throw ValueError("_GpuAllocTest.replay: an event is [kind, id(, size)]");
      if (e[0] == 0) {
        if (e.size() < 3 || e[2] < 0) throw ValueError("_GpuAllocTest.replay: [0, id, size]");
        void* p = h.alloc().Malloc(static_cast<size_t>(e[2]), stream);
        if (p == nullptr) throw ValueError(Msg("_GpuAllocTest.replay: out of memory at allocation ", e[1]));
        if (!live.emplace(e[1], p).second) throw ValueError(Msg("_GpuAllocTest.replay: id ", e[1], " twice"));
      } else if (e[0] == 1) {
        auto it = live.find(e[1]);
        if (it == live.end()) throw ValueError(Msg("_GpuAllocTest.replay: free of unknown id ", e[1]));
        h.alloc().Free(it->second);
        live.erase(it);
      } else if (e[0] == 2) {
        marks.append(StatsDict(h.alloc().stats()));
      } else {
        throw ValueError(Msg("_GpuAllocTest.replay: unknown event kind ", e[0]));
      }
    }
    for (auto& [id, p] : live) h.alloc().Free(p);
    return marks;
  }, py::arg("events"), py::arg("stream") = 0,
     "Replays an allocation trace: [0, id, size] allocates, [1, id] frees, [2, n] appends the "
     "stats at that point to the returned list; what is still live at the end is freed.");
  DefHost(t, "device", [](std::shared_ptr<GpuAllocTest> h) -> std::shared_ptr<Device> {
    return std::make_shared<FakeGpuDevice>(std::move(h));
  }, "A host-memory Device (CPU kernels) whose memory comes from this allocator (null stream).");
}

}  // namespace singa
