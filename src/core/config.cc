#include "core/config.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace singa {

namespace {

#ifdef USE_DNNL
constexpr const char* kDefaultGemm = "dnnl";
#else
constexpr const char* kDefaultGemm = "openblas";
#endif

const ConfigKnob* Find(const char* name) {
  for (const ConfigKnob& k : ConfigKnobs())
    if (std::strcmp(k.name, name) == 0) return &k;
  throw std::logic_error(std::string("singa config: ") + name + " is not in the knob table");
}

}  // namespace

const std::vector<ConfigKnob>& ConfigKnobs() {
  // Values a knob does not know fall back to its default without an error: the
  // environment must never make `import singa` fail.
  static const std::vector<ConfigKnob> knobs = {
      {"SINGA_GEMM_BACKEND", kDefaultGemm,
       "float32 GEMM library at start-up: 'dnnl' (oneDNN, the default when compiled in) or "
       "'openblas'; without oneDNN always 'openblas'. set_gemm_backend() changes it later."},
      {"SINGA_CONV_BACKEND", "auto",
       "float32 conv/pool/batch-norm/LRN kernels at start-up: 'auto' (oneDNN when compiled "
       "in), 'reference' (im2col + GEMM and plain loops) or 'dnnl'; other values, and 'dnnl' "
       "without oneDNN, mean 'auto'. set_conv_backend() changes it later."},
      {"SINGA_DNNL_LAYOUT", "auto",
       "memory layout of oneDNN convolutions: 'plain' (NCHW) or 'blocked' forces one for "
       "every convolution (for measuring); other values pick per convolution. oneDNN "
       "outputs stay channel-blocked between oneDNN kernels unless it is 'plain' or "
       "'reorder' (per-convolution choice, every output reordered to NCHW at once)."},
      {"SINGA_CPU_ISA", "auto",
       "instruction set of singa's own CPU kernels in a portable build: 'auto' (the best the "
       "CPU has), 'avx512', 'avx2' or 'baseline' (x86-64); a level above the CPU's, an "
       "unknown value, and any value in a native build mean 'auto' (build_info() says why)."},
      {"SINGA_CPU_CACHE_MB", "2048",
       "MiB of freed CPU memory the allocator keeps for reuse (read when the CPU device is "
       "created); 0 disables the cache."},
      {"SINGA_CUDA_GRAPHS", "1",
       "graph mode on a device that can capture queued work (a CUDA GPU): '0' replays the "
       "recorded step node by node instead of launching CUDA graphs; read when a step is "
       "recorded."},
  };
  return knobs;
}

std::string ConfigString(const char* name) {
  const ConfigKnob* knob = Find(name);
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : knob->default_value;
}

uint64_t ConfigUnsigned(const char* name) {
  return std::strtoull(ConfigString(name).c_str(), nullptr, 10);
}

namespace {
std::atomic<bool> deterministic{false};
}  // namespace

void SetDeterministic(bool on) { deterministic.store(on); }
bool IsDeterministic() { return deterministic.load(); }

}  // namespace singa
