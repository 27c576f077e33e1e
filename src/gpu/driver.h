// What the GPU caching allocator (gpu/caching_allocator.h) needs of a GPU runtime: device
// memory, events, and whether a stream is capturing a CUDA graph. The CUDA device plugs
// in the CUDA runtime (cuda/runtime_driver.h); tests plug in host memory with worker-thread
// streams (gpu/fake_driver.h). Plain C++: compiled in every build.
#pragma once

#include <cstddef>

namespace singa {
namespace gpu {

// Opaque handles: a cudaStream_t / cudaEvent_t for the CUDA runtime. The null stream is
// a valid stream (CUDA's legacy default stream).
using Stream = void*;
using Event = void*;

class Driver {
 public:
  virtual ~Driver() = default;

  // `bytes` of device memory (at least 256-byte aligned), or nullptr when the device has
  // no room for them (no error left pending). Any other failure throws.
  virtual void* Malloc(size_t bytes) = 0;
  // Gives memory from Malloc back. May be called with work still queued that uses it:
  // like cudaFree, it waits for the device first.
  virtual void Free(void* ptr) = 0;

  // Events without timing. Record marks the point of `stream`'s queue reached so far;
  // Query says whether the work before that point has run (true for an event never
  // recorded); HostWait blocks the calling thread until it has; StreamWait makes work
  // queued on `stream` later wait for it.
  virtual Event CreateEvent() = 0;
  virtual void DestroyEvent(Event event) = 0;
  virtual void RecordEvent(Event event, Stream stream) = 0;
  virtual bool QueryEvent(Event event) = 0;
  virtual void HostWaitEvent(Event event) = 0;
  virtual void StreamWaitEvent(Stream stream, Event event) = 0;

  // Whether `stream` is capturing a CUDA graph now (cudaStreamIsCapturing).
  virtual bool IsCapturing(Stream stream) = 0;

  // ---- virtual memory, optional (the allocator's expandable segments) ----
  // Map's granularity in bytes; 0 when the driver cannot map memory into reserved
  // address ranges (the allocator then uses plain segments from Malloc).
  virtual size_t MapGranularity() { return 0; }
  // An address range with no memory behind it, as large as the device's memory (a
  // multiple of the granularity); {nullptr, 0} when none can be reserved.
  struct Range {
    void* base = nullptr;
    size_t bytes = 0;
  };
  virtual Range ReserveRange() { return {}; }
  virtual void ReleaseRange(Range) {}
  // Backs [addr, addr + bytes) of a reserved range with device memory (`addr` and `bytes`
  // multiples of the granularity); false when the device has no room.
  virtual bool Map(void* /*addr*/, size_t /*bytes*/) { return false; }
  // Gives the memory behind [addr, addr + bytes) back; waits for the device first, as Free.
  virtual void Unmap(void* /*addr*/, size_t /*bytes*/) {}
};

}  // namespace gpu
}  // namespace singa
