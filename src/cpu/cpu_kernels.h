// The CPU device's kernels: for every entry `family.name` of the kernel table
// (math/kernels.h), the function cpu::family::name with the entry's signature, defined in
// the src/cpu file of its family (elementwise.cc, reduce.cc, blas.cc, random.cc,
// shape.cc, fused.cc; the nn family in conv.cc, pool.cc, batchnorm.cc and lrn.cc, each
// trying oneDNN first for float32, cpu/dnnl_nn.h). The declarations and the table are
// generated from the table's lists, so an entry without a CPU kernel fails to link.
#pragma once

#include "math/kernels.h"

namespace singa {
namespace cpu {

// A function declared through its type: `using sig = void(int); sig f;` is `void f(int);`.
#define SINGA_CPU_KERNEL_DECLARATION(name, ...) \
  using name##_signature = __VA_ARGS__;         \
  name##_signature name;
#define SINGA_CPU_FAMILY_DECLARATIONS(Family, member, LIST) \
  namespace member {                                        \
  LIST(SINGA_CPU_KERNEL_DECLARATION)                        \
  }
SINGA_KERNEL_FAMILIES(SINGA_CPU_FAMILY_DECLARATIONS)
#undef SINGA_CPU_FAMILY_DECLARATIONS
#undef SINGA_CPU_KERNEL_DECLARATION

// The complete table (built once).
const KernelTable& Kernels();

}  // namespace cpu
}  // namespace singa
