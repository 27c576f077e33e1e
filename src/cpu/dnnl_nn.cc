// oneDNN fast paths for batch norm and LRN, and the choice of backend (see dnnl_nn.h).
// These run on the input's own layout (plain NCHW, or channel-blocked for batch norm),
// where a reorder would cost as much as the op itself. Convolutions are in dnnl_conv.cc, pooling in dnnl_pool.cc.
#include "cpu/dnnl_nn.h"

#include <atomic>
#include <cstring>
#include <string>

#include "core/config.h"
#ifdef USE_DNNL
#include "cpu/dnnl_common.h"
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
    // An unknown value or "dnnl" without oneDNN falls back quietly: the environment
    // must not make importing singa fail.
    if (!ParseBackend(ConfigString("SINGA_CONV_BACKEND"), &b) ||
        (b == NNBackend::kDnnl && !dnnl_nn::Compiled()))
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
bool ConvForward(const ConvHandle&, const Tensor&, const Tensor&, const Tensor*, Tensor*, bool) {
  return false;
}
bool ConvBackwardData(const ConvHandle&, const Tensor&, const Tensor&, Tensor*) { return false; }
bool ConvBackwardWeights(const ConvHandle&, const Tensor&, const Tensor&, Tensor*) {
  return false;
}
bool ConvBackwardBias(const Tensor&, Tensor*) { return false; }
bool BatchNormUsesDnnl(const Tensor&) { return false; }
bool BatchNormForwardTraining(const BatchNormHandle&, const Tensor&, const Tensor&,
                              const Tensor&, Tensor*, Tensor*, Tensor*, bool) {
  return false;
}
bool BatchNormForwardInference(const BatchNormHandle&, const Tensor&, const Tensor&,
                               const Tensor&, const Tensor&, const Tensor&, Tensor*, bool) {
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

bool Compiled() { return true; }

// ---------------------------------------------------------------- batch norm

namespace {

struct BNEntry : Entry {
  dn::memory::desc data, stat, workspace;
  // The user's tensors against the layout the primitives run on (the same when plain).
  Operand src, dst, diff_dst, diff_src;
  Prim<dn::batch_normalization_forward> train, infer;
  Prim<dn::batch_normalization_backward> bwd;
};

// Whether x is (N, C) data ((N, C, 1, 1) included: the same memory).
bool BNFlat(const Tensor& x) { return x.nDim() == 2 || x.Size() == x.shape(0) * x.shape(1); }

// On plain NCHW with spatial axes, oneDNN 3.2's batch norm (ncsp_bnorm) measured no faster
// than ours in training and 2-4x slower in inference and backward (batchnorm.cc), so only
// (N, C) inputs, where it is ~2x faster, went to oneDNN. Where activations stay blocked
// (KeepBlocked) a 4-D batch norm runs oneDNN's jit kernel (bnorm_jit, nChw16c / nChw8c) on
// the blocked layout instead, reordering a plain input in: always, not only for blocked
// inputs, so that reading a tensor as NCHW (printing it, anomaly detection) never changes
// which kernel, and so which rounding, the step after it gets.
bool BNUseDnnl(const Tensor& x) { return BNFlat(x) || (x.nDim() == 4 && KeepBlocked()); }

// relu: the forward primitives apply a ReLU to their output (fuse_norm_relu; the fused
// batch norm + ReLU, dnnl_fused.cc), whose backward masks dy and runs the plain entry's.
std::shared_ptr<BNEntry> BNPrims(const BatchNormHandle& h, const Tensor& x, bool relu = false) {
  // (N, C) inputs are (N, C, 1, 1): the same memory.
  const int64_t n = x.shape(0), c = x.shape(1), hh = x.nDim() == 4 ? x.shape(2) : 1,
                w = x.nDim() == 4 ? x.shape(3) : 1;
  const bool blocked = !BNFlat(x);
  int64_t eps_bits;
  static_assert(sizeof(eps_bits) == sizeof(h.eps));
  std::memcpy(&eps_bits, &h.eps, sizeof(eps_bits));
  return Cached<BNEntry>({4, n, c, hh, w, eps_bits, blocked, relu}, [&](BNEntry& e) {
    const auto plain = Plain({n, c, hh, w});
    e.data = blocked ? ChannelBlocked({n, c, hh, w}) : plain;
    e.stat = Plain({c});
    e.src.Init(plain, e.data, true);
    e.dst.Init(plain, e.data, false);
    e.diff_dst.Init(plain, e.data, true);
    e.diff_src.Init(plain, e.data, false);
    const float eps = static_cast<float>(h.eps);
    const auto flags = dn::normalization_flags::use_scale | dn::normalization_flags::use_shift;
    const auto fwd_flags = relu ? flags | dn::normalization_flags::fuse_norm_relu : flags;
    dn::batch_normalization_forward::primitive_desc tr(
        Engine(), dn::prop_kind::forward_training, e.data, e.data, eps, fwd_flags, Attr());
    e.train.Init(tr);
    // With the ReLU, training keeps a bit mask for oneDNN's own backward; ours reads the
    // mask from y > 0 instead, so the mask only needs scratch memory.
    e.workspace = tr.workspace_desc();
    dn::batch_normalization_forward::primitive_desc inf(
        Engine(), dn::prop_kind::forward_inference, e.data, e.data, eps,
        fwd_flags | dn::normalization_flags::use_global_stats, Attr());
    e.infer.Init(inf);
    if (relu) return;
    dn::batch_normalization_backward::primitive_desc bw(Engine(), dn::prop_kind::backward,
                                                        e.data, e.data, e.data, eps, flags, tr,
                                                        Attr());
    e.bwd.Init(bw);
  });
}

}  // namespace

bool BatchNormUsesDnnl(const Tensor& x) { return BNUseDnnl(x); }

bool BatchNormForwardTraining(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                              const Tensor& bias, Tensor* y, Tensor* mean, Tensor* var,
                              bool relu) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x, relu);
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), dst = e->dst.Out(y, scratch);
  std::unordered_map<int, dn::memory> args{{DNNL_ARG_SRC, src},
                                           {DNNL_ARG_DST, dst},
                                           {DNNL_ARG_SCALE, Mem(e->stat, scale)},
                                           {DNNL_ARG_SHIFT, Mem(e->stat, bias)},
                                           {DNNL_ARG_MEAN, Mem(e->stat, *mean)},
                                           {DNNL_ARG_VARIANCE, Mem(e->stat, *var)}};
  if (const size_t ws = e->workspace.get_size())
    args.emplace(DNNL_ARG_WORKSPACE, dn::memory(e->workspace, Engine(), scratch.Get(ws)));
  e->train.Run(std::move(args), scratch);
  e->dst.Finish(dst, y, scratch);
  Stream().wait();
  return true;
}

