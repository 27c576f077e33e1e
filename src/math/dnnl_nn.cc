// oneDNN fast paths for conv, pooling, batch norm and LRN (see dnnl_nn.h).
//
// User tensors are plain NCHW (`abcd`). For most convolutions oneDNN chooses blocked
// internal layouts (format_tag::any) and we reorder into and out of them: on AVX-512 the
// blocked direct kernels beat oneDNN's own plain-layout (gemm) convolution by far more than
// the reorders cost (see ConvBlocked for the exceptions). Pooling, batch norm and LRN run on
// the plain layout directly, where a reorder would cost as much as the op itself.
#include "math/dnnl_nn.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#ifdef USE_DNNL
#include <dnnl.hpp>
#endif

namespace singa {

namespace {

std::atomic<int> g_backend{-1};

bool ParseBackend(const std::string& s, NNBackend* b) {
  if (s == "auto") *b = NNBackend::kAuto;
  else if (s == "reference") *b = NNBackend::kReference;
  else if (s == "dnnl") *b = NNBackend::kDnnl;
  else return false;
  return true;
}

}  // namespace

NNBackend GetNNBackend() {
  int v = g_backend.load();
  if (v < 0) {
    NNBackend b = NNBackend::kAuto;
    const char* env = std::getenv("SINGA_CONV_BACKEND");
    // An unknown value or "dnnl" without oneDNN falls back quietly: the environment
    // must not make importing singa fail.
    if (env && (!ParseBackend(env, &b) || (b == NNBackend::kDnnl && !dnnl_nn::Compiled())))
      b = NNBackend::kAuto;
    v = static_cast<int>(b);
    g_backend.store(v);
  }
  return static_cast<NNBackend>(v);
}

void SetNNBackend(const std::string& name) {
  NNBackend b;
  if (!ParseBackend(name, &b))
    throw ValueError(Msg("set_conv_backend: backend must be 'auto', 'reference' or 'dnnl', got '",
                         name, "'"));
  if (b == NNBackend::kDnnl && !dnnl_nn::Compiled())
    throw ValueError("set_conv_backend: 'dnnl' requested but singa was built without oneDNN");
  g_backend.store(static_cast<int>(b));
}

std::string NNBackendName(NNBackend b) {
  switch (b) {
    case NNBackend::kReference: return "reference";
    case NNBackend::kDnnl: return "dnnl";
    default: return "auto";
  }
}

bool UseDnnl() { return dnnl_nn::Compiled() && GetNNBackend() != NNBackend::kReference; }

namespace dnnl_nn {

#ifndef USE_DNNL

bool Compiled() { return false; }
bool ConvForward(const ConvHandle&, const Tensor&, const Tensor&, const Tensor*, Tensor*) {
  return false;
}
bool ConvBackwardData(const ConvHandle&, const Tensor&, const Tensor&, Tensor*) { return false; }
bool ConvBackwardWeights(const ConvHandle&, const Tensor&, const Tensor&, Tensor*) {
  return false;
}
bool PoolForward(const PoolingHandle&, const Tensor&, Tensor*) { return false; }
bool PoolBackward(const PoolingHandle&, const Tensor&, const Tensor&, Tensor*) { return false; }
bool BatchNormForwardTraining(const BatchNormHandle&, const Tensor&, const Tensor&,
                              const Tensor&, Tensor*, Tensor*, Tensor*) {
  return false;
}
bool BatchNormForwardInference(const BatchNormHandle&, const Tensor&, const Tensor&,
                               const Tensor&, const Tensor&, const Tensor&, Tensor*) {
  return false;
}
bool BatchNormBackward(const BatchNormHandle&, const Tensor&, const Tensor&, const Tensor&,
                       const Tensor&, const Tensor&, Tensor*, Tensor*, Tensor*) {
  return false;
}
bool LRNForward(const Tensor&, size_t, double, double, double, Tensor*) { return false; }
bool LRNBackward(const Tensor&, const Tensor&, size_t, double, double, double, Tensor*) {
  return false;
}

#else  // USE_DNNL

namespace dn = dnnl;
using Dims = dn::memory::dims;
using Tag = dn::memory::format_tag;
constexpr auto kF32 = dn::memory::data_type::f32;

bool Compiled() { return true; }

namespace {

dn::engine& Engine() {
  static dn::engine eng(dn::engine::kind::cpu, 0);
  return eng;
}

dn::stream& Stream() {
  thread_local dn::stream s(Engine());
  return s;
}

dn::memory::desc Plain(const Dims& d) {
  static const Tag tags[] = {Tag::undef, Tag::a, Tag::ab, Tag::abc, Tag::abcd, Tag::abcde};
  return dn::memory::desc(d, kF32, tags[d.size()]);
}

dn::memory::desc Any(const Dims& d) { return dn::memory::desc(d, kF32, Tag::any); }

dn::memory Mem(const dn::memory::desc& md, const Tensor& t) {
  return dn::memory(md, Engine(), const_cast<void*>(static_cast<const void*>(t.data<float>())));
}

// Reordered operands and workspaces of one call, taken from the device's memory pools
// and given back when the call returns: between calls the memory serves other tensors
// instead of staying reserved (buffers kept per thread held the largest reorder of every
// slot, 100-200 MB on Xception).
class Scratch {
 public:
  void* Get(size_t bytes) {
    blocks_.push_back(defaultDevice()->NewBlock(bytes));
    return blocks_.back()->data();
  }

