#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

const KernelTable& Kernels() {
  static const KernelTable table = [] {
    KernelTable t;
#define SINGA_CPU_ENTRY(name, ...) family.name = impl::name;
#define SINGA_CPU_FAMILY(Family, member, LIST) \
  {                                            \
    auto& family = t.member;                   \
    namespace impl = ::singa::cpu::member;     \
    LIST(SINGA_CPU_ENTRY)                      \
  }
    SINGA_KERNEL_FAMILIES(SINGA_CPU_FAMILY)
#undef SINGA_CPU_FAMILY
#undef SINGA_CPU_ENTRY
    CheckKernelTable(t, "cpu");
    return t;
  }();
  return table;
}

}  // namespace cpu
}  // namespace singa
