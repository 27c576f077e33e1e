// oneDNN pooling (see dnnl_nn.h), max and average, forward and backward, float32.
//
// On plain NCHW oneDNN 3.2 takes its jit pooling only for some ISAs and sizes; otherwise
// it runs simple_nchw, a scalar loop (with AVX2 forced, CIFAR's three pools: 113 ms of CPU
// per step against 12 ms on blocked copies, one thread; 48% of the step on an AVX2 EPYC).
// There the pooling runs on channel-blocked copies (nChw8c / nChw16c) instead, with a
// reorder in and one out; where the plain layout gets a jit kernel it is used directly.
// Where oneDNN outputs stay blocked (KeepBlocked, dnnl_common.h) a blocked input is read
// as it is and the output keeps the layout, so a conv -> pool chain reorders nothing.
#include "cpu/dnnl_nn.h"

#ifdef USE_DNNL
#include "cpu/dnnl_common.h"
#endif

namespace singa {
namespace dnnl_nn {

#ifndef USE_DNNL

bool PoolForward(const PoolingHandle&, const Tensor&, Tensor*) { return false; }
bool PoolBackward(const PoolingHandle&, const Tensor&, const Tensor&, Tensor*) { return false; }

#else  // USE_DNNL

namespace {

struct PoolEntry : Entry {
  // The user's plain tensors and the layout the primitives run on (the same when plain).
  Operand src, dst, diff_dst, diff_src;
  Prim<dn::pooling_forward> fwd;  // inference: no workspace
  Prim<dn::pooling_forward> fwd_train;
  dn::memory::desc ws;
  Prim<dn::pooling_backward> bwd;
};

struct PoolPds {
  dn::pooling_forward::primitive_desc inf, train;
  dn::pooling_backward::primitive_desc bwd;
};

PoolPds MakePoolPds(const PoolingHandle& h, const dn::memory::desc& src,
                    const dn::memory::desc& dst) {
  auto d = [](size_t v) { return static_cast<dn::memory::dim>(v); };
  Dims strides{d(h.stride_h), d(h.stride_w)}, kernel{d(h.kernel_h), d(h.kernel_w)}, dil{0, 0},
      pl{d(h.pad_top), d(h.pad_left)}, pr{d(h.pad_bottom), d(h.pad_right)};
  auto alg = h.is_max_pooling       ? dn::algorithm::pooling_max
             : h.count_include_pad ? dn::algorithm::pooling_avg_include_padding
                                   : dn::algorithm::pooling_avg_exclude_padding;
  PoolPds p;
  p.inf = dn::pooling_forward::primitive_desc(Engine(), dn::prop_kind::forward_inference, alg,
                                              src, dst, strides, kernel, dil, pl, pr, Attr());
  p.train = dn::pooling_forward::primitive_desc(Engine(), dn::prop_kind::forward_training, alg,
                                                src, dst, strides, kernel, dil, pl, pr, Attr());
  p.bwd = dn::pooling_backward::primitive_desc(Engine(), alg, src, dst, strides, kernel, dil, pl,
                                               pr, p.train, Attr());
  return p;
}

std::shared_ptr<PoolEntry> PoolPrims(const PoolingHandle& h, size_t n) {
  std::vector<int64_t> key{3, int64_t(n), int64_t(h.channels), int64_t(h.height),
                           int64_t(h.width), int64_t(h.kernel_h), int64_t(h.kernel_w),
                           int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.pad_top),
                           int64_t(h.pad_bottom), int64_t(h.pad_left), int64_t(h.pad_right),
                           h.is_max_pooling, h.count_include_pad};
  return Cached<PoolEntry>(key, [&](PoolEntry& e) {
    auto d = [](size_t v) { return static_cast<dn::memory::dim>(v); };
    const Dims src_dims{d(n), d(h.channels), d(h.height), d(h.width)},
        dst_dims{d(n), d(h.channels), d(h.pooled_height), d(h.pooled_width)};
    const auto user_src = Plain(src_dims), user_dst = Plain(dst_dims);
    PoolPds p = MakePoolPds(h, user_src, user_dst);
    // The blocked copies cost two reorders a call, worth it only against a non-jit kernel;
    // if the blocked layout gets no jit kernel either, the plain one saves the reorders.
    // Where tensors stay blocked (KeepBlocked) the pool's input usually is a blocked conv
    // output and its output goes on to blocked kernels: the blocked jit kernel costs no
    // reorder at all then, so it is taken whenever it exists.
    if (KeepBlocked() || !IsJit(p.inf) || !IsJit(p.bwd)) {
      try {
        PoolPds blocked = MakePoolPds(h, ChannelBlocked(src_dims), ChannelBlocked(dst_dims));
        if (IsJit(blocked.inf) && IsJit(blocked.bwd)) p = blocked;
      } catch (const dn::error&) {
        // no blocked implementation for this geometry: stay on the plain one
      }
    }
    e.fwd.Init(p.inf);
    e.fwd_train.Init(p.train);
    e.ws = p.train.workspace_desc();
    e.bwd.Init(p.bwd);
    e.src.Init(user_src, p.inf.src_desc(), true);
    e.dst.Init(user_dst, p.inf.dst_desc(), false);
    e.diff_dst.Init(user_dst, p.bwd.diff_dst_desc(), true);
    e.diff_src.Init(user_src, p.bwd.diff_src_desc(), false);
  });
}

}  // namespace

bool PoolForward(const PoolingHandle& h, const Tensor& x, Tensor* y) {
  auto e = PoolPrims(h, x.shape(0));
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), dst = e->dst.Out(y, scratch);
  e->fwd.Run({{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, scratch);
  e->dst.Finish(dst, y, scratch);
  Stream().wait();
  return true;
}

bool PoolBackward(const PoolingHandle& h, const Tensor& dy, const Tensor& x, Tensor* dx) {
  auto e = PoolPrims(h, x.shape(0));
  if (!e->ok) return false;
  Scratch scratch(*x.device());  // lives until the backward below has run
  auto diff_dst = e->diff_dst.In(dy, scratch), diff_src = e->diff_src.Out(dx, scratch);
  std::unordered_map<int, dn::memory> args{{DNNL_ARG_DIFF_DST, diff_dst},
                                           {DNNL_ARG_DIFF_SRC, diff_src}};
  if (e->ws.get_size() > 0) {
    // Max pooling: the backward needs the argmax workspace, which SINGA's API does not
    // carry from the forward; recompute it (the forward is cheap next to the conv layers).
    auto src = e->src.In(x, scratch);
    dn::memory ws(e->ws, Engine(), scratch.Get(e->ws.get_size()));
    dn::memory tmp(e->dst.inner, Engine(), scratch.Get(e->dst.inner.get_size()));
    e->fwd_train.Run({{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, tmp}, {DNNL_ARG_WORKSPACE, ws}},
                     scratch);
    args.emplace(DNNL_ARG_WORKSPACE, ws);
  }
  e->bwd.Run(std::move(args), scratch);
  e->diff_src.Finish(diff_src, dx, scratch);
  Stream().wait();
  return true;
}

#endif  // USE_DNNL

}  // namespace dnnl_nn
}  // namespace singa
