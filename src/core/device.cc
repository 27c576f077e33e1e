#include "core/device.h"

#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "core/graph.h"
#include "core/time_profile.h"
#include "cpu/cpu_device.h"
#include "cpu/test_device.h"

namespace singa {

namespace {
// An allocation a device cannot serve: pybind11 raises MemoryError with what(), which
// names the bytes and the device (a plain std::bad_alloc says neither).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};
}  // namespace

Block::Block(void* ptr, size_t size, std::shared_ptr<Device> owner, std::function<void()> release)
    : ptr_(ptr), size_(size), owner_(std::move(owner)), release_(std::move(release)) {}

Block::~Block() {
  if (release_) {
    release_();
  } else if (owner_ != nullptr) {
    owner_->Released(ptr_, size_);  // first: once freed, another thread may get ptr_ again
    owner_->Free(ptr_, size_);
  }
}

void Block::ReleaseData() {
  if (release_ || ptr_ == nullptr) return;  // borrowed memory is never freed here
  if (owner_ != nullptr) {
    owner_->Released(ptr_, size_);  // first: once freed, another thread may get ptr_ again
    owner_->Free(ptr_, size_);
  }
  ptr_ = nullptr;
  size_ = 0;
  layout_ = MemLayout{};
  blocked_.store(false, std::memory_order_release);
}

namespace {
// One lock for every conversion: they are rare (a blocked tensor read as plain once) and
// short next to the kernels around them.
std::mutex& ConversionMutex() {
  static std::mutex mu;
  return mu;
}
}  // namespace

void* Block::InstallBlocked(size_t bytes, const MemLayout& layout) {
  if (release_ || owner_ == nullptr)
    throw ValueError("Block.InstallBlocked: borrowed memory cannot change its layout");
  std::shared_ptr<Block> fresh = owner_->NewBlock(bytes);
  std::lock_guard<std::mutex> lock(ConversionMutex());
  SwapData(*fresh);  // `fresh` now holds the old memory and frees it when it goes
  layout_ = layout;
  blocked_.store(!layout.plain(), std::memory_order_release);
  return ptr_;
}

void Block::MarkLayout(const MemLayout& layout) {
  if (release_ || layout.to_plain == nullptr || size_ < layout.plain_bytes())
    throw ValueError(Msg("Block.MarkLayout: a block of ", size_,
                         " bytes cannot hold that layout"));
  std::lock_guard<std::mutex> lock(ConversionMutex());
  layout_ = layout;
  blocked_.store(!layout.plain(), std::memory_order_release);
}

void Block::MakePlain() {
  if (!blocked()) return;
  std::lock_guard<std::mutex> lock(ConversionMutex());
  if (!blocked()) return;  // another thread converted it meanwhile
  std::shared_ptr<Block> plain = owner_->NewBlock(layout_.plain_bytes());
  layout_.to_plain(layout_, ptr_, plain->ptr_);
  std::swap(ptr_, plain->ptr_);
  std::swap(size_, plain->size_);
  layout_ = MemLayout{};
  blocked_.store(false, std::memory_order_release);
}

void Device::CopyToHost(void* dst, const void* src, size_t bytes) const {
  if (bytes) std::memcpy(dst, src, bytes);
}

void Device::CopyFromHost(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}

void Device::BeginCapture(uint64_t*) {
  throw DeviceError(Msg("device ", name(), " (id ", id(), ") cannot capture queued work"));
}

std::unique_ptr<CapturedWork> Device::EndCapture(std::string* why) {
  *why = Msg("device ", name(), " cannot capture queued work");
  return nullptr;
}

std::shared_ptr<Block> Device::NewBlock(size_t size) {
  void* ptr = size ? Malloc(size) : nullptr;
  if (size && ptr == nullptr)
    throw OutOfMemory(Msg("cannot allocate ", size, " bytes on device ", name(), " (id ", id(),
                          "): out of memory"));
  if (tracing_.load(std::memory_order_relaxed)) TraceAlloc(ptr, size);
  size_t now = in_use_.fetch_add(size) + size;
  size_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  return std::make_shared<Block>(ptr, size, shared_from_this());
}

std::shared_ptr<Block> Device::BorrowBlock(void* ptr, size_t size, std::function<void()> release) {
  if (!release) release = [] {};
  return std::make_shared<Block>(ptr, size, shared_from_this(), std::move(release));
}

void Device::Released(void* ptr, size_t size) {
  if (tracing_.load(std::memory_order_relaxed)) TraceRelease(ptr, size);
  in_use_.fetch_sub(size);
}

void Device::TraceAlloc(void* ptr, size_t size) {
  if (ptr == nullptr) return;  // an empty block
  std::lock_guard<std::mutex> lock(trace_.mu);
  if (!tracing_.load(std::memory_order_relaxed)) return;
  const uint64_t id = trace_.next_id++;
  trace_.live[ptr] = id;
  trace_.events.push_back({'a', id, size});
}

void Device::TraceRelease(void* ptr, size_t size) {
  std::lock_guard<std::mutex> lock(trace_.mu);
  if (!tracing_.load(std::memory_order_relaxed)) return;
  auto it = trace_.live.find(ptr);
  if (it == trace_.live.end()) return;  // allocated before the trace started
  trace_.events.push_back({'f', it->second, size});
  trace_.live.erase(it);
}

void Device::StartAllocTrace() {
  std::lock_guard<std::mutex> lock(trace_.mu);
  trace_.events.clear();
  trace_.live.clear();
  trace_.next_id = trace_.marks = 0;
  tracing_.store(true, std::memory_order_relaxed);
}

void Device::MarkAllocTrace() {
  std::lock_guard<std::mutex> lock(trace_.mu);
  if (tracing_.load(std::memory_order_relaxed)) trace_.events.push_back({'s', trace_.marks++, 0});
}

std::vector<Device::AllocEvent> Device::StopAllocTrace() {
  std::lock_guard<std::mutex> lock(trace_.mu);
  tracing_.store(false, std::memory_order_relaxed);
  std::vector<AllocEvent> out;
  out.swap(trace_.events);
  trace_.live.clear();
  return out;
}

void Device::SetRandSeed(uint64_t seed) {
  seed_ = seed;
  counter_.store(0);
}

void Device::SetVerbosity(int v) {
  if (v < 0 || v > 2)
    throw ValueError(Msg("Device.SetVerbosity(", v, "): verbosity must be 0 (no timing), 1 (mean "
                         "time per kernel type) or 2 (mean time per graph node)"));
  verbosity_.store(v, std::memory_order_relaxed);
}

void Device::SetSkipIteration(int skip) {
  if (skip < 0)
    throw ValueError(Msg("Device.SetSkipIteration(", skip,
                         "): the number of iterations to skip cannot be negative"));
  skip_.store(skip, std::memory_order_relaxed);
}

void Device::AddTimedGraph(std::weak_ptr<Graph> graph) {
  std::lock_guard<std::mutex> lock(timed_mu_);
  timed_graphs_.push_back(std::move(graph));
}

std::string Device::TimeProfile() {
  const int v = verbosity();
  if (v == 0) return "";
  std::vector<GraphTimes> times;
  {
    std::lock_guard<std::mutex> lock(timed_mu_);
    size_t kept = 0;
    for (auto& weak : timed_graphs_) {
      auto g = weak.lock();
      if (!g) continue;  // its model let go of it
      times.push_back(g->times());
      if (&timed_graphs_[kept] != &weak) timed_graphs_[kept] = std::move(weak);
      ++kept;
    }
    timed_graphs_.resize(kept);
  }
  return FormatTimeProfile(name(), v, skip_iteration(), times);
}

std::shared_ptr<Device> Platform::GetDefaultDevice() {
  // Never destroyed: tensors held by Python objects may outlive static destruction.
  static auto* cpu = new std::shared_ptr<Device>(std::make_shared<CppCPU>());
  return *cpu;
}

bool Platform::UsesCuda() {
#ifdef USE_CUDA
  return true;
#else
  return false;
#endif
}

#ifndef USE_CUDA
// A CPU-only build; src/cuda/platform_cuda.cc defines these in a CUDA build.
namespace {
const char* kNoCudaBuild =
    "this singa was built without CUDA (USE_CUDA is False); a CUDA device needs a build "
    "with -DSINGA_USE_CUDA=ON (pip install \".[cuda]\" -C cmake.define.SINGA_USE_CUDA=ON)";
}

int Platform::GetNumGPUs() { return 0; }

std::string Platform::GpuUnavailableReason() { return kNoCudaBuild; }

std::shared_ptr<Device> Platform::CreateCudaGPU(int id) {
  throw DeviceError(Msg("create_cuda_gpu(", id, "): ", kNoCudaBuild));
}

std::pair<size_t, size_t> Platform::GetGPUMemSize(int id) {
  throw DeviceError(Msg("get_gpu_mem_size(", id, "): ", kNoCudaBuild));
}

std::string Platform::DeviceQuery(int id, bool) {
  throw DeviceError(Msg("device_query(", id, "): ", kNoCudaBuild));
}
#endif

std::shared_ptr<Device> Platform::CreateTestDevice(bool host_memory) {
  static std::atomic<int> next_id{-2};
  return std::make_shared<TestDevice>(next_id.fetch_sub(1), host_memory);
}

}  // namespace singa
