// The CPU device's kernels: for every entry `family.name` of the kernel table
// (math/kernels.h), the function cpu::family::name with the entry's signature, defined in
// the src/cpu file of its family (elementwise.cc, reduce.cc, blas.cc, random.cc,
// shape.cc, fused.cc; the nn family in conv.cc, pool.cc, batchnorm.cc and lrn.cc, each
// trying oneDNN first for float32, cpu/dnnl_nn.h). The families of
// SINGA_CPU_VERSIONED_FAMILIES have one copy per ISA level instead (cpu/isa.h):
// cpu::<variant>::family::name. The declarations and the table are generated from the
// table's lists, so an entry without a CPU kernel fails to link.
#pragma once

#include "cpu/isa.h"
#include "math/kernels.h"

namespace singa {
namespace cpu {

// The families compiled once per ISA level (their element-wise loops, reductions and
// fused updates are where singa's own code, not a library's, does the arithmetic), and
// the others. Together they are SINGA_KERNEL_FAMILIES (checked in kernel_table.cc).
#define SINGA_CPU_VERSIONED_FAMILIES(X)                  \
  X(Elementwise, elementwise, SINGA_ELEMENTWISE_KERNELS) \
  X(Reduce, reduce, SINGA_REDUCE_KERNELS)                \
  X(Fused, fused, SINGA_FUSED_KERNELS)
#define SINGA_CPU_PLAIN_FAMILIES(X)         \
  X(Blas, blas, SINGA_BLAS_KERNELS)         \
  X(Random, random, SINGA_RANDOM_KERNELS)   \
  X(Shape, shape, SINGA_SHAPE_KERNELS)      \
  X(NN, nn, SINGA_NN_KERNELS)

// A function declared through its type: `using sig = void(int); sig f;` is `void f(int);`.
#define SINGA_CPU_KERNEL_DECLARATION(name, ...) \
  using name##_signature = __VA_ARGS__;         \
  name##_signature name;
#define SINGA_CPU_FAMILY_DECLARATIONS(Family, member, LIST) \
  namespace member {                                        \
  LIST(SINGA_CPU_KERNEL_DECLARATION)                        \
  }
SINGA_CPU_PLAIN_FAMILIES(SINGA_CPU_FAMILY_DECLARATIONS)
#define SINGA_CPU_VARIANT_DECLARATIONS(variant, level) \
  namespace variant {                                  \
  SINGA_CPU_VERSIONED_FAMILIES(SINGA_CPU_FAMILY_DECLARATIONS) \
  }
SINGA_CPU_ISA_VARIANTS(SINGA_CPU_VARIANT_DECLARATIONS)
#undef SINGA_CPU_VARIANT_DECLARATIONS
#undef SINGA_CPU_FAMILY_DECLARATIONS
#undef SINGA_CPU_KERNEL_DECLARATION

// The complete table (built once), with the versioned families of SelectedCpuIsa().
const KernelTable& Kernels();

// {family, ISA level} for each versioned family of Kernels(): what build_info() reports.
std::vector<std::pair<std::string, CpuIsa>> VersionedFamilyIsas();

}  // namespace cpu
}  // namespace singa
