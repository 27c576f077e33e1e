// The GPU device's caching allocator: device memory from a Driver (gpu/driver.h) in
// segments that are kept, split and merged, so a training step's allocations stop
// reaching the driver (cudaMalloc/cudaFree synchronise the device) after the first step.
//
// Sizes: a request is rounded up to a multiple of 512 bytes. Requests up to 1 MiB are
// small: they come from 2 MiB segments of the small pool. Larger ones come from the large
// pool: a segment of 20 MiB serves requests under 10 MiB, bigger requests get a segment of
// their size rounded up to 2 MiB. A request takes the smallest free block that fits
// (best fit), on its stream, and splits it when the rest is worth keeping (at least 512
// bytes in the small pool, more than 1 MiB in the large one); a freed block merges with
// its free neighbours in the segment.
//
// Streams: every block belongs to the stream it was allocated on, and a freed block is
// reused only by allocations on that stream, at once: the stream's order puts the new
// user's work after the old user's. A block that other streams used as well must be
// named with RecordStream(ptr, other) before it is freed: Free then records an event on
// each such stream and the block is reused only once every event has completed.
//
// Expandable segments (an option, where the driver maps memory into reserved address
// ranges, Driver::MapGranularity): the ordinary large pool of each stream is then one
// address range, as large as the device's memory, whose end is backed by memory on
// demand (in the driver's granularity, 2 MiB for CUDA). A request that no free block fits
// grows the range's last block (or adds one after it), so every large block of the
// stream can merge with every neighbour: memory freed by one layer serves any size the
// next needs, where plain segments keep it in pieces of 20 MiB that cannot merge. Emptying
// the cache unmaps the free end. Driver mallocs count maps, driver frees count unmaps.
// The small pool and the capture pools keep plain segments.
//
// Out of memory: when the driver has no room for a new segment, the allocator waits for
// the pending events, gives every wholly free cached segment back to the driver and
// tries again (then with a segment of exactly the request's size; with expandable
// segments it unmaps every free end and maps again); when that fails too, Malloc
// returns nullptr (the device raises MemoryError).
//
// CUDA graph capture, the rule: BeginCapture(stream) opens a private pool for that
// stream (or reopens one given by id, so graphs can share it); until EndCapture(stream)
// every allocation on the stream comes from that pool. A block of the pool, when freed,
// during the capture or after it, goes back to the pool and is reused only by later
// allocations made while capturing into that pool: the addresses baked into a captured
// graph are never handed to anyone else while the graph may replay. So a pool that has
// memory (a second capture of the same graph into its pool) makes no driver call at all
// during the capture. ReleasePool(id) says no graph of the pool will replay again: each
// of its segments joins the ordinary cache once all its blocks are free. While any
// capture is open the allocator queries no events and frees no memory (cudaEventQuery
// and cudaFree are not allowed during capture): frees that need events wait for the end
// of the last capture, EmptyCache and the cache limit free nothing, and the out-of-memory
// path returns nullptr without emptying the cache. An allocation on a stream that the
// driver reports capturing, without BeginCapture, throws std::logic_error when it would
// need the driver.
//
// Thread-safe: one mutex guards everything, driver calls included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gpu/driver.h"

namespace singa {
namespace gpu {

struct AllocatorStats {
  size_t allocated = 0;      // bytes of blocks handed out (rounded sizes, unsplit rests included)
  size_t max_allocated = 0;
  size_t requested = 0;      // bytes the callers asked for
  size_t max_requested = 0;
  size_t reserved = 0;       // bytes of segments taken from the driver
  size_t max_reserved = 0;
  size_t cached = 0;         // reserved - allocated: free (or awaiting events) for reuse
  size_t segments = 0;
  size_t active_blocks = 0;
  uint64_t driver_mallocs = 0;  // successful Driver::Malloc calls
  uint64_t driver_frees = 0;
  uint64_t driver_failed_mallocs = 0;  // Driver::Malloc returned nullptr
  uint64_t cache_flushes = 0;          // out-of-memory retries that emptied the cache
  uint64_t ooms = 0;                   // Malloc returned nullptr
};

class CachingAllocator {
 public:
  using PoolId = uint64_t;  // 0: none

  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallSize = 1 << 20;     // largest small request
  static constexpr size_t kSmallBuffer = 2 << 20;   // small pool segment
  static constexpr size_t kMinLargeAlloc = 10 << 20;
  static constexpr size_t kLargeBuffer = 20 << 20;  // large pool segment for < kMinLargeAlloc
  static constexpr size_t kRoundLarge = 2 << 20;

