// Runtime choice of instruction set for singa's own CPU kernels.
//
// A native build (SINGA_NATIVE=ON, -march=native) compiles every kernel once, for the
// building machine. A portable build (SINGA_NATIVE=OFF, what a wheel is) must run on any
// x86-64 CPU yet keep the speed of wide vectors where the CPU has them, so the files
// listed in CMakeLists.txt's SINGA_ISA_VERSIONED_SOURCES are compiled once per ISA level
// of SINGA_CPU_ISA_VARIANTS: the file itself is the baseline copy, and CMake compiles it
// again with SINGA_ISA_VARIANT_AVX2 or SINGA_ISA_VARIANT_AVX512 defined. Each copy puts
// its code in a namespace of its own (SINGA_ISA_NS) between SINGA_ISA_BEGIN and
// SINGA_ISA_END, which turn on that level's instructions for the functions defined
// there. The kernel table (kernel_table.cc) and the few free functions with a copy per
// level pick one copy when they are first used, from SelectedCpuIsa().
//
// Why target pragmas around the code instead of -mavx2 on the whole file: inline
// functions from headers (the standard library's, Tensor's) would then be compiled with
// AVX2 too, and the linker keeps one copy of each, possibly the AVX2 one, which the
// baseline code would call on a CPU without AVX2. Under the pragma only the functions
// written between the markers get the wider instructions; what they call from headers
// keeps the baseline instructions, and the always-inline element-wise functors are
// inlined into the wide loops (a function without target options may be inlined into
// one with more).
#pragma once

#include <string>

namespace singa {

// Levels in increasing order; each includes the ones below it.
//  kBaseline: x86-64 (SSE2), what any 64-bit x86 CPU runs;
//  kAvx2: Haswell's vector set: AVX2, FMA, F16C, BMI1/2;
//  kAvx512: Skylake-SP's: kAvx2 plus AVX-512 F, CD, BW, DQ and VL.
enum class CpuIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

const char* CpuIsaName(CpuIsa isa);  // "baseline", "avx2", "avx512"

// The best level this CPU (and its operating system, which must save the wide registers)
// supports.
CpuIsa DetectedCpuIsa();

// The level the dispatched kernels of a portable build use: DetectedCpuIsa(), or lower
// when SINGA_CPU_ISA asks for a lower one. A request the CPU cannot run, an unknown value
// and any request in a native build are not errors (the environment never makes
// `import singa` fail): the best supported level is used and CpuIsaNote() says why.
// Read once.
CpuIsa SelectedCpuIsa();

// "" when SINGA_CPU_ISA was honoured or left unset; else why it was not.
const std::string& CpuIsaNote();

// True in a portable build (kernels dispatched at run time), false in a native one.
bool PortableBuild();

// vzeroupper, for baseline code of a portable build that called an AVX copy: call it only
// where an AVX copy was selected (so the CPU has the instruction). GCC leaves the upper
// halves of the vector registers dirty on some return paths of the copies, and every SSE
// instruction after that (in singa, libc or Python) waits on the upper bits. It keeps the
// lower 128 bits, all that baseline code holds in vector registers. A no-op in a native
// build, where all of singa is compiled for one ISA.
inline void ClearUpperHalves() {
#if defined(SINGA_PORTABLE_BUILD) && (defined(__x86_64__) || defined(__i386__))
  asm volatile("vzeroupper" ::: "memory");
#endif
}

// The level a native build's kernels were compiled for (from the compiler's -march
// macros); in a portable build, the level SelectedCpuIsa() dispatched to.
CpuIsa KernelCpuIsa();

}  // namespace singa

// ---- the per-level copies ----
// The variants of this build, for code that declares or picks every copy:
// X(namespace, CpuIsa level).
#if defined(SINGA_PORTABLE_BUILD)
#define SINGA_CPU_ISA_VARIANTS(X) \
  X(baseline, ::singa::CpuIsa::kBaseline) X(avx2, ::singa::CpuIsa::kAvx2) X(avx512, ::singa::CpuIsa::kAvx512)
