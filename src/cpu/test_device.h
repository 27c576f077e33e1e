// A second host-memory device for tests: it proves that kernels reach the device of their
// tensors (math/kernels.h). It has its own id (-2, -3, ...: each Platform::CreateTestDevice
// makes a new one), its own allocator (plain aligned allocations, no cache) and its own
// kernel table, the CPU's kernels wrapped to count calls per family.
//
// With host_memory false the core must treat its memory as a device's: NumPy arrays are
// copied in and out instead of shared, and copies to and from other devices go through
// CopyToHost/CopyFromHost, the paths a GPU takes.
#pragma once

#include <array>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "math/kernels.h"

namespace singa {

class TestDevice : public Device {
 public:
  TestDevice(int id, bool host_memory);
  std::string name() const override { return "test-cpu"; }
  const KernelTable& kernels() const override { return table_; }
  bool host_memory() const override { return host_memory_; }
  // (family, calls) for every family, in table order.
  std::vector<std::pair<std::string, long>> kernel_calls() const override;
  void ResetKernelCalls() override;

 protected:
  void* Malloc(size_t size) override;
  void Free(void* ptr, size_t size) override;

 private:
  bool host_memory_;
  std::array<std::atomic<long>, static_cast<size_t>(KernelFamily::kCount)> calls_{};
  KernelTable table_;
};

}  // namespace singa