  // The driver must outlive the allocator. `expandable_segments`: see above (ignored
  // when the driver cannot map memory).
  explicit CachingAllocator(Driver* driver, bool expandable_segments = false);
  ~CachingAllocator();  // gives every segment back to the driver
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // `bytes` (0 is served as 512) for work on `stream`; nullptr when even an empty cache
  // leaves the driver without room.
  void* Malloc(size_t bytes, Stream stream);
  // `ptr` from Malloc; std::invalid_argument for anything else.
  void Free(void* ptr);
  // Marks that work on `stream` uses the block of `ptr` too (see above).
  void RecordStream(void* ptr, Stream stream);

  // Whether the large pools are expandable segments.
  bool expandable_segments() const { return granularity_ != 0; }

  // Free bytes kept for reuse (reserved - allocated).
  size_t cached() const;
  size_t reserved() const;
  size_t allocated() const;
  AllocatorStats stats() const;
  // Sets the peaks to the current values.
  void ResetPeak();
  // Waits for the pending events and gives every wholly free segment back to the driver.
  void EmptyCache();
  // The most free bytes kept: past it, a free gives wholly free segments back until it
  // is under the limit again. Unlimited by default.
  void SetCacheLimit(size_t bytes);

  // Graph capture (see above). BeginCapture returns the pool's id: a new pool when
  // `pool` is 0, else that pool (std::invalid_argument when it is unknown or released).
  // One capture per stream at a time (std::logic_error otherwise).
  PoolId BeginCapture(Stream stream, PoolId pool = 0);
  void EndCapture(Stream stream);
  void ReleasePool(PoolId pool);
  // Bytes of segments a pool holds (0 once it is gone).
  size_t pool_reserved(PoolId pool) const;

 private:
  struct Pool;
  struct Block {
    Stream stream = nullptr;
    size_t size = 0;
    size_t requested = 0;
    char* ptr = nullptr;
    bool allocated = false;
    bool in_pool = false;   // in its pool's free_blocks (free, no events pending)
    bool expandable = false;  // in a stream's expandable segment
    Block* prev = nullptr;  // neighbours within the segment
    Block* next = nullptr;
    Pool* pool = nullptr;
    std::vector<Stream> stream_uses;  // other streams that used it (RecordStream)
    int event_count = 0;              // events still pending after its free
  };
  struct BlockLess {
    bool operator()(const Block* a, const Block* b) const;
  };
  struct Pool {
    bool small = false;
    PoolId owner = 0;  // 0: the ordinary cache, else a private (capture) pool
    std::set<Block*, BlockLess> free_blocks;
  };
  struct PrivatePool {
    Pool small, large;
    size_t reserved = 0;
    int captures = 0;  // open captures into it
    bool released = false;
  };

  struct Expandable {
    Driver::Range range;
    size_t mapped = 0;      // bytes backed by memory, from range.base
    Block* head = nullptr;  // the block at range.base (nullptr when nothing is mapped)
  };

  Pool& PoolFor(size_t size, Stream stream);
  Block* Grow(Pool& pool, size_t size, Stream stream);  // expandable segments
  void Shrink(Expandable& x, size_t keep);              // unmaps its free end
  Block* TakeFree(Pool& pool, size_t size, Stream stream);
  Block* NewSegment(Pool& pool, size_t size, Stream stream);
  void* DriverMalloc(size_t bytes, Stream stream);
  Block* Split(Block* block, size_t size);
  void FreeBlock(Block* block);  // back into its pool, merged
  void InsertEvents(Block* block);
  void ProcessEvents();
  void SynchronizeEvents();
  void ReleaseSegment(Block* block);  // a wholly free segment, to the driver
  void ReleaseCached(size_t keep);    // while cached > keep
  void RetireIfReleased(Block* block);  // a wholly free segment of a released private pool
  void TrimToLimit();
  Block* Lookup(void* ptr, const char* fn) const;
  void Allocated(Block* block, size_t requested);

  mutable std::mutex mu_;
  Driver* driver_;
  Pool small_, large_;
  std::unordered_map<void*, Block*> active_;          // allocated blocks by address
  std::vector<std::pair<Event, Block*>> pending_;     // events after frees (RecordStream)
  std::vector<Block*> deferred_;                      // frees that need events, after capture
  std::vector<Event> spare_events_;
  std::map<Stream, PoolId> capturing_;                // open captures: stream -> pool
  std::map<PoolId, std::unique_ptr<PrivatePool>> private_;
  size_t granularity_ = 0;                            // 0: plain segments
  std::map<Stream, Expandable> expandable_;
  PoolId next_pool_ = 1;
  size_t limit_ = SIZE_MAX;
  AllocatorStats st_;
};

}  // namespace gpu
}  // namespace singa
