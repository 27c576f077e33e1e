// oneDNN convolutions (see dnnl_nn.h), in float32 and, where the CPU computes them
// natively (NativeHalf, cpu/half_compute.h), float16 and bfloat16.
//
// For most convolutions oneDNN chooses blocked internal layouts (format_tag::any). Inputs
// already in that layout (a previous oneDNN kernel's output, see KeepBlocked) are read as
// they are, plain NCHW ones reordered in; a channel-blocked output is written straight
// into the output tensor, which then holds that layout until read as NCHW. On AVX-512 the
// blocked direct kernels beat oneDNN's own plain-layout (gemm) convolution by far more than
// the reorders cost (see ConvBlocked for the exceptions).
#ifdef USE_DNNL

#include "core/config.h"
#include "cpu/dnnl_common.h"

namespace singa {
namespace dnnl_nn {

namespace {

// Whether a conv primitive should run on oneDNN's blocked layouts (with reorders) or on
// the user's plain NCHW (oneDNN's gemm convolution). Measured on AVX-512 (oneDNN 3.2):
// blocked direct kernels are 2-15x faster than plain for 3x3/5x5 and depthwise convs, but
// 1x1 convs gain nothing there and pay two reorders of large activations, and the blocked
// backward-data kernel for < 16 input channels (a network's first layer) is 4-8x slower
// than the plain one. Re-measured with AVX2 forced on Xception's 1x1 shapes (one thread):
// oneDNN's jit_1x1:avx2 computes no faster than its gemm on plain NCHW (both near the FMA
// peak) and adds the reorders, so the same rules hold for both ISAs.
// Those 1x1 figures included the reorders. Where activations stay blocked between oneDNN
// kernels (KeepBlocked) a blocked 1x1 conv costs none, and Xception's step (34 pointwise
// convs, one thread, CPU time, four alternating runs each) took 1356-1587 ms blocked
// against 1551-1798 ms plain on AVX-512, 2148-2238 against 2150-2614 ms with AVX2 forced:
// pointwise convs run blocked then.
// SINGA_DNNL_LAYOUT=plain|blocked overrides (for measuring).
enum ConvPrim { kFwd = 0, kBwdData = 1, kBwdWeights = 2 };

bool ConvBlocked(const ConvHandle& h, ConvPrim prim) {
  static const int forced = [] {
    const std::string e = ConfigString("SINGA_DNNL_LAYOUT");
    if (e == "plain") return 0;
    if (e == "blocked") return 1;
    return -1;
  }();
  if (forced >= 0) return forced == 1;
  const bool pointwise = h.kernel_h == 1 && h.kernel_w == 1 && h.stride_h == 1 &&
                         h.stride_w == 1 && h.group == 1 &&
                         h.pad_top + h.pad_bottom + h.pad_left + h.pad_right == 0;
  if (pointwise) return KeepBlocked();
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

std::vector<int64_t> ConvKey(int kind, DataType dt, const ConvHandle& h, size_t n, bool bias) {
  return {kind, int64_t(dt), int64_t(n), int64_t(h.channels), int64_t(h.height), int64_t(h.width),
          int64_t(h.num_filters), int64_t(h.group), int64_t(h.kernel_h), int64_t(h.kernel_w),
          int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.dilation_h),
          int64_t(h.dilation_w), int64_t(h.pad_top), int64_t(h.pad_bottom),
          int64_t(h.pad_left), int64_t(h.pad_right), bias};
}

// Descriptors of dims `d` in dtype `t`, in oneDNN's chosen (blocked) or the plain layout.
using MdFn = dn::memory::desc (*)(const Dims&, DnType);

dn::convolution_forward::primitive_desc ConvFwdPd(const ConvGeom& g, bool bias,
                                                  dn::prop_kind prop, bool blocked, DnType t) {
  MdFn md = blocked ? Any : Plain;
  if (bias)
    return dn::convolution_forward::primitive_desc(
        Engine(), prop, dn::algorithm::convolution_direct, md(g.src, t), md(g.wei, t),
        Plain(g.bias, t), md(g.dst, t), g.strides, g.dilates, g.pad_l, g.pad_r, Attr());
  return dn::convolution_forward::primitive_desc(Engine(), prop,
                                                 dn::algorithm::convolution_direct, md(g.src, t),
                                                 md(g.wei, t), md(g.dst, t), g.strides,
                                                 g.dilates, g.pad_l, g.pad_r, Attr());
}

struct ConvFwdEntry : Entry {
  Prim<dn::convolution_forward> prim;
  Operand src, wei, dst;
  dn::memory::desc bias;
};

struct ConvBwdDataEntry : Entry {
  Prim<dn::convolution_backward_data> prim;
  Operand diff_dst, wei, diff_src;
};

struct ConvBwdWeiEntry : Entry {
  Prim<dn::convolution_backward_weights> prim;
  Operand src, diff_dst, diff_wei;
};

}  // namespace

bool ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b,
                 Tensor* y) {
  const size_t n = x.shape(0);
  const DataType dt = x.data_type();
  const DnType t = DnnlType(dt);
  auto e = Cached<ConvFwdEntry>(ConvKey(kFwd, dt, h, n, b != nullptr), [&](ConvFwdEntry& e) {
    ConvGeom g = Geometry(h, n);
    auto pd = ConvFwdPd(g, b != nullptr, dn::prop_kind::forward_training, ConvBlocked(h, kFwd), t);
    RequireOptimised(pd, dt);
    e.prim.Init(pd);
    e.src.Init(Plain(g.src, t), pd.src_desc(), true);
    e.wei.Init(Plain(g.wei, t), pd.weights_desc(), true);
    e.dst.Init(Plain(g.dst, t), pd.dst_desc(), false);
    e.bias = Plain(g.bias, t);
  });
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), wei = e->wei.In(Ptr(W), scratch), dst = e->dst.Out(y, scratch);
  std::unordered_map<int, dn::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, Mem(e->bias, *b));
  e->prim.Run(std::move(args), scratch);
  e->dst.Finish(dst, y, scratch);
  Stream().wait();
  return true;
}

