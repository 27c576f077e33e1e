// The CPU device: host memory from the caching allocator and the CPU kernel table.
#pragma once

#include <string>

#include "core/allocator.h"
#include "core/device.h"

namespace singa {

class CppCPU : public Device {
 public:
  CppCPU();
  std::string name() const override { return "cpu"; }
  const KernelTable& kernels() const override;
  size_t cached_bytes() const override { return alloc_.cached_bytes(); }
  void EmptyCache() override { alloc_.EmptyCache(); }
  void SetCacheLimit(size_t bytes) override { alloc_.SetCacheLimit(bytes); }

 protected:
  void* Malloc(size_t size) override { return alloc_.Malloc(size); }
  void Free(void* ptr, size_t size) override { alloc_.Free(ptr, size); }

 private:
  CachingHostAllocator alloc_;
};

}  // namespace singa