bool BatchNormForwardInference(const BatchNormHandle& h, const Tensor& x, const Tensor& scale,
                               const Tensor& bias, const Tensor& mean, const Tensor& var,
                               Tensor* y, bool relu) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x, relu);
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), dst = e->dst.Out(y, scratch);
  e->infer.Run({{DNNL_ARG_SRC, src},
                {DNNL_ARG_DST, dst},
                {DNNL_ARG_SCALE, Mem(e->stat, scale)},
                {DNNL_ARG_SHIFT, Mem(e->stat, bias)},
                {DNNL_ARG_MEAN, Mem(e->stat, mean)},
                {DNNL_ARG_VARIANCE, Mem(e->stat, var)}}, scratch);
  e->dst.Finish(dst, y, scratch);
  Stream().wait();
  return true;
}

bool BatchNormBackward(const BatchNormHandle& h, const Tensor& x, const Tensor& dy,
                       const Tensor& scale, const Tensor& mean, const Tensor& var, Tensor* dx,
                       Tensor* dscale, Tensor* dbias) {
  if (!BNUseDnnl(x)) return false;
  auto e = BNPrims(h, x);
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), ddst = e->diff_dst.In(dy, scratch),
       dsrc = e->diff_src.Out(dx, scratch);
  e->bwd.Run({{DNNL_ARG_SRC, src},
              {DNNL_ARG_DIFF_DST, ddst},
              {DNNL_ARG_SCALE, Mem(e->stat, scale)},
              {DNNL_ARG_MEAN, Mem(e->stat, mean)},
              {DNNL_ARG_VARIANCE, Mem(e->stat, var)},
              {DNNL_ARG_DIFF_SRC, dsrc},
              {DNNL_ARG_DIFF_SCALE, Mem(e->stat, *dscale)},
              {DNNL_ARG_DIFF_SHIFT, Mem(e->stat, *dbias)}}, scratch);
  e->diff_src.Finish(dsrc, dx, scratch);
  Stream().wait();
  return true;
}

// ---------------------------------------------------------------- LRN

namespace {

struct LRNEntry : Entry {
  dn::memory::desc data, ws;
  Prim<dn::lrn_forward> fwd, fwd_train;
  Prim<dn::lrn_backward> bwd;
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
                                        e.data, ls, fa, fb, fk, Attr());
    // On plain NCHW oneDNN 3.2 has only its reference LRN, slower than ours (lrn.cc): use
    // oneDNN only where it has a real kernel.
    if (std::strncmp(inf.impl_info_str(), "ref", 3) == 0) throw dn::error(dnnl_unimplemented, "ref lrn");
    e.fwd.Init(inf);
    dn::lrn_forward::primitive_desc tr(Engine(), dn::prop_kind::forward_training, alg, e.data,
                                       e.data, ls, fa, fb, fk, Attr());
    e.fwd_train.Init(tr);
    e.ws = tr.workspace_desc();
    dn::lrn_backward::primitive_desc bw(Engine(), alg, e.data, e.data, e.data, ls, fa, fb, fk,
                                        tr, Attr());
    e.bwd.Init(bw);
  });
}

}  // namespace

// oneDNN's across-channel window is symmetric, c - (size-1)/2 .. c + (size-1)/2, which is
// ours (c - (size-1)/2 .. c + size/2) only for odd sizes; even sizes use the reference.
bool LRNForward(const Tensor& x, size_t size, double alpha, double beta, double k, Tensor* y) {
  if (size % 2 == 0) return false;
  auto e = LRNPrims(x, size, alpha, beta, k);
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  e->fwd.Run({{DNNL_ARG_SRC, Mem(e->data, x)}, {DNNL_ARG_DST, Mem(e->data, *y)}}, scratch);
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
  Scratch scratch(*x.device());  // lives until the backward below has run
  if (e->ws.get_size() > 0) {
    // Some implementations keep the normaliser in a workspace; recompute it from x.
    dn::memory ws(e->ws, Engine(), scratch.Get(e->ws.get_size()));
    dn::memory tmp(e->data, Engine(), scratch.Get(e->data.get_size()));
    e->fwd_train.Run({{DNNL_ARG_SRC, Mem(e->data, x)}, {DNNL_ARG_DST, tmp},
                      {DNNL_ARG_WORKSPACE, ws}}, scratch);
    args.emplace(DNNL_ARG_WORKSPACE, ws);
  }
  e->bwd.Run(std::move(args), scratch);
  Stream().wait();
  return true;
}

#endif  // USE_DNNL

}  // namespace dnnl_nn
}  // namespace singa
