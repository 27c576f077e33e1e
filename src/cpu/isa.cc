#include "cpu/isa.h"

#include "core/config.h"

namespace singa {

namespace {

struct Selection {
  CpuIsa isa;
  std::string note;
};

bool Parse(const std::string& name, CpuIsa* isa) {
  for (CpuIsa level : {CpuIsa::kBaseline, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (name == CpuIsaName(level)) {
      *isa = level;
      return true;
    }
  }
  return false;
}

Selection Select() {
  const CpuIsa best = DetectedCpuIsa();
  const std::string request = ConfigString("SINGA_CPU_ISA");
  if (request == "auto") return {PortableBuild() ? best : KernelCpuIsa(), ""};
  if (!PortableBuild())
    return {KernelCpuIsa(), "SINGA_CPU_ISA=" + request +
                                " ignored: a native build has one copy of each kernel, compiled "
                                "for the building machine (build with SINGA_NATIVE=OFF to choose)"};
  CpuIsa wanted;
  if (!Parse(request, &wanted))
    return {best, "unknown SINGA_CPU_ISA value '" + request +
                      "' (auto, avx512, avx2 or baseline); using auto"};
  if (static_cast<int>(wanted) > static_cast<int>(best))
    return {best, "SINGA_CPU_ISA=" + request + " ignored: this CPU supports at most " +
                      CpuIsaName(best)};
  return {wanted, ""};
}

const Selection& TheSelection() {
  static const Selection selection = Select();
  return selection;
}

}  // namespace

const char* CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kBaseline: return "baseline";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "baseline";
}

CpuIsa DetectedCpuIsa() {
  // libgcc's cpuid reader also checks (XGETBV) that the OS saves the YMM / ZMM state.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi") &&
                    __builtin_cpu_supports("bmi2");
  if (!avx2) return CpuIsa::kBaseline;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  return avx512 ? CpuIsa::kAvx512 : CpuIsa::kAvx2;
}

CpuIsa SelectedCpuIsa() { return TheSelection().isa; }

const std::string& CpuIsaNote() { return TheSelection().note; }

bool PortableBuild() {
#if defined(SINGA_PORTABLE_BUILD)
  return true;
#else
  return false;
#endif
}

CpuIsa KernelCpuIsa() {
  if (PortableBuild()) return SelectedCpuIsa();
  // This file is compiled with the build's flags, so the macros are the native level.
  return static_cast<CpuIsa>(SINGA_ISA_LEVEL);
}

}  // namespace singa
