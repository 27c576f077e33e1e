// oneDNN convolution geometry shared by the plain convolutions (dnnl_conv.cc) and the
// fused ones (dnnl_fused.cc): the layout choice, the dims of a ConvHandle, the cache key
// and the forward primitive descriptor, so both build identical primitives for one shape.
// Included only where USE_DNNL is defined.
#pragma once

#include "core/config.h"
#include "cpu/dnnl_common.h"

namespace singa {
namespace dnnl_nn {

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
enum ConvPrim { kFwd = 0, kBwdData = 1, kBwdWeights = 2, kFwdReLU = 3 };

inline bool ConvBlocked(const ConvHandle& h, ConvPrim prim) {
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

inline ConvGeom Geometry(const ConvHandle& h, size_t n) {
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

inline std::vector<int64_t> ConvKey(int kind, DataType dt, const ConvHandle& h, size_t n,
                                    bool bias) {
  return {kind, int64_t(dt), int64_t(n), int64_t(h.channels), int64_t(h.height), int64_t(h.width),
          int64_t(h.num_filters), int64_t(h.group), int64_t(h.kernel_h), int64_t(h.kernel_w),
          int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.dilation_h),
          int64_t(h.dilation_w), int64_t(h.pad_top), int64_t(h.pad_bottom),
          int64_t(h.pad_left), int64_t(h.pad_right), bias};
}

// Descriptors of dims `d` in dtype `t`, in oneDNN's chosen (blocked) or the plain layout.
using MdFn = dn::memory::desc (*)(const Dims&, DnType);

// `attr` carries post-ops for the fused convolutions; the plain ones take Attr().
inline dn::convolution_forward::primitive_desc ConvFwdPd(const ConvGeom& g, bool bias,
                                                         dn::prop_kind prop, bool blocked,
                                                         DnType t,
                                                         const dn::primitive_attr& attr = Attr()) {
  MdFn md = blocked ? Any : Plain;
  if (bias)
    return dn::convolution_forward::primitive_desc(
        Engine(), prop, dn::algorithm::convolution_direct, md(g.src, t), md(g.wei, t),
        Plain(g.bias, t), md(g.dst, t), g.strides, g.dilates, g.pad_l, g.pad_r, attr);
  return dn::convolution_forward::primitive_desc(Engine(), prop,
                                                 dn::algorithm::convolution_direct, md(g.src, t),
                                                 md(g.wei, t), md(g.dst, t), g.strides,
                                                 g.dilates, g.pad_l, g.pad_r, attr);
}

struct ConvFwdEntry : Entry {
  Prim<dn::convolution_forward> prim;
  Operand src, wei, dst;
  dn::memory::desc bias;
};

}  // namespace dnnl_nn
}  // namespace singa
