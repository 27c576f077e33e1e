#include "math/kernels.h"

#include <stdexcept>

namespace singa {

const char* KernelFamilyName(KernelFamily family) {
  switch (family) {
#define SINGA_FAMILY_NAME(Family, member, LIST) \
  case KernelFamily::k##Family:                 \
    return #member;
    SINGA_KERNEL_FAMILIES(SINGA_FAMILY_NAME)
#undef SINGA_FAMILY_NAME
    case KernelFamily::kCount:
      break;
  }
  return "unknown";
}

void CheckKernelTable(KernelTable& table, const std::string& device) {
  ForEachKernel(table, [&](const auto& entry, KernelFamily, const std::string& name) {
    if (!entry)
      throw std::logic_error("the kernel table of device " + device + " has no " + name +
                             " kernel");
  });
}

}  // namespace singa
