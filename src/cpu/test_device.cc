#include "cpu/test_device.h"

#include <cstdlib>

#include "cpu/cpu_kernels.h"

namespace singa {

TestDevice::TestDevice(int id, bool host_memory)
    : Device(id, kCpp), host_memory_(host_memory), table_(cpu::Kernels()) {
  ForEachKernel(table_, [this](auto& entry, KernelFamily family, const std::string&) {
    std::atomic<long>* counter = &calls_[static_cast<size_t>(family)];
    entry = [inner = entry, counter](auto&&... args) {
      counter->fetch_add(1, std::memory_order_relaxed);
      return inner(std::forward<decltype(args)>(args)...);
    };
  });
  CheckKernelTable(table_, name());
}

std::vector<std::pair<std::string, long>> TestDevice::kernel_calls() const {
  std::vector<std::pair<std::string, long>> out;
  for (size_t i = 0; i < calls_.size(); ++i)
    out.emplace_back(KernelFamilyName(static_cast<KernelFamily>(i)), calls_[i].load());
  return out;
}

void TestDevice::ResetKernelCalls() {
  for (auto& c : calls_) c.store(0);
}

void* TestDevice::Malloc(size_t size) { return std::aligned_alloc(64, (size + 63) / 64 * 64); }

void TestDevice::Free(void* ptr, size_t) { std::free(ptr); }

}  // namespace singa
