#include "cpu/cpu_kernels.h"

namespace singa {
namespace cpu {

namespace {

#define SINGA_CPU_COUNT_FAMILY(Family, member, LIST) +1
static_assert(0 SINGA_CPU_VERSIONED_FAMILIES(SINGA_CPU_COUNT_FAMILY)
                  SINGA_CPU_PLAIN_FAMILIES(SINGA_CPU_COUNT_FAMILY) ==
                  static_cast<int>(KernelFamily::kCount),
              "every kernel family is either versioned or plain (cpu_kernels.h)");
#undef SINGA_CPU_COUNT_FAMILY

#define SINGA_CPU_ENTRY(name, ...) family.name = impl::name;

// Fills t's versioned families from one variant's copies; the namespace alias `variant`
// names the copy.
#define SINGA_CPU_VARIANT_FAMILY(Family, member, LIST) \
  {                                                    \
    auto& family = t.member;                           \
    namespace impl = variant::member;                  \
    LIST(SINGA_CPU_ENTRY)                              \
  }
#define SINGA_CPU_FILL_VARIANT(name, level)              \
  void Fill_##name(KernelTable& t) {                     \
    namespace variant = ::singa::cpu::name;              \
    SINGA_CPU_VERSIONED_FAMILIES(SINGA_CPU_VARIANT_FAMILY) \
  }
SINGA_CPU_ISA_VARIANTS(SINGA_CPU_FILL_VARIANT)
#undef SINGA_CPU_FILL_VARIANT
#undef SINGA_CPU_VARIANT_FAMILY

}  // namespace

const KernelTable& Kernels() {
  static const KernelTable table = [] {
    KernelTable t;
#define SINGA_CPU_FAMILY(Family, member, LIST) \
  {                                            \
    auto& family = t.member;                   \
    namespace impl = ::singa::cpu::member;     \
    LIST(SINGA_CPU_ENTRY)                      \
  }
    SINGA_CPU_PLAIN_FAMILIES(SINGA_CPU_FAMILY)
#undef SINGA_CPU_FAMILY
#define SINGA_CPU_FILL_POINTER(name, level) &Fill_##name,
    void (*const fills[])(KernelTable&) = {SINGA_CPU_ISA_VARIANTS(SINGA_CPU_FILL_POINTER)};
    fills[CpuIsaVariantIndex()](t);
#undef SINGA_CPU_FILL_POINTER
    CheckKernelTable(t, "cpu");
    return t;
  }();
  return table;
}

#undef SINGA_CPU_ENTRY

std::vector<std::pair<std::string, CpuIsa>> VersionedFamilyIsas() {
  std::vector<std::pair<std::string, CpuIsa>> out;
#define SINGA_CPU_FAMILY_ISA(Family, member, LIST) out.emplace_back(#member, KernelCpuIsa());
  SINGA_CPU_VERSIONED_FAMILIES(SINGA_CPU_FAMILY_ISA)
#undef SINGA_CPU_FAMILY_ISA
  return out;
}

}  // namespace cpu
}  // namespace singa
