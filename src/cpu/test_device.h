// A second host-memory device for tests: it proves that kernels reach the device of their
// tensors (math/kernels.h). It has its own id (-2, -3, ...: each Platform::CreateTestDevice
// makes a new one), its own allocator (plain aligned allocations, no cache) and its own
// kernel table, the CPU's kernels wrapped to count calls per family.
//
// With host_memory false the core must treat its memory as a device's: NumPy arrays are
// copied in and out instead of shared, and copies to and from other devices go through
// CopyToHost/CopyFromHost, the paths a GPU takes.
//
// Such a device can also capture queued work as a GPU's stream does for CUDA graphs
// (core/capture.h), so graph mode's capture path runs without a GPU. While capturing, a
// kernel call does not run: it is kept with views of its operands at their addresses of
// that moment (not their blocks), and launching the work runs the kept calls on those
// addresses. Memory allocated while capturing comes from the capture's pool, reused only
// by later captures into it, until the pool is released. What a GPU cannot capture fails
// the capture: a kernel that returns a value to the host, a copy to or from the host,
// an operand in a channel-blocked layout.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
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

  bool can_capture() const override { return !host_memory_; }
  void BeginCapture(uint64_t* pool) override;
  std::unique_ptr<CapturedWork> EndCapture(std::string* why) override;
  void ReleaseCapturePool(uint64_t pool) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) const override;
  void CopyFromHost(void* dst, const void* src, size_t bytes) override;

 protected:
  void* Malloc(size_t size) override;
  void Free(void* ptr, size_t size) override;

 private:
  // Keeps a kernel call for the open capture (see the top of this file).
  template <typename F, typename... A>
  void Keep(const F& kernel, std::atomic<long>* calls, const A&... args);
  void FailCapture(const std::string& why) const;

  bool host_memory_;
  mutable std::mutex mu_;  // the capture state and the pools
  std::atomic<bool> capturing_{false};
  mutable std::string capture_error_;
  std::vector<std::function<void()>> kept_;
  uint64_t capture_pool_ = 0, next_pool_ = 1;
  struct Pool {
    std::multimap<size_t, void*> free;  // by size: blocks a later capture may reuse
    bool released = false;
  };
  std::unordered_map<uint64_t, Pool> pools_;
  std::unordered_map<void*, uint64_t> pool_of_;  // memory allocated while capturing
  std::array<std::atomic<long>, static_cast<size_t>(KernelFamily::kCount)> calls_{};
  KernelTable table_;
};

}  // namespace singa
