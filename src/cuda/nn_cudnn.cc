// The CUDA device's NN kernels (math/kernels.h SINGA_NN_KERNELS): the convolutions on
// cuDNN 9 (forward, backward data, backward filter; groups, dilation; float32, float64,
// float16, bfloat16), everything else on the device's own kernels (cuda/nn_kernels.h says
// why each is not cuDNN's).
//
// Precision: float32 convolutions run in CUDNN_FMA_MATH (no TF32, so they agree with a
// float32 reference), float64 in double, the 16-bit floats with float32 compute on tensor
// cores. Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7, no benchmarking
// runs), the first that cuDNN accepts with a workspace the device can allocate is kept
// per geometry; workspaces and padded copies come from the device's allocator, whose
// blocks are reused in stream order, so they are freed when the entry returns.
//
// Padding: cuDNN pads each axis symmetrically. A ConvHandle with asymmetric padding
// (SAME_UPPER/SAME_LOWER, Pad4) runs on an explicitly zero-padded copy of x with cuDNN
// padding 0 (backward data computes the padded dx and crops it).
//
// Sizes: cuDNN's 4-D descriptors take int dimensions and at most 2^31 - 1 elements per
// tensor, so a large batch runs in chunks of images (the filter gradient accumulates
// over them with beta = 1); a single image past the limit is refused with ValueError.
#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_kernels.h"
#include "cuda/cudnn_api.h"
#include "cuda/nn_kernels.h"

