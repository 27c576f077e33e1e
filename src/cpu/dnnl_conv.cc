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
#include "cpu/dnnl_conv_geom.h"

namespace singa {
namespace dnnl_nn {

namespace {

// Attributes with oneDNN's eltwise_relu post-op, applied to each output block while it is
// still in registers.
dn::primitive_attr ReLUAttr() {
  dn::primitive_attr attr = Attr();
  dn::post_ops ops;
  ops.append_eltwise(dn::algorithm::eltwise_relu, 0.f, 0.f);
  attr.set_post_ops(ops);
  return attr;
}

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
                 Tensor* y, bool relu) {
  const size_t n = x.shape(0);
  const DataType dt = x.data_type();
  const DnType t = DnnlType(dt);
  const ConvPrim kind = relu ? kFwdReLU : kFwd;
  auto e = Cached<ConvFwdEntry>(ConvKey(kind, dt, h, n, b != nullptr), [&](ConvFwdEntry& e) {
    ConvGeom g = Geometry(h, n);
    // The fused conv + ReLU takes the plain forward's layout rule: it is the same kernel.
    auto pd = ConvFwdPd(g, b != nullptr, dn::prop_kind::forward_training, ConvBlocked(h, kFwd), t,
                        relu ? ReLUAttr() : Attr());
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
