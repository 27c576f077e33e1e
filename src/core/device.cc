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

void* CppCPU::Malloc(size_t size) {
  // Large blocks are mmap-ed fresh by malloc and page-faulted on first touch, one 4 KiB
  // page at a time; asking for transparent huge pages (as NumPy does from 4 MiB) cuts
  // those faults 512-fold, which is most of the cost of a large element-wise op.
  constexpr size_t kHuge = size_t{2} << 20;
  if (size >= 2 * kHuge) {
    size_t rounded = (size + kHuge - 1) / kHuge * kHuge;
    void* p = std::aligned_alloc(kHuge, rounded);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
  }
  size_t rounded = (size + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded);
}

void CppCPU::Free(void* ptr, size_t) { std::free(ptr); }

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