 private:
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

void* Ptr(const Tensor& t) { return const_cast<void*>(static_cast<const void*>(t.data<float>())); }

// ---------------------------------------------------------------- convolution

// Whether a conv primitive should run on oneDNN's blocked layouts (with reorders) or on
// the user's plain NCHW (oneDNN's gemm convolution). Measured on AVX-512 (oneDNN 3.2):
// blocked direct kernels are 2-15x faster than plain for 3x3/5x5 and depthwise convs, but
// 1x1 convs gain nothing there and pay two reorders of large activations, and the blocked
// backward-data kernel for < 16 input channels (a network's first layer) is 4-8x slower
// than the plain one. SINGA_DNNL_LAYOUT=plain|blocked overrides (for measuring).
enum ConvPrim { kFwd = 0, kBwdData = 1, kBwdWeights = 2 };

bool ConvBlocked(const ConvHandle& h, ConvPrim prim) {
  static const int forced = [] {
    const char* e = std::getenv("SINGA_DNNL_LAYOUT");
    if (e && std::strcmp(e, "plain") == 0) return 0;
    if (e && std::strcmp(e, "blocked") == 0) return 1;
    return -1;
  }();
  if (forced >= 0) return forced == 1;
  const bool pointwise = h.kernel_h == 1 && h.kernel_w == 1 && h.stride_h == 1 &&
                         h.stride_w == 1 && h.group == 1 &&
                         h.pad_top + h.pad_bottom + h.pad_left + h.pad_right == 0;
  if (pointwise) return false;
  if (prim == kBwdData && h.group == 1 && h.channels < 16) return false;
  return true;
}

struct ConvGeom {
  Dims src, wei, bias, dst, strides, dilates, pad_l, pad_r;
};

ConvGeom Geometry(const ConvHandle& h, size_t n) {
  auto d = [](size_t v) { return static_cast<dn::memory::dim>(v); };
  ConvGeom g;
  g.src = {d(n), d(h.channels), d(h.height), d(h.width)};
  if (h.group == 1)
    g.wei = {d(h.num_filters), d(h.channels), d(h.kernel_h), d(h.kernel_w)};
  else
    g.wei = {d(h.group), d(h.num_filters / h.group), d(h.channels / h.group), d(h.kernel_h),
             d(h.kernel_w)};
  g.bias = {d(h.num_filters)};
  g.dst = {d(n), d(h.num_filters), d(h.conv_height), d(h.conv_width)};
  g.strides = {d(h.stride_h), d(h.stride_w)};
  g.dilates = {d(h.dilation_h) - 1, d(h.dilation_w) - 1};
  g.pad_l = {d(h.pad_top), d(h.pad_left)};
  g.pad_r = {d(h.pad_bottom), d(h.pad_right)};
  return g;
}

std::vector<int64_t> ConvKey(int kind, const ConvHandle& h, size_t n, bool bias) {
  return {kind, int64_t(n), int64_t(h.channels), int64_t(h.height), int64_t(h.width),
          int64_t(h.num_filters), int64_t(h.group), int64_t(h.kernel_h), int64_t(h.kernel_w),
          int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.dilation_h),
          int64_t(h.dilation_w), int64_t(h.pad_top), int64_t(h.pad_bottom),
          int64_t(h.pad_left), int64_t(h.pad_right), bias};
}

dn::convolution_forward::primitive_desc ConvFwdPd(const ConvGeom& g, bool bias,
                                                  dn::prop_kind prop, bool blocked) {
  auto md = blocked ? Any : Plain;
  if (bias)
    return dn::convolution_forward::primitive_desc(
        Engine(), prop, dn::algorithm::convolution_direct, md(g.src), md(g.wei), Plain(g.bias),
        md(g.dst), g.strides, g.dilates, g.pad_l, g.pad_r);
  return dn::convolution_forward::primitive_desc(Engine(), prop,
                                                 dn::algorithm::convolution_direct, md(g.src),
                                                 md(g.wei), md(g.dst), g.strides, g.dilates,
                                                 g.pad_l, g.pad_r);
}

struct ConvFwdEntry : Entry {
  dn::convolution_forward prim;
  Operand src, wei, dst;
  dn::memory::desc bias;
};

struct ConvBwdDataEntry : Entry {
  dn::convolution_backward_data prim;
  Operand diff_dst, wei, diff_src;
};

struct ConvBwdWeiEntry : Entry {
  dn::convolution_backward_weights prim;
  Operand src, diff_dst, diff_wei;
};

}  // namespace

bool ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b,
                 Tensor* y) {
  const size_t n = x.shape(0);
  auto e = Cached<ConvFwdEntry>(ConvKey(kFwd, h, n, b != nullptr), [&](ConvFwdEntry& e) {
    ConvGeom g = Geometry(h, n);
    auto pd = ConvFwdPd(g, b != nullptr, dn::prop_kind::forward_training, ConvBlocked(h, kFwd));
    e.prim = dn::convolution_forward(pd);
    e.src.Init(Plain(g.src), pd.src_desc(), true);
    e.wei.Init(Plain(g.wei), pd.weights_desc(), true);
    e.dst.Init(Plain(g.dst), pd.dst_desc(), false);
    e.bias = Plain(g.bias);
  });
  if (!e->ok) return false;
  Scratch scratch;
  auto src = e->src.In(Ptr(x), scratch), wei = e->wei.In(Ptr(W), scratch),
       dst = e->dst.Out(Ptr(*y), scratch);
  std::unordered_map<int, dn::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, Mem(e->bias, *b));
  e->prim.execute(Stream(), args);
  e->dst.Finish(dst, Ptr(*y));
  Stream().wait();
  return true;
}