namespace singa {
namespace cuda {

namespace {

namespace dn = cudnn;

dn::DataType CudnnType(DataType dt, const char* fn) {
  switch (dt) {
    case kFloat32: return dn::DataType::kFloat;
    case kDouble: return dn::DataType::kDouble;
    case kFloat16: return dn::DataType::kHalf;
    case kBFloat16: return dn::DataType::kBFloat16;
    default:
      throw TypeError(Msg(fn, ": the CUDA convolution takes float32, float64, float16 or "
                          "bfloat16, got ", DataTypeName(dt)));
  }
}

// ---- descriptors (RAII) ----

class TensorDescriptor {
 public:
  TensorDescriptor(int ordinal, dn::DataType dt, int n, int c, int h, int w) {
    const dn::Api& api = dn::Lib();
    dn::Check(api.cudnnCreateTensorDescriptor(&d_), "cudnnCreateTensorDescriptor", ordinal);
    const dn::Status s = api.cudnnSetTensor4dDescriptor(d_, dn::TensorFormat::kNCHW, dt, n, c, h, w);
    if (s != dn::Status::kSuccess) {
      api.cudnnDestroyTensorDescriptor(d_);
      dn::Check(s, "cudnnSetTensor4dDescriptor", ordinal,
                Msg(" (", n, ", ", c, ", ", h, ", ", w, ")").c_str());
    }
  }
  ~TensorDescriptor() { dn::Lib().cudnnDestroyTensorDescriptor(d_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  dn::TensorDesc get() const { return d_; }

 private:
  dn::TensorDesc d_ = nullptr;
};

class FilterDescriptor {
 public:
  FilterDescriptor(int ordinal, dn::DataType dt, int k, int c, int h, int w) {
    const dn::Api& api = dn::Lib();
    dn::Check(api.cudnnCreateFilterDescriptor(&d_), "cudnnCreateFilterDescriptor", ordinal);
    const dn::Status s = api.cudnnSetFilter4dDescriptor(d_, dt, dn::TensorFormat::kNCHW, k, c, h, w);
    if (s != dn::Status::kSuccess) {
      api.cudnnDestroyFilterDescriptor(d_);
      dn::Check(s, "cudnnSetFilter4dDescriptor", ordinal,
                Msg(" (", k, ", ", c, ", ", h, ", ", w, ")").c_str());
    }
  }
  ~FilterDescriptor() { dn::Lib().cudnnDestroyFilterDescriptor(d_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  dn::FilterDesc get() const { return d_; }

 private:
  dn::FilterDesc d_ = nullptr;
};

class ConvDescriptor {
 public:
  ConvDescriptor(int ordinal, int ph, int pw, int sh, int sw, int dh, int dw, int groups,
                 dn::DataType compute, dn::MathType math)
      : ordinal_(ordinal) {
    const dn::Api& api = dn::Lib();
    dn::Check(api.cudnnCreateConvolutionDescriptor(&d_), "cudnnCreateConvolutionDescriptor",
              ordinal);
    try {
      dn::Check(api.cudnnSetConvolution2dDescriptor(d_, ph, pw, sh, sw, dh, dw,
                                                    dn::ConvolutionMode::kCrossCorrelation,
                                                    compute),
                "cudnnSetConvolution2dDescriptor", ordinal);
      dn::Check(api.cudnnSetConvolutionGroupCount(d_, groups), "cudnnSetConvolutionGroupCount",
                ordinal);
      SetMath(math);
    } catch (...) {
      api.cudnnDestroyConvolutionDescriptor(d_);
      throw;
    }
  }
  ~ConvDescriptor() { dn::Lib().cudnnDestroyConvolutionDescriptor(d_); }
  ConvDescriptor(const ConvDescriptor&) = delete;
  ConvDescriptor& operator=(const ConvDescriptor&) = delete;
  void SetMath(dn::MathType math) {
    dn::Check(dn::Lib().cudnnSetConvolutionMathType(d_, math), "cudnnSetConvolutionMathType",
              ordinal_);
  }
  dn::ConvDesc get() const { return d_; }

 private:
  dn::ConvDesc d_ = nullptr;
  int ordinal_;
};

// ---- geometry ----

enum class ConvOp { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

// The convolution as cuDNN runs it on a chunk of `n` images: x (n, C, Hp, Wp) (padded
// explicitly when the handle's padding is asymmetric), W (F, C/G, KH, KW), y (n, F, OH, OW).
struct Geometry {
  int64_t C, H, W, Hp, Wp, F, Cg, KH, KW, OH, OW;
  int64_t pt, pb, pl, pr;  // the handle's padding
  int ph, pw;              // cuDNN's (0 with an explicit copy)
  bool padded_copy;
  int64_t chunk;  // images per cuDNN call
};

int ToInt(int64_t v, const char* fn, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw ValueError(Msg(fn, ": ", what, " ", v, " is past cuDNN's 32-bit limit (", INT_MAX, ")"));
  return static_cast<int>(v);
}

Geometry GeometryOf(const ConvHandle& h, int64_t N, const char* fn) {
  Geometry g;
  g.C = int64_t(h.channels), g.H = int64_t(h.height), g.W = int64_t(h.width);
  g.F = int64_t(h.num_filters), g.Cg = int64_t(h.channels / h.group);
  g.KH = int64_t(h.kernel_h), g.KW = int64_t(h.kernel_w);
  g.OH = int64_t(h.conv_height), g.OW = int64_t(h.conv_width);
  g.pt = int64_t(h.pad_top), g.pb = int64_t(h.pad_bottom);
  g.pl = int64_t(h.pad_left), g.pr = int64_t(h.pad_right);
  g.padded_copy = g.pt != g.pb || g.pl != g.pr;
  g.Hp = g.padded_copy ? g.H + g.pt + g.pb : g.H;
  g.Wp = g.padded_copy ? g.W + g.pl + g.pr : g.W;
  g.ph = g.padded_copy ? 0 : ToInt(g.pt, fn, "padding");
  g.pw = g.padded_copy ? 0 : ToInt(g.pl, fn, "padding");
  const int64_t img_in = g.C * g.Hp * g.Wp, img_out = g.F * g.OH * g.OW;
  const int64_t per_image = std::max<int64_t>({img_in, img_out, 1});
  if (per_image > INT_MAX)
    throw ValueError(Msg(fn, ": one image of the convolution has ", per_image,
                         " elements, past cuDNN's limit of ", INT_MAX, " per tensor"));
  g.chunk = std::max<int64_t>(1, std::min<int64_t>(N, INT_MAX / per_image));
  return g;
}

// ---- algorithm choice ----

using AlgoKey = std::array<int64_t, 20>;

AlgoKey KeyOf(ConvOp op, DataType dt, int ordinal, const Geometry& g, const ConvHandle& h,
              int64_t n) {
  return {int64_t(op), int64_t(dt), ordinal, n, g.C, g.Hp, g.Wp, g.F, g.KH, g.KW, g.ph, g.pw,
          int64_t(h.stride_h), int64_t(h.stride_w), int64_t(h.dilation_h), int64_t(h.dilation_w),
          int64_t(h.group), 0, 0, 0};
}

// The algorithm that ran for each geometry (as int, with its math type).
struct Chosen {
  int algo;
  dn::MathType math;
};

std::mutex& CacheMutex() {
  static std::mutex m;
  return m;
}
std::map<AlgoKey, Chosen>& Cache() {
  static std::map<AlgoKey, Chosen> cache;
  return cache;
}

// The math type set on the descriptor before asking for algorithms.
dn::MathType BaseMath(DataType dt) {
  if (dt == kFloat32) return dn::MathType::kFMA;  // no TF32
  if (dt == kDouble) return dn::MathType::kDefault;
  return dn::MathType::kTensorOp;
}

// Whether a heuristic's candidate keeps the precision contract.
bool Allowed(DataType dt, dn::MathType m) {
  if (IsHalfFloat(dt)) return true;
  return m == dn::MathType::kDefault || m == dn::MathType::kFMA;
}

// cuDNN 9's status codes come in categories of a thousand: 3xxx is "not supported".
bool NotSupported(dn::Status s) { return static_cast<int>(s) / 1000 == 3; }

// Runs one cuDNN convolution call for `key`: the cached algorithm, or the heuristics'
// candidates in order until one runs. `query(perf*, max, &returned)` lists candidates,
// `ws(algo, &bytes)` sizes the workspace, `exec(algo, ws, bytes)` runs it.
template <typename Perf, typename Algo, typename Query, typename WsSize, typename Exec>
void RunConv(const AlgoKey& key, DataType dt, ConvDescriptor& conv, int max_algos, Query query,
             WsSize ws, Exec exec, CudaGPU& gpu, const char* call, const std::string& what) {
  const int ordinal = gpu.ordinal();
  auto run = [&](Algo algo, dn::MathType math, bool may_fail) -> dn::Status {
    conv.SetMath(math);
    size_t bytes = 0;
    const dn::Status s = ws(algo, &bytes);
    if (s != dn::Status::kSuccess) {
      // A candidate the heuristics listed but cannot be sized for this geometry: the next.
      if (may_fail) return dn::Status::kNotSupported;
      dn::Check(s, "cudnnGetConvolution*WorkspaceSize", ordinal, what.c_str());
    }
    std::shared_ptr<Block> block;
    if (bytes > 0) {
      if (may_fail) {
        try {
          block = gpu.NewBlock(bytes);
        } catch (const std::exception&) {
          return dn::Status::kNotSupported;  // too large a workspace: the next candidate
        }
      } else {
        block = gpu.NewBlock(bytes);
      }
    }
    return exec(algo, block ? block->data() : nullptr, bytes);
  };
  {
    Chosen c;
    bool hit = false;
    {
      std::lock_guard<std::mutex> lock(CacheMutex());
      auto it = Cache().find(key);
      if (it != Cache().end()) c = it->second, hit = true;
    }
    if (hit) {
      dn::Check(run(static_cast<Algo>(c.algo), c.math, false), call, ordinal, what.c_str());
      return;
    }
  }
  conv.SetMath(BaseMath(dt));
  std::vector<Perf> perf(static_cast<size_t>(std::max(max_algos, 1)));
  int returned = 0;
  dn::Check(query(perf.data(), static_cast<int>(perf.size()), &returned),
            "cudnnGetConvolution*Algorithm_v7", ordinal, what.c_str());
  dn::Status last = dn::Status::kNotSupported;
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[static_cast<size_t>(i)];
    if (p.status != dn::Status::kSuccess || !Allowed(dt, p.mathType)) continue;
    const dn::MathType math = IsHalfFloat(dt) ? p.mathType : BaseMath(dt);
    last = run(p.algo, math, true);
    if (last == dn::Status::kSuccess) {
      std::lock_guard<std::mutex> lock(CacheMutex());
      Cache()[key] = {static_cast<int>(p.algo), math};
      return;
    }
    if (!NotSupported(last)) break;  // a real error: report it
  }
  dn::Check(last == dn::Status::kSuccess ? dn::Status::kNotSupported : last, call, ordinal,
            Msg(what, ": no cuDNN algorithm ran (", returned, " candidates)").c_str());
}

std::string Describe(const ConvHandle& h, int64_t n, DataType dt) {
  return Msg(" (", DataTypeName(dt), " x (", n, ", ", h.channels, ", ", h.height, ", ", h.width,
             ") W (", h.num_filters, ", ", h.channels / h.group, ", ", h.kernel_h, ", ", h.kernel_w,
             ") stride (", h.stride_h, ", ", h.stride_w, ") pad (", h.pad_top, ", ", h.pad_bottom,
             ", ", h.pad_left, ", ", h.pad_right, ") dilation (", h.dilation_h, ", ", h.dilation_w,
             ") group ", h.group, ")");
}

// Scalars alpha = 1 and beta (0 or 1) in the type cuDNN reads for dt.
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  bool dbl;
  explicit Scalars(DataType dt) : dbl(dt == kDouble) {}
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : &f0; }
};

// Everything one convolution entry needs.
struct ConvCall {
  const char* fn;
  DataType dt;
  dn::DataType cdt, compute;
  CudaGPU& gpu;
  cudnnHandle_t handle;
  Geometry g;
  size_t es;
  int64_t N;
  ConvCall(const char* fn_, const ConvHandle& h, const Tensor& on, int64_t n)
      : fn(fn_), dt(on.data_type()), cdt(CudnnType(dt, fn_)),
        compute(dt == kDouble ? dn::DataType::kDouble : dn::DataType::kFloat),
        gpu(GpuOf(on, fn_)), handle(nullptr), g(GeometryOf(h, n, fn_)), es(SizeOf(dt)), N(n) {
    gpu.Activate();
    handle = gpu.cudnn();
  }
};

// x of chunk [n0, n0 + n) as cuDNN reads it: the images themselves, or their padded copy
// in `keep`.
const void* ChunkInput(const ConvCall& c, const Tensor& x, int64_t n0, int64_t n,
                       std::shared_ptr<Block>& keep) {
  const char* base = static_cast<const char*>(x.raw()) + n0 * c.g.C * c.g.H * c.g.W * int64_t(c.es);
  if (!c.g.padded_copy) return base;
  keep = c.gpu.NewBlock(size_t(n * c.g.C * c.g.Hp * c.g.Wp) * c.es);
  nn::PadPlanes(base, keep->data(), n * c.g.C, c.g.H, c.g.W, c.g.pt, c.g.pb, c.g.pl, c.g.pr, c.es, x);
  return keep->data();
}

void ConvForward(const ConvHandle& h, const Tensor& x, const Tensor& W, const Tensor* b,
                 Tensor* y) {
  const int64_t N = int64_t(x.shape(0));
  if (N == 0 || y->Size() == 0) return;
  ConvCall c("CpuConvForward", h, x, N);
  const Geometry& g = c.g;
  const dn::Api& api = dn::Lib();
  const int ord = c.gpu.ordinal();
  const Scalars sc(c.dt);
  FilterDescriptor wd(ord, c.cdt, ToInt(g.F, c.fn, "filters"), ToInt(g.Cg, c.fn, "channels"),
                      ToInt(g.KH, c.fn, "kernel"), ToInt(g.KW, c.fn, "kernel"));
  ConvDescriptor conv(ord, g.ph, g.pw, int(h.stride_h), int(h.stride_w), int(h.dilation_h),
                      int(h.dilation_w), int(h.group), c.compute, BaseMath(c.dt));
  int max_algos = 0;
  dn::Check(api.cudnnGetConvolutionForwardAlgorithmMaxCount(c.handle, &max_algos),
            "cudnnGetConvolutionForwardAlgorithmMaxCount", ord);
  for (int64_t n0 = 0; n0 < N; n0 += g.chunk) {
    const int64_t n = std::min(g.chunk, N - n0);
    std::shared_ptr<Block> padded;
    const void* xin = ChunkInput(c, x, n0, n, padded);
    char* yout = static_cast<char*>(y->raw()) + n0 * g.F * g.OH * g.OW * int64_t(c.es);
    TensorDescriptor xd(ord, c.cdt, int(n), int(g.C), ToInt(g.Hp, c.fn, "height"),
                        ToInt(g.Wp, c.fn, "width"));
    TensorDescriptor yd(ord, c.cdt, int(n), int(g.F), int(g.OH), int(g.OW));
    RunConv<dn::FwdAlgoPerf, dn::FwdAlgo>(
        KeyOf(ConvOp::kForward, c.dt, ord, g, h, n), c.dt, conv, max_algos,
        [&](dn::FwdAlgoPerf* p, int m, int* r) {
          return api.cudnnGetConvolutionForwardAlgorithm_v7(c.handle, xd.get(), wd.get(),
                                                            conv.get(), yd.get(), m, r, p);
        },
        [&](dn::FwdAlgo a, size_t* bytes) {
          return api.cudnnGetConvolutionForwardWorkspaceSize(c.handle, xd.get(), wd.get(),
                                                             conv.get(), yd.get(), a, bytes);
        },
        [&](dn::FwdAlgo a, void* ws, size_t bytes) {
          return api.cudnnConvolutionForward(c.handle, sc.one(), xd.get(), xin, wd.get(), W.raw(),
                                             conv.get(), a, ws, bytes, sc.zero(), yd.get(), yout);
        },
        c.gpu, "cudnnConvolutionForward", Describe(h, n, c.dt));
  }
  if (b) nn::conv_add_bias(*b, y);
}

void ConvBackwardData(const ConvHandle& h, const Tensor& dy, const Tensor& W, Tensor* dx) {
  const int64_t N = int64_t(dx->shape(0));
  if (N == 0 || dx->Size() == 0) return;
  ConvCall c("CpuConvBackwardx", h, dy, N);
  const Geometry& g = c.g;
  const dn::Api& api = dn::Lib();
  const int ord = c.gpu.ordinal();
  const Scalars sc(c.dt);
  FilterDescriptor wd(ord, c.cdt, ToInt(g.F, c.fn, "filters"), ToInt(g.Cg, c.fn, "channels"),
                      ToInt(g.KH, c.fn, "kernel"), ToInt(g.KW, c.fn, "kernel"));
  ConvDescriptor conv(ord, g.ph, g.pw, int(h.stride_h), int(h.stride_w), int(h.dilation_h),
                      int(h.dilation_w), int(h.group), c.compute, BaseMath(c.dt));
  int max_algos = 0;
  dn::Check(api.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(c.handle, &max_algos),
            "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", ord);
  for (int64_t n0 = 0; n0 < N; n0 += g.chunk) {
    const int64_t n = std::min(g.chunk, N - n0);
    const char* dyin =
        static_cast<const char*>(dy.raw()) + n0 * g.F * g.OH * g.OW * int64_t(c.es);
    char* dxout = static_cast<char*>(dx->raw()) + n0 * g.C * g.H * g.W * int64_t(c.es);
    std::shared_ptr<Block> padded;
    void* dxp = dxout;
    if (g.padded_copy) {
      padded = c.gpu.NewBlock(size_t(n * g.C * g.Hp * g.Wp) * c.es);
      dxp = padded->data();
    }
    TensorDescriptor dxd(ord, c.cdt, int(n), int(g.C), ToInt(g.Hp, c.fn, "height"),
                         ToInt(g.Wp, c.fn, "width"));
    TensorDescriptor dyd(ord, c.cdt, int(n), int(g.F), int(g.OH), int(g.OW));
    RunConv<dn::BwdDataAlgoPerf, dn::BwdDataAlgo>(
        KeyOf(ConvOp::kBackwardData, c.dt, ord, g, h, n), c.dt, conv, max_algos,
        [&](dn::BwdDataAlgoPerf* p, int m, int* r) {
          return api.cudnnGetConvolutionBackwardDataAlgorithm_v7(c.handle, wd.get(), dyd.get(),
                                                                 conv.get(), dxd.get(), m, r, p);
        },
        [&](dn::BwdDataAlgo a, size_t* bytes) {
          return api.cudnnGetConvolutionBackwardDataWorkspaceSize(c.handle, wd.get(), dyd.get(),
                                                                  conv.get(), dxd.get(), a, bytes);
        },
        [&](dn::BwdDataAlgo a, void* ws, size_t bytes) {
          return api.cudnnConvolutionBackwardData(c.handle, sc.one(), wd.get(), W.raw(),
                                                  dyd.get(), dyin, conv.get(), a, ws, bytes,
                                                  sc.zero(), dxd.get(), dxp);
        },
        c.gpu, "cudnnConvolutionBackwardData", Describe(h, n, c.dt));
    if (g.padded_copy)
      nn::CropPlanes(dxp, dxout, n * g.C, g.Hp, g.Wp, g.H, g.W, g.pt, g.pl, c.es, dy);
  }
}

void ConvBackwardFilter(const ConvHandle& h, const Tensor& dy, const Tensor& x, Tensor* dW) {
  const int64_t N = int64_t(x.shape(0));
  if (dW->Size() == 0) return;
  ConvCall c("CpuConvBackwardW", h, dy, N);
  const int ord = c.gpu.ordinal();
  if (N == 0) {  // no image: a zero gradient (as the CPU's)
    SINGA_CUDA_CHECK(cudaMemsetAsync(dW->raw(), 0, dW->MemSize(), StreamOf(*dW, c.fn)), ord);
    return;
  }
  const Geometry& g = c.g;
  const dn::Api& api = dn::Lib();
  Scalars sc(c.dt);
  FilterDescriptor wd(ord, c.cdt, ToInt(g.F, c.fn, "filters"), ToInt(g.Cg, c.fn, "channels"),
                      ToInt(g.KH, c.fn, "kernel"), ToInt(g.KW, c.fn, "kernel"));
  ConvDescriptor conv(ord, g.ph, g.pw, int(h.stride_h), int(h.stride_w), int(h.dilation_h),
                      int(h.dilation_w), int(h.group), c.compute, BaseMath(c.dt));
  int max_algos = 0;
  dn::Check(api.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(c.handle, &max_algos),
            "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", ord);
  for (int64_t n0 = 0; n0 < N; n0 += g.chunk) {
    const int64_t n = std::min(g.chunk, N - n0);
    std::shared_ptr<Block> padded;
    const void* xin = ChunkInput(c, x, n0, n, padded);
    const char* dyin =
        static_cast<const char*>(dy.raw()) + n0 * g.F * g.OH * g.OW * int64_t(c.es);
    // The first chunk writes dW, the others add to it.
    const void* beta = n0 == 0 ? sc.zero() : sc.one();
    TensorDescriptor xd(ord, c.cdt, int(n), int(g.C), ToInt(g.Hp, c.fn, "height"),
                        ToInt(g.Wp, c.fn, "width"));
    TensorDescriptor dyd(ord, c.cdt, int(n), int(g.F), int(g.OH), int(g.OW));
    RunConv<dn::BwdFilterAlgoPerf, dn::BwdFilterAlgo>(
        KeyOf(ConvOp::kBackwardFilter, c.dt, ord, g, h, n), c.dt, conv, max_algos,
        [&](dn::BwdFilterAlgoPerf* p, int m, int* r) {
          return api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.handle, xd.get(), dyd.get(),
                                                                   conv.get(), wd.get(), m, r, p);
        },
        [&](dn::BwdFilterAlgo a, size_t* bytes) {
          return api.cudnnGetConvolutionBackwardFilterWorkspaceSize(
              c.handle, xd.get(), dyd.get(), conv.get(), wd.get(), a, bytes);
        },
        [&](dn::BwdFilterAlgo a, void* ws, size_t bytes) {
          return api.cudnnConvolutionBackwardFilter(c.handle, sc.one(), xd.get(), xin, dyd.get(),
                                                    dyin, conv.get(), a, ws, bytes, beta, wd.get(),
                                                    dW->raw());
        },
        c.gpu, "cudnnConvolutionBackwardFilter", Describe(h, n, c.dt));
  }
}

}  // namespace

void FillNN(NNKernels& k) {
  k.conv_forward = ConvForward;
  k.conv_backward_data = ConvBackwardData;
  k.conv_backward_weights = ConvBackwardFilter;
  k.conv_backward_bias = nn::conv_backward_bias;
  k.pool_forward = nn::pool_forward;
  k.pool_backward = nn::pool_backward;
  k.batchnorm_training = nn::batchnorm_training;
  k.batchnorm_inference = nn::batchnorm_inference;
  k.batchnorm_backward = nn::batchnorm_backward;
  k.lrn_forward = nn::lrn_forward;
  k.lrn_backward = nn::lrn_backward;
}

}  // namespace cuda
}  // namespace singa