bool ConvBackwardData(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx) {
  const size_t n = dx->shape(0);
  const DataType dt = dy.data_type();
  const DnType t = DnnlType(dt);
  auto e = Cached<ConvBwdDataEntry>(ConvKey(kBwdData, dt, h, n, false), [&](ConvBwdDataEntry& e) {
    ConvGeom g = Geometry(h, n);
    const bool blocked = ConvBlocked(h, kBwdData);
    auto hint = ConvFwdPd(g, false, dn::prop_kind::forward_training, blocked, t);
    MdFn md = blocked ? Any : Plain;
    dn::convolution_backward_data::primitive_desc pd(
        Engine(), dn::algorithm::convolution_direct, md(g.src, t), md(g.wei, t), md(g.dst, t),
        g.strides, g.dilates, g.pad_l, g.pad_r, hint, Attr());
    RequireOptimised(pd, dt);
    e.prim.Init(pd);
    e.diff_dst.Init(Plain(g.dst, t), pd.diff_dst_desc(), true);
    e.wei.Init(Plain(g.wei, t), pd.weights_desc(), true);
    e.diff_src.Init(Plain(g.src, t), pd.diff_src_desc(), false);
  });
  if (!e->ok) return false;
  Scratch scratch(*dy.device());
  auto ddst = e->diff_dst.In(dy, scratch), wei = e->wei.In(Ptr(W), scratch),
       dsrc = e->diff_src.Out(dx, scratch);
  e->prim.Run({{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}},
              scratch);
  e->diff_src.Finish(dsrc, dx, scratch);
  Stream().wait();
  return true;
}

bool ConvBackwardWeights(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW) {
  const size_t n = x.shape(0);
  const DataType dt = dy.data_type();
  const DnType t = DnnlType(dt);
  auto e = Cached<ConvBwdWeiEntry>(ConvKey(kBwdWeights, dt, h, n, false), [&](ConvBwdWeiEntry& e) {
    ConvGeom g = Geometry(h, n);
    const bool blocked = ConvBlocked(h, kBwdWeights);
    auto hint = ConvFwdPd(g, false, dn::prop_kind::forward_training, blocked, t);
    MdFn md = blocked ? Any : Plain;
    dn::convolution_backward_weights::primitive_desc pd(
        Engine(), dn::algorithm::convolution_direct, md(g.src, t), md(g.wei, t), md(g.dst, t),
        g.strides, g.dilates, g.pad_l, g.pad_r, hint, Attr());
    RequireOptimised(pd, dt);
    e.prim.Init(pd);
    e.src.Init(Plain(g.src, t), pd.src_desc(), true);
    e.diff_dst.Init(Plain(g.dst, t), pd.diff_dst_desc(), true);
    e.diff_wei.Init(Plain(g.wei, t), pd.diff_weights_desc(), false);
  });
  if (!e->ok) return false;
  Scratch scratch(*x.device());
  auto src = e->src.In(x, scratch), ddst = e->diff_dst.In(dy, scratch),
       dwei = e->diff_wei.Out(Ptr(*dW), scratch);
  e->prim.Run({{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei}},
              scratch);
  e->diff_wei.Finish(dwei, Ptr(*dW), scratch);
  Stream().wait();
  return true;
}

bool ConvBackwardBias(const Tensor& dy, Tensor* db) {
  // Only a channel-blocked float32 dy is summed here, in its own layout (a plain one
  // goes to the reference sum): converting it to NCHW for the sum would be a reorder of
  // the whole gradient, which conv's other backward kernels just read blocked.
  const auto& blk = dy.block();
  if (dy.data_type() != kFloat32 || db->data_type() != kFloat32 || !blk || !blk->blocked())
    return false;
  const MemLayout& l = blk->layout();
  if (!BlockedData(dy, LayoutDesc(l))) return false;
  const int64_t B = l.channel_block, groups = (l.c + B - 1) / B, hw = l.h * l.w;
  const float* src = static_cast<const float*>(blk->data());
  std::vector<double> sum(static_cast<size_t>(groups * B), 0.0);
  for (int64_t n = 0; n < l.n; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const float* row = src + (n * groups + g) * hw * B;
      float part[16] = {};
      for (int64_t i = 0; i < hw; ++i)
        for (int64_t k = 0; k < B; ++k) part[k] += row[i * B + k];
      for (int64_t k = 0; k < B; ++k) sum[static_cast<size_t>(g * B + k)] += part[k];
    }
  float* out = static_cast<float*>(db->raw());
  for (int64_t c = 0; c < l.c; ++c) out[c] = static_cast<float>(sum[static_cast<size_t>(c)]);
  return true;
}

}  // namespace dnnl_nn
}  // namespace singa

#endif  // USE_DNNL
