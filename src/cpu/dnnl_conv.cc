// oneDNN convolutions (see dnnl_nn.h), in float32 and, where the CPU computes them
// natively (NativeHalf, cpu/half_compute.h), float16 and bfloat16.
//
// User tensors are plain NCHW (`abcd`). For most convolutions oneDNN chooses blocked
// internal layouts (format_tag::any) and we reorder into and out of them: on AVX-512 the
// blocked direct kernels beat oneDNN's own plain-layout (gemm) convolution by far more than
// the reorders cost (see ConvBlocked for the exceptions).
#ifdef USE_DNNL

#include "core/config.h"
#include "cpu/dnnl_common.h"
#include "cpu/dnnl_conv_geom.h"

namespace singa {
namespace dnnl_nn {

namespace {

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
  auto src = e->src.In(Ptr(x), scratch), wei = e->wei.In(Ptr(W), scratch),
       dst = e->dst.Out(Ptr(*y), scratch);
  std::unordered_map<int, dn::memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (b) args.emplace(DNNL_ARG_BIAS, Mem(e->bias, *b));
  e->prim.Run(std::move(args), scratch);
  e->dst.Finish(dst, Ptr(*y), scratch);
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
  auto ddst = e->diff_dst.In(Ptr(dy), scratch), wei = e->wei.In(Ptr(W), scratch),
       dsrc = e->diff_src.Out(Ptr(*dx), scratch);
  e->prim.Run({{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, dsrc}},
              scratch);
  e->diff_src.Finish(dsrc, Ptr(*dx), scratch);
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
  auto src = e->src.In(Ptr(x), scratch), ddst = e->diff_dst.In(Ptr(dy), scratch),
       dwei = e->diff_wei.Out(Ptr(*dW), scratch);
  e->prim.Run({{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dwei}},
              scratch);
  e->diff_wei.Finish(dwei, Ptr(*dW), scratch);
  Stream().wait();
  return true;
}

}  // namespace dnnl_nn
}  // namespace singa

#endif  // USE_DNNL