bool ConvBackwardData(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx) {
  const size_t n = dx->shape(0);
  auto e = Cached<ConvBwdDataEntry>(ConvKey(kBwdData, h, n, false), [&](ConvBwdDataEntry& e) {
    ConvGeom g = Geometry(h, n);
    const bool blocked = ConvBlocked(h, kBwdData);
    auto hint = ConvFwdPd(g, false, dn::prop_kind::forward_training, blocked);
    auto md = blocked ? Any : Plain;
    dn::convolution_backward_data::primitive_desc pd(
        Engine(), dn::algorithm::convolution_direct, md(g.src), md(g.wei), md(g.dst), g.strides,
        g.dilates, g.pad_l, g.pad_r, hint);
    e.prim = dn::convolution_backward_data(pd);
    e.diff_dst.Init(Plain(g.dst), pd.diff_dst_desc(), true);
    e.wei.Init(Plain(g.wei), pd.weights_desc(), true);
    e.diff_src.Init(Plain(g.src), pd.diff_src_desc(), false);
  });
  if (!e->ok) return false;
  Scratch scratch;
  auto ddst = e->diff_dst.In(Ptr(dy), scratch), wei = e->wei.In(Ptr(W), scratch),
       dsrc = e->diff_src.Out(Ptr(*dx), scratch);
  e->prim.execute(Stream(), {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei},
                             {DNNL_ARG_DIFF_SRC, dsrc}});
  e->diff_src.Finish(dsrc, Ptr(*dx));
  Stream().wait();
  return true;
}

