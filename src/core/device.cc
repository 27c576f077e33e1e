#include "core/device.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace singa {

Block::Block(void* ptr, size_t size, Device* owner, std::function<void()> release)
    : ptr_(ptr), size_(size), owner_(owner), release_(std::move(release)) {}

Block::~Block() {
  if (release_) {
    release_();
  } else if (owner_ != nullptr) {
    owner_->Free(ptr_, size_);
    owner_->Released(size_);
  }
}

std::shared_ptr<Block> Device::NewBlock(size_t size, bool zero) {
  void* ptr = size ? Malloc(size) : nullptr;
  if (size && ptr == nullptr)
    throw std::bad_alloc();
  if (zero && size) std::memset(ptr, 0, size);
  size_t now = in_use_.fetch_add(size) + size;
  size_t peak = peak_.load();
  while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
  }
  return std::make_shared<Block>(ptr, size, this);
}

std::shared_ptr<Block> Device::BorrowBlock(void* ptr, size_t size, std::function<void()> release) {
  if (!release) release = [] {};
  return std::make_shared<Block>(ptr, size, this, std::move(release));
}

void Device::Released(size_t size) { in_use_.fetch_sub(size); }

void Device::SetRandSeed(uint64_t seed) {
  seed_ = seed;
  counter_.store(0);
}

namespace {

constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kMinCached = size_t{64} << 10;

// The size actually allocated for a request: blocks from 4 MiB are whole 2 MiB huge
// pages, cached sizes whole 4 KiB pages, others whole cache lines.
size_t RoundedSize(size_t size) {
  if (size >= 2 * kHuge) return (size + kHuge - 1) / kHuge * kHuge;
  if (size >= kMinCached) return (size + 4095) / 4096 * 4096;
  return (size + 63) / 64 * 64;
}

size_t DefaultCacheLimit() {
  // SINGA_CPU_CACHE_MB overrides the default of 2 GiB; 0 disables the cache.
  const char* env = std::getenv("SINGA_CPU_CACHE_MB");
  if (env != nullptr && *env != '\0') return static_cast<size_t>(std::strtoull(env, nullptr, 10)) << 20;
  return size_t{2} << 30;
}

}  // namespace

CppCPU::CppCPU() : Device(-1, kCpp), limit_(DefaultCacheLimit()) {}

void* CppCPU::Malloc(size_t size) {
  const size_t rounded = RoundedSize(size);
  if (rounded >= kMinCached) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(rounded);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= rounded;
      return p;
    }
  }
  // Large blocks are mmap-ed fresh by malloc and page-faulted on first touch, one 4 KiB
  // page at a time; asking for transparent huge pages (as NumPy does from 4 MiB) cuts
  // those faults 512-fold.
  if (rounded >= 2 * kHuge) {
    void* p = std::aligned_alloc(kHuge, rounded);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
  }
  return std::aligned_alloc(64, rounded);
}

void CppCPU::Free(void* ptr, size_t size) {
  const size_t rounded = RoundedSize(size);
  if (ptr != nullptr && rounded >= kMinCached) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cached_ + rounded <= limit_) {
      free_[rounded].push_back(ptr);
      cached_ += rounded;
      return;
    }
  }
  std::free(ptr);
}

size_t CppCPU::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

void CppCPU::EmptyCache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& kv : free_)
    for (void* p : kv.second) std::free(p);
  free_.clear();
  cached_ = 0;
}

void CppCPU::SetCacheLimit(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    limit_ = bytes;
    if (cached_ <= limit_) return;
  }
  EmptyCache();
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

int Platform::GetNumGPUs() { return 0; }

std::shared_ptr<Device> Platform::CreateCudaGPU(int id) {
  throw DeviceError(Msg("create_cuda_gpu(", id,
                        "): this singa was built without CUDA (USE_CUDA is False); "
                        "rebuild with -DSINGA_USE_CUDA=ON on a machine with the CUDA toolkit"));
}

}  // namespace singa
