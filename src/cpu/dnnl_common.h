// Shared pieces of the oneDNN fast paths (dnnl_conv.cc, dnnl_nn.cc): the engine and
// stream, memory descriptors, per-call scratch memory and the primitive cache.
// Included only where USE_DNNL is defined.
#pragma once

#include <dnnl.hpp>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/dnnl_nn.h"

namespace singa {
namespace dnnl_nn {

namespace dn = dnnl;
using Dims = dn::memory::dims;
using Tag = dn::memory::format_tag;
constexpr auto kF32 = dn::memory::data_type::f32;
using DnType = dn::memory::data_type;

// oneDNN's name for a float dtype the fast paths take (float32, float16, bfloat16).
inline DnType DnnlType(DataType dt) {
  return dt == kFloat16 ? DnType::f16 : dt == kBFloat16 ? DnType::bf16 : kF32;
}

inline dn::engine& Engine() {
  static dn::engine eng(dn::engine::kind::cpu, 0);
  return eng;
}

inline dn::stream& Stream() {
  thread_local dn::stream s(Engine());
  return s;
}

inline dn::memory::desc Plain(const Dims& d, DnType t = kF32) {
  static const Tag tags[] = {Tag::undef, Tag::a, Tag::ab, Tag::abc, Tag::abcd, Tag::abcde};
  return dn::memory::desc(d, t, tags[d.size()]);
}

inline dn::memory::desc Any(const Dims& d, DnType t = kF32) {
  return dn::memory::desc(d, t, Tag::any);
}

inline dn::memory Mem(const dn::memory::desc& md, const Tensor& t) {
  return dn::memory(md, Engine(), const_cast<void*>(t.raw()));
}

// For the 16-bit floats only oneDNN's optimised kernels are worth taking: its reference
// implementations run far below the float32 conversion path. Throwing here inside a
// Cached build records the geometry as unsupported, so the caller converts instead.
template <class PrimitiveDesc>
void RequireOptimised(const PrimitiveDesc& pd, DataType dt) {
  if (IsHalfFloat(dt) && std::strncmp(pd.impl_info_str(), "ref", 3) == 0)
    throw dn::error(dnnl_unimplemented, "reference implementation only");
}

// Reordered operands and workspaces of one call, taken from the device's memory pools
// and given back when the call returns: between calls the memory serves other tensors
// instead of staying reserved (buffers kept per thread held the largest reorder of every
// slot, 100-200 MB on Xception).
class Scratch {
 public:
  // Memory of `dev`, the device whose kernel is running.
  explicit Scratch(Device& dev) : dev_(dev) {}
  void* Get(size_t bytes) {
    blocks_.push_back(dev_.NewBlock(bytes));
    return blocks_.back()->data();
  }

 private:
  Device& dev_;
  std::vector<std::shared_ptr<Block>> blocks_;
};

// A primitive cache keyed by the op's full geometry. Entries are immutable once built;
// failed creations are cached too (ok == false), so an unsupported case is tried once.
struct Entry {
  virtual ~Entry() = default;
  bool ok = false;
};

template <class E, class Build>
std::shared_ptr<E> Cached(const std::vector<int64_t>& key, Build build) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<Entry>> cache;
  std::string k(reinterpret_cast<const char*>(key.data()), key.size() * sizeof(int64_t));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(k);
    if (it != cache.end()) return std::static_pointer_cast<E>(it->second);
  }
  auto e = std::make_shared<E>();
  try {
    build(*e);
    e->ok = true;
  } catch (const dn::error&) {
    e->ok = false;
  }
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 1024) cache.clear();  // bounds memory for shape-varying workloads
  cache.emplace(k, e);
  return e;
}

// One operand of a primitive: the user's plain memory and the primitive's own layout,
// with the reorder between them when they differ.
struct Operand {
  dn::memory::desc user, inner;
  bool reorder = false;
  dn::reorder r;

  void Init(const dn::memory::desc& u, const dn::memory::desc& in, bool is_input) {
    user = u, inner = in;
    reorder = !(u == in);
    if (reorder)
      r = is_input ? dn::reorder(dn::reorder::primitive_desc(Engine(), u, Engine(), in))
                   : dn::reorder(dn::reorder::primitive_desc(Engine(), in, Engine(), u));
  }
  // The memory the primitive reads: the user's, or a reordered copy in `scratch`.
  dn::memory In(void* data, Scratch& scratch) const {
    dn::memory um(user, Engine(), data);
    if (!reorder) return um;
    dn::memory im(inner, Engine(), scratch.Get(inner.get_size()));
    r.execute(Stream(), um, im);  // NOLINT: reorder::execute takes non-const refs
    return im;
  }
  // The memory the primitive writes; Finish copies it to the user's when reordered.
  dn::memory Out(void* data, Scratch& scratch) const {
    if (!reorder) return dn::memory(user, Engine(), data);
    return dn::memory(inner, Engine(), scratch.Get(inner.get_size()));
  }
  void Finish(dn::memory m, void* data) const {
    if (!reorder) return;
    dn::memory um(user, Engine(), data);
    r.execute(Stream(), m, um);
  }
};

inline void* Ptr(const Tensor& t) { return const_cast<void*>(t.raw()); }

}  // namespace dnnl_nn
}  // namespace singa
