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

#include "core/config.h"
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

// Whether oneDNN runs with AVX-512 (its effective ISA, which ONEDNN_MAX_CPU_ISA may cap
// below what the CPU has). The ISA values are feature bit sets: AVX2-VNNI compares above
// AVX-512 as a number, so test the bits.
inline bool HasAvx512() {
  const auto core = static_cast<unsigned>(dnnl_cpu_isa_avx512_core);
  return (static_cast<unsigned>(dn::get_effective_cpu_isa()) & core) == core;
}

// Activations with channels in blocks of one vector register (nChw16c with AVX-512,
// nChw8c with AVX2): the layout oneDNN's jit kernels for pooling and convolution use.
inline dn::memory::desc ChannelBlocked(const Dims& nchw, DnType t = kF32) {
  return dn::memory::desc(nchw, t, HasAvx512() ? Tag::nChw16c : Tag::nChw8c);
}

// Whether a primitive runs one of oneDNN's generated (jit) kernels rather than its
// reference or plain-C loops (ref:any, simple_nchw:any, ...).
template <class PrimitiveDesc>
bool IsJit(const PrimitiveDesc& pd) {
  return std::strncmp(pd.impl_info_str(), "jit", 3) == 0;
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

// The attributes every primitive is built with. Scratchpads are the user's (see Prim):
// oneDNN's own scratchpad lives in the thread-local storage of the thread that created
// the primitive, so a cached primitive run from another thread (a model trained in a
// Python thread after one in the main thread) read an empty scratchpad and crashed in its
// im2col, and two threads running one primitive at once would share one.
inline dn::primitive_attr Attr() {
  dn::primitive_attr attr;
  attr.set_scratchpad_mode(dn::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR * 100 + DNNL_VERSION_MINOR >= 304
  // oneDNN 3.4 added the attribute; 3.2's CPU primitives have no non-deterministic
  // implementations to rule out (same results at the same thread count, measured).
  attr.set_deterministic(IsDeterministic());
#endif
  return attr;
}

// A primitive and the scratchpad it needs, served from the call's Scratch.
template <class P>
struct Prim {
  P prim;
  dn::memory::desc scratchpad;

  template <class PrimitiveDesc>
  void Init(const PrimitiveDesc& pd) {
    prim = P(pd);
    scratchpad = pd.scratchpad_desc();
  }
  void Run(std::unordered_map<int, dn::memory> args, Scratch& scratch) const {
    const size_t bytes = scratchpad.get_size();
    if (bytes > 0)
      args.emplace(DNNL_ARG_SCRATCHPAD, dn::memory(scratchpad, Engine(), scratch.Get(bytes)));
    prim.execute(Stream(), args);
  }
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
  // The mode is part of the key: a primitive built in one mode is never run in the other.
  std::string k(reinterpret_cast<const char*>(key.data()), key.size() * sizeof(int64_t));
  k.push_back(IsDeterministic() ? 'd' : 'n');
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

// ---- tensors that stay channel-blocked (MemLayout, core/device.h) ----

// Whether oneDNN outputs stay in the primitive's channel-blocked layout (read as plain
// lazily, by Tensor::raw()). SINGA_DNNL_LAYOUT=plain or =reorder turns it off: every
// oneDNN output is then reordered to plain NCHW at once (for measuring the difference).
inline bool KeepBlocked() {
  static const bool on = [] {
    const std::string e = ConfigString("SINGA_DNNL_LAYOUT");
    return e != "plain" && e != "reorder";
  }();
  return on;
}

inline dn::memory::desc LayoutDesc(const MemLayout& l) {
  return dn::memory::desc({l.n, l.c, l.h, l.w}, DnnlType(l.dtype),
                          l.channel_block == 16 ? Tag::nChw16c : Tag::nChw8c);
}

struct ReorderEntry : Entry {
  Prim<dn::reorder> r;
};

// MemLayout::to_plain of the layouts made here.
inline void BlockedToPlain(const MemLayout& l, const void* src, void* dst) {
  const Dims d{l.n, l.c, l.h, l.w};
  auto e = Cached<ReorderEntry>({7, l.n, l.c, l.h, l.w, int64_t(l.dtype), l.channel_block},
                                [&](ReorderEntry& e) {
                                  e.r.Init(dn::reorder::primitive_desc(
                                      Engine(), LayoutDesc(l), Engine(),
                                      Plain(d, DnnlType(l.dtype)), Attr()));
                                });
  if (!e->ok) throw ValueError("oneDNN: no reorder from a channel-blocked tensor to NCHW");
  Scratch scratch(*defaultDevice());
  e->r.Run({{DNNL_ARG_FROM, dn::memory(LayoutDesc(l), Engine(), const_cast<void*>(src))},
            {DNNL_ARG_TO, dn::memory(Plain(d, DnnlType(l.dtype)), Engine(), dst)}},
           scratch);
  Stream().wait();
}

// The channel-blocked layout `md` describes for dims `d`, if it is one (else plain).
inline MemLayout BlockedLayoutOf(const dn::memory::desc& md, const Dims& d, DataType dt) {
  MemLayout l;
  if (d.size() != 4) return l;
  for (int b : {8, 16}) {
    dn::memory::desc cand(d, DnnlType(dt), b == 16 ? Tag::nChw16c : Tag::nChw8c);
    if (md == cand) {
      l.channel_block = b;
      l.n = d[0], l.c = d[1], l.h = d[2], l.w = d[3];
      l.dtype = dt;
      l.to_plain = &BlockedToPlain;
      return l;
    }
  }
  return l;
}

// `t`'s memory when its block holds exactly the layout `md` (the whole tensor, not a
// view), else nullptr. Does not convert.
inline void* BlockedData(const Tensor& t, const dn::memory::desc& md) {
  const auto& b = t.block();
  if (!b || !b->blocked() || t.offset() != 0 || t.nDim() != 4) return nullptr;
  const MemLayout& l = b->layout();
  const Shape& s = t.shape();
  if (l.dtype != t.data_type() || size_t(l.n) != s[0] || size_t(l.c) != s[1] ||
      size_t(l.h) != s[2] || size_t(l.w) != s[3] || !t.IsContiguous())
    return nullptr;
  return LayoutDesc(l) == md ? b->data() : nullptr;
}

// One operand of a primitive: the user's plain memory and the primitive's own layout,
// with the reorder between them when they differ.
struct Operand {
  dn::memory::desc user, inner;
  bool reorder = false;
  Prim<dn::reorder> r;

  void Init(const dn::memory::desc& u, const dn::memory::desc& in, bool is_input) {
    user = u, inner = in;
    reorder = !(u == in);
    if (reorder)
      r.Init(is_input ? dn::reorder::primitive_desc(Engine(), u, Engine(), in, Attr())
                      : dn::reorder::primitive_desc(Engine(), in, Engine(), u, Attr()));
  }
  // The memory the primitive reads: the user's, or a reordered copy in `scratch`.
  dn::memory In(void* data, Scratch& scratch) const {
    dn::memory um(user, Engine(), data);
    if (!reorder) return um;
    dn::memory im(inner, Engine(), scratch.Get(inner.get_size()));
    r.Run({{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, im}}, scratch);
    return im;
  }
  // The memory the primitive writes; Finish copies it to the user's when reordered.
  dn::memory Out(void* data, Scratch& scratch) const {
    if (!reorder) return dn::memory(user, Engine(), data);
    return dn::memory(inner, Engine(), scratch.Get(inner.get_size()));
  }
  void Finish(dn::memory m, void* data, Scratch& scratch) const {
    if (!reorder) return;
    dn::memory um(user, Engine(), data);
    r.Run({{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, um}}, scratch);
  }

  // The same for tensors, which may hold the primitive's layout already (no reorder in)
  // and may be given it (no reorder out; see KeepBlocked).
  dn::memory In(const Tensor& t, Scratch& scratch) const {
    if (reorder)
      if (void* p = BlockedData(t, inner)) return dn::memory(inner, Engine(), p);
    return In(const_cast<void*>(t.raw()), scratch);
  }
  dn::memory Out(Tensor* t, Scratch& scratch) const {
    // Only host-memory devices keep blocked layouts: a device-memory one (the test
    // device standing in for a GPU) must not, as a GPU's kernels would not.
    if (reorder && KeepBlocked() && t->device()->host_memory()) {
      MemLayout l = BlockedLayoutOf(inner, inner.get_dims(), t->data_type());
      if (!l.plain() && t->offset() == 0 && t->IsContiguous()) {
        // The caller's fresh output: its memory serves when no channel padding makes the
        // blocked layout larger (an allocation less, and the allocator's free spans keep
        // the sizes and order of the plain path).
        Block& b = *t->block();
        if (b.size() >= inner.get_size()) {
          b.MarkLayout(l);
          return dn::memory(inner, Engine(), b.data());
        }
        return dn::memory(inner, Engine(), b.InstallBlocked(inner.get_size(), l));
      }
    }
    return Out(const_cast<void*>(t->raw()), scratch);
  }
  void Finish(dn::memory m, Tensor* t, Scratch& scratch) const {
    if (t->block()->blocked()) return;  // written in place by Out
    Finish(std::move(m), const_cast<void*>(t->raw()), scratch);
  }
};

inline void* Ptr(const Tensor& t) { return const_cast<void*>(t.raw()); }

}  // namespace dnnl_nn
}  // namespace singa