bool ConvBackwardWeights(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW) {
  const size_t n = x.shape(0);
  auto e = Cached<ConvBwdWeiEntry>(ConvKey(kBwdWeights, h, n, false), [&](ConvBwdWeiEntry& e) {
    ConvGeom g = Geometry(h, n);
    const bool blocked = ConvBlocked(h, kBwdWeights);
    auto hint = ConvFwdPd(g, false, dn::prop_kind::forward_training, blocked);
    auto md = blocked ? Any : Plain;
    dn::convolution_backward_weights::primitive_desc pd(
        Engine(), dn::algorithm::convolution_direct, md(g.src), md(g.wei), md(g.dst), g.strides,
        g.dilates, g.pad_l, g.pad_r, hint);
    e.prim = dn::convolution_backward_weights(pd);
    e.src.Init(Plain(g.src), pd.src_desc(), true);
    e.diff_dst.Init(Plain(g.dst), pd.diff_dst_desc(), true);
    e.diff_wei.Init(Plain(g.wei), pd.diff_weights_desc(), false);
  });
  if (!e->ok) return false;
  Scratch scratch;
  auto src = e->src.In(Ptr(x), scratch), ddst = e->diff_dst.In(Ptr(dy), scratch),
       dwei = e->diff_wei.Out(Ptr(*dW), scratch);
  e->prim.execute(Stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst},
                             {DNNL_ARG_DIFF_WEIGHTS, dwei}});
  e->diff_wei.Finish(dwei, Ptr(*dW));
  Stream().wait();
  return true;
}

// ---------------------------------------------------------------- pooling

namespace {

struct PoolEntry : Entry {
  dn::memory::desc src, dst;
  dn::pooling_forward fwd;  // inference: no workspace
  dn::pooling_forward fwd_train;
  dn::memory::desc ws;
  dn::pooling_backward bwd;
};

std::shared_ptr<PoolEntry> PoolPrims(const PoolingHandle& h, size_t n) {
  std::vector<int64_t> key{3, int64_t(n), int64_t(h.channels), int64_t(h.height),
                           int64_t(h.width), int64_t(h.kernel_h), int64_t(h.kernel_w),
                           int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.pad_top),
                           int64_t(h.pad_bottom), int64_t(h.pad_left), int64_t(h.pad_right),
                           h.is_max_pooling, h.count_include_pad};
  return Cached<PoolEntry>(key, [&](PoolEntry& e) {
    auto d = [](size_t v) { return static_cast<dn::memory::dim>(v); };
    e.src = Plain({d(n), d(h.channels), d(h.height), d(h.width)});
    e.dst = Plain({d(n), d(h.channels), d(h.pooled_height), d(h.pooled_width)});
    Dims strides{d(h.stride_h), d(h.stride_w)}, kernel{d(h.kernel_h), d(h.kernel_w)},
        dil{0, 0}, pl{d(h.pad_top), d(h.pad_left)}, pr{d(h.pad_bottom), d(h.pad_right)};
    auto alg = h.is_max_pooling       ? dn::algorithm::pooling_max
               : h.count_include_pad ? dn::algorithm::pooling_avg_include_padding
                                     : dn::algorithm::pooling_avg_exclude_padding;
    dn::pooling_forward::primitive_desc inf(Engine(), dn::prop_kind::forward_inference, alg,
                                            e.src, e.dst, strides, kernel, dil, pl, pr);
    e.fwd = dn::pooling_forward(inf);
    dn::pooling_forward::primitive_desc train(Engine(), dn::prop_kind::forward_training, alg,
                                              e.src, e.dst, strides, kernel, dil, pl, pr);
    e.fwd_train = dn::pooling_forward(train);
    e.ws = train.workspace_desc();
    dn::pooling_backward::primitive_desc bwd(Engine(), alg, e.src, e.dst, strides, kernel, dil,
                                             pl, pr, train);
    e.bwd = dn::pooling_backward(bwd);
  });
}

}  // namespace

bool PoolForward(const PoolingHandle& h, const Tensor& x, Tensor* y) {
  auto e = PoolPrims(h, x.shape(0));
  if (!e->ok) return false;
  e->fwd.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->src, x)}, {DNNL_ARG_DST, Mem(e->dst, *y)}});
  Stream().wait();
  return true;
}

bool PoolBackward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx) {
  auto e = PoolPrims(h, x.shape(0));
  if (!e->ok) return false;
  std::unordered_map<int, dn::memory> args{{DNNL_ARG_DIFF_DST, Mem(e->dst, dy)},
                                           {DNNL_ARG_DIFF_SRC, Mem(e->src, *dx)}};
  Scratch scratch;  // lives until the backward below has run
  if (e->ws.get_size() > 0) {
    // Max pooling: the backward needs the argmax workspace, which SINGA's API does not
    // carry from the forward; recompute it (the forward is cheap next to the conv layers).
    dn::memory ws(e->ws, Engine(), scratch.Get(e->ws.get_size()));
    dn::memory tmp(e->dst, Engine(), scratch.Get(e->dst.get_size()));
    e->fwd_train.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->src, x)}, {DNNL_ARG_DST, tmp},
                                    {DNNL_ARG_WORKSPACE, ws}});
    args.emplace(DNNL_ARG_WORKSPACE, ws);
  }
  e->bwd.execute(Stream(), args);
  Stream().wait();
  return true;
}

