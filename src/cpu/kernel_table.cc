#include "cpu/cpu_kernels.h"

#include <utility>

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

// A kernel called so that it returns with the upper halves of the vector registers cleared
// (ClearUpperHalves, cpu/isa.h), for the AVX copies of a portable build. Measured on the
// tiny-MLP graph step (2-core Sapphire Rapids): the avx2 and avx512 copies took 23-25 us
// without it, 21-22 us with it, as the baseline copy and the native build do.
template <auto F>
struct UpperCleared;
template <typename R, typename... A, R (*F)(A...)>
struct UpperCleared<F> {
  static R Call(A... a) {
    struct Clear {
      ~Clear() { ClearUpperHalves(); }
    } clear;
    return F(std::forward<A>(a)...);
  }
};

// Fills t's versioned families from one variant's copies; the namespace alias `variant`
// names the copy.
#define SINGA_CPU_VARIANT_ENTRY(name, ...) \
  family.name = clear_upper ? &UpperCleared<&impl::name>::Call : impl::name;
#define SINGA_CPU_VARIANT_FAMILY(Family, member, LIST) \
  {                                                    \
    auto& family = t.member;                           \
    namespace impl = variant::member;                  \
    LIST(SINGA_CPU_VARIANT_ENTRY)                      \
  }
#define SINGA_CPU_FILL_VARIANT(name, level)                                   \
  void Fill_##name(KernelTable& t) {                                          \
    namespace variant = ::singa::cpu::name;                                   \
    const bool clear_upper = PortableBuild() && (level) != CpuIsa::kBaseline; \
    SINGA_CPU_VERSIONED_FAMILIES(SINGA_CPU_VARIANT_FAMILY)                    \
  }
SINGA_CPU_ISA_VARIANTS(SINGA_CPU_FILL_VARIANT)
#undef SINGA_CPU_FILL_VARIANT
#undef SINGA_CPU_VARIANT_FAMILY
#undef SINGA_CPU_VARIANT_ENTRY

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