#else
#define SINGA_CPU_ISA_VARIANTS(X) X(native, ::singa::KernelCpuIsa())
#endif

// In the copy being compiled: its namespace, its level as a number for #if (0, 1, 2, so
// that intrinsics of a level are written only into copies that may use them), and the
// markers around its code. The option strings list features, not an arch= name: GCC
// refuses to inline a function compiled for one arch into one compiled for another.
#if defined(SINGA_ISA_VARIANT_AVX512)
#define SINGA_ISA_NS avx512
#define SINGA_ISA_LEVEL 2
#define SINGA_ISA_BEGIN                \
  _Pragma("GCC push_options")          \
  _Pragma("GCC target(\"avx2,fma,f16c,bmi,bmi2,avx512f,avx512cd,avx512bw,avx512dq,avx512vl\")")
#define SINGA_ISA_END _Pragma("GCC pop_options")
#elif defined(SINGA_ISA_VARIANT_AVX2)
#define SINGA_ISA_NS avx2
#define SINGA_ISA_LEVEL 1
#define SINGA_ISA_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c,bmi,bmi2\")")
#define SINGA_ISA_END _Pragma("GCC pop_options")
#elif defined(SINGA_PORTABLE_BUILD)
#define SINGA_ISA_NS baseline
#define SINGA_ISA_LEVEL 0
#define SINGA_ISA_BEGIN
#define SINGA_ISA_END
#else
#define SINGA_ISA_NS native
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define SINGA_ISA_LEVEL 2
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define SINGA_ISA_LEVEL 1
#else
#define SINGA_ISA_LEVEL 0
#endif
#define SINGA_ISA_BEGIN
#define SINGA_ISA_END
#endif

// True in the one compile of a versioned file that also holds its non-versioned code
// (dispatchers, settings): the baseline copy of a portable build, or the native build.
#if defined(SINGA_ISA_VARIANT_AVX512) || defined(SINGA_ISA_VARIANT_AVX2)
#define SINGA_ISA_PRIMARY 0
#else
#define SINGA_ISA_PRIMARY 1
#endif

// The wider copies hold the float32/float64 loops only; a kernel called there on another
// dtype runs the baseline copy. Integer element-wise ops, copies and fills are rarely hot,
// and every dtype's instantiations would add to the compile time of each copy.
//   SINGA_ISA_FORWARD_UNLESS_FLOAT(dt, family::kernel(args)): in a wider copy, returns
//     the baseline copy's result for a dtype other than float32/float64;
//   SINGA_ISA_DISPATCH_ARITH, SINGA_ISA_DISPATCH_ALL: SINGA_DISPATCH_ARITH / _ALL in the
//     primary compile, the float-only SINGA_DISPATCH_FLOAT in a wider copy (cpu/iter.h),
//     so the other dtypes' loops are not compiled there at all.
#if SINGA_ISA_PRIMARY
#define SINGA_ISA_FORWARD_UNLESS_FLOAT(dt, call)
#define SINGA_ISA_DISPATCH_ARITH SINGA_DISPATCH_ARITH
#define SINGA_ISA_DISPATCH_ALL SINGA_DISPATCH_ALL
#else
#define SINGA_ISA_FORWARD_UNLESS_FLOAT(dt, call) \
  if ((dt) != kFloat32 && (dt) != kDouble) return ::singa::cpu::baseline::call
#define SINGA_ISA_DISPATCH_ARITH SINGA_DISPATCH_FLOAT
#define SINGA_ISA_DISPATCH_ALL SINGA_DISPATCH_FLOAT
#endif

namespace singa {

// Which copy of SINGA_CPU_ISA_VARIANTS (in its order) code picks: SelectedCpuIsa()'s in a
// portable build, the only one in a native build. Callers keep one pointer per variant in
// an array, `const F copies[] = {SINGA_CPU_ISA_VARIANTS(...)};`, and index it with this.
inline int CpuIsaVariantIndex() { return PortableBuild() ? static_cast<int>(SelectedCpuIsa()) : 0; }

}  // namespace singa