// ---------------------------------------------------------------- batch norm

namespace {

struct BNEntry : Entry {
  dn::memory::desc data, stat;
  dn::batch_normalization_forward train, infer;
  dn::batch_normalization_backward bwd;
};

// On plain NCHW with spatial axes, oneDNN 3.2's batch norm (ncsp_bnorm) measured no faster
// than ours in training and 2-4x slower in inference and backward (batchnorm.cc), so only
// (N, C) inputs, where it is ~2x faster, go to oneDNN.
bool BNUseDnnl(const Tensor& x) { return x.nDim() == 2 || x.Size() == x.shape(0) * x.shape(1); }

std::shared_ptr<BNEntry> BNPrims(const BatchNormHandle& h, const Tensor& x) {
  // (N, C) inputs are (N, C, 1, 1): the same memory.
  const int64_t n = x.shape(0), c = x.shape(1), hh = x.nDim() == 4 ? x.shape(2) : 1,
                w = x.nDim() == 4 ? x.shape(3) : 1;
  int64_t eps_bits;
  static_assert(sizeof(eps_bits) == sizeof(h.eps));
  std::memcpy(&eps_bits, &h.eps, sizeof(eps_bits));
  return Cached<BNEntry>({4, n, c, hh, w, eps_bits}, [&](BNEntry& e) {
    e.data = Plain({n, c, hh, w});
    e.stat = Plain({c});
    const float eps = static_cast<float>(h.eps);
    auto flags = dn::normalization_flags::use_scale | dn::normalization_flags::use_shift;
    dn::batch_normalization_forward::primitive_desc tr(
        Engine(), dn::prop_kind::forward_training, e.data, e.data, eps, flags);
    e.train = dn::batch_normalization_forward(tr);
    dn::batch_normalization_forward::primitive_desc inf(
        Engine(), dn::prop_kind::forward_inference, e.data, e.data, eps,
        flags | dn::normalization_flags::use_global_stats);
    e.infer = dn::batch_normalization_forward(inf);
    dn::batch_normalization_backward::primitive_desc bw(Engine(), dn::prop_kind::backward,
                                                        e.data, e.data, e.data, eps, flags, tr);
    e.bwd = dn::batch_normalization_backward(bw);
  });
}

}  // namespace

bool BatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                              const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x);
  if (!e->ok) return false;
  e->train.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->data, x)},
                              {DNNL_ARG_DST, Mem(e->data, *y)},
                              {DNNL_ARG_SCALE, Mem(e->stat, scale)},
                              {DNNL_ARG_SHIFT, Mem(e->stat, bias)},
                              {DNNL_ARG_MEAN, Mem(e->stat, *mean)},
                              {DNNL_ARG_VARIANCE, Mem(e->stat, *var)}});
  Stream().wait();
  return true;
}

bool BatchNormForwardInference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                               const Tensor& bias, const Tensor& mean, const Tensor& var,
                               Tensor* y) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x);
  if (!e->ok) return false;
  e->infer.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->data, x)},
                              {DNNL_ARG_DST, Mem(e->data, *y)},
                              {DNNL_ARG_SCALE, Mem(e->stat, scale)},
                              {DNNL_ARG_SHIFT, Mem(e->stat, bias)},
                              {DNNL_ARG_MEAN, Mem(e->stat, mean)},
                              {DNNL_ARG_VARIANCE, Mem(e->stat, var)}});
  Stream().wait();
  return true;
}

bool BatchNormBackward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x);
  if (!e->ok) return false;
  e->bwd.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->data, x)},
                            {DNNL_ARG_DIFF_DST, Mem(e->data, dy)},
                            {DNNL_ARG_SCALE, Mem(e->stat, scale)},
                            {DNNL_ARG_MEAN, Mem(e->stat, mean)},
                            {DNNL_ARG_VARIANCE, Mem(e->stat, var)},
                            {DNNL_ARG_DIFF_SRC, Mem(e->data, *dx)},
                            {DNNL_ARG_DIFF_SCALE, Mem(e->stat, *dscale)},
                            {DNNL_ARG_DIFF_SHIFT, Mem(e->stat, *dbias)}});
  Stream().wait();
  return true;
}

