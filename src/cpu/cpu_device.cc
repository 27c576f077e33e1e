#include "cpu/cpu_device.h"

#include "core/config.h"
#include "cpu/cpu_kernels.h"

namespace singa {

CppCPU::CppCPU()
    : Device(-1, kCpp), alloc_(static_cast<size_t>(ConfigUnsigned("SINGA_CPU_CACHE_MB")) << 20) {}

const KernelTable& CppCPU::kernels() const { return cpu::Kernels(); }

}  // namespace singa