// ---------------------------------------------------------------- LRN

namespace {

struct LRNEntry : Entry {
  dn::memory::desc data, ws;
  dn::lrn_forward fwd, fwd_train;
  dn::lrn_backward bwd;
};

std::shared_ptr<LRNEntry> LRNPrims(const Tensor& x, size_t size, double alpha, double beta,
                                   double k) {
  // Across-channel LRN only mixes channels: (N, C, ...) is viewed as (N, C, H, W) with
  // the trailing axes merged into H (4-D inputs keep their shape).
  int64_t n = x.shape(0), c = x.nDim() > 1 ? x.shape(1) : 1, s = 1, w = 1;
  for (size_t i = 2; i < x.nDim(); ++i) s *= x.shape(i);
  if (x.nDim() == 4) s = x.shape(2), w = x.shape(3);
  std::vector<int64_t> key{5, n, c, s, w, int64_t(size), 0, 0, 0};
  float fa = float(alpha), fb = float(beta), fk = float(k);
  std::memcpy(&key[6], &fa, 4), std::memcpy(&key[7], &fb, 4), std::memcpy(&key[8], &fk, 4);
  return Cached<LRNEntry>(key, [&](LRNEntry& e) {
    e.data = Plain({n, c, s, w});
    auto alg = dn::algorithm::lrn_across_channels;
    const auto ls = static_cast<dn::memory::dim>(size);
    dn::lrn_forward::primitive_desc inf(Engine(), dn::prop_kind::forward_inference, alg, e.data,
                                        e.data, ls, fa, fb, fk);
    // On plain NCHW oneDNN 3.2 has only its reference LRN, slower than ours (lrn.cc): use
    // oneDNN only where it has a real kernel.
    if (std::strncmp(inf.impl_info_str(), "ref", 3) == 0) throw dn::error(dnnl_unimplemented, "ref lrn");
    e.fwd = dn::lrn_forward(inf);
    dn::lrn_forward::primitive_desc tr(Engine(), dn::prop_kind::forward_training, alg, e.data,
                                       e.data, ls, fa, fb, fk);
    e.fwd_train = dn::lrn_forward(tr);
    e.ws = tr.workspace_desc();
    dn::lrn_backward::primitive_desc bw(Engine(), alg, e.data, e.data, e.data, ls, fa, fb, fk,
                                        tr);
    e.bwd = dn::lrn_backward(bw);
  });
}

}  // namespace

// oneDNN's across-channel window is symmetric, c - (size-1)/2 .. c + (size-1)/2, which is
// ours (c - (size-1)/2 .. c + size/2) only for odd sizes; even sizes use the reference.
bool LRNForward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y) {
  if (size % 2 == 0) return false;
  auto e = LRNPrims(x, size, alpha, beta, k);
  if (!e->ok) return false;
  e->fwd.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->data, x)}, {DNNL_ARG_DST, Mem(e->data, *y)}});
  Stream().wait();
  return true;
}

bool LRNBackward(const Tensor& dy, const Tensor& x, size_t size, double alpha, double beta,
                 double k, Tensor* dx) {
  if (size % 2 == 0) return false;
  auto e = LRNPrims(x, size, alpha, beta, k);
  if (!e->ok) return false;
  std::unordered_map<int, dn::memory> args{{DNNL_ARG_SRC, Mem(e->data, x)},
                                           {DNNL_ARG_DIFF_DST, Mem(e->data, dy)},
                                           {DNNL_ARG_DIFF_SRC, Mem(e->data, *dx)}};
  Scratch scratch;  // lives until the backward below has run
  if (e->ws.get_size() > 0) {
    // Some implementations keep the normaliser in a workspace; recompute it from x.
    dn::memory ws(e->ws, Engine(), scratch.Get(e->ws.get_size()));
    dn::memory tmp(e->data, Engine(), scratch.Get(e->data.get_size()));
    e->fwd_train.execute(Stream(), {{DNNL_ARG_SRC, Mem(e->data, x)}, {DNNL_ARG_DST, tmp},
                                    {DNNL_ARG_WORKSPACE, ws}});
    args.emplace(DNNL_ARG_WORKSPACE, ws);
  }
  e->bwd.execute(Stream(), args);
  Stream().wait();
  return true;
}

#endif  // USE_DNNL

}  // namespace dnnl_nn
}  // namespace singa
