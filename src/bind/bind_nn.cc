// Convolution, pooling, batch-norm and LRN handles and kernels (SINGA's names).
//
// Python API (all tensors are singa_wrap.Tensor, NCHW, float32 or float64, on one device;
// the Cpu* names are SINGA's, the kernels run on the tensors' device):
//   ConvHandle(x, kernel_size, stride, padding, in_channels, out_channels, bias,
//              group=1, dilation=(1, 1))
//       x: a Tensor (N, C, H, W) or its shape; kernel_size/stride/dilation: int or 2 ints;
//       padding: int, 2 ints (pad_h, pad_w) or 4 ints (top, bottom, left, right).
//   CpuConvForward(x, W, b, handle) -> y (N, F, OH, OW); W (F, C/group, KH, KW);
//       b (F,) is ignored (may be None or empty) when handle.bias_term is False.
//   CpuConvBackwardx(dy, W, x, handle) -> dx;  CpuConvBackwardW(dy, x, W, handle) -> dW;
//   CpuConvBackwardb(dy, b, handle) -> db.
//   PoolingHandle(x, kernel_size, stride, padding, is_max=True, count_include_pad=True)
//       Average pooling divides by the full kernel area, padded cells included (SINGA,
//       Caffe, cuDNN's INCLUDE_PADDING); count_include_pad=False divides by valid cells.
//   CpuPoolingForward(handle, x) -> y;  CpuPoolingBackward(handle, dy, x, y) -> dx
//       (max pooling sends each gradient to the first maximum of its window).
//   BatchNormHandle(momentum, x)  (x: Tensor or shape, (N, C, H, W) or (N, C); eps=1e-5)
//   CpuBatchNormForwardTraining(handle, x, scale, bias, running_mean, running_var)
//       -> [y, mean, var] (biased batch var); updates running_mean/var in place:
//       running = momentum * running + (1 - momentum) * batch (unbiased var for running_var).
//   CpuBatchNormForwardInference(handle, x, scale, bias, running_mean, running_var) -> y
//   CpuBatchNormBackwardx(handle, y, dy, x, scale, bias, mean, var) -> [dx, dscale, dbias]
//   CpuLRNForward(x, size, alpha=1e-4, beta=0.75, k=1.0) -> y
//   CpuLRNBackward(dy, x, y, size, alpha=1e-4, beta=0.75, k=1.0) -> dx
//       y = x / (k + alpha/size * sum_{window} x^2)^beta across channels, window of `size`
//       channels c - (size-1)/2 .. c + size/2 (ONNX/Caffe). Plain functions: LRN has no
//       state worth a handle.
#include <optional>
#include <variant>

#include "bind/def.h"
#include "cpu/dnnl_nn.h"
#include "cpu/half_compute.h"
#include "math/nn.h"

namespace singa {

void BindFusedNN(py::module_& m);  // bind_fused_nn.cc: conv + ReLU, batch norm + ReLU

namespace {

// An int or a sequence of ints.
using Ints = std::variant<int, std::vector<int>>;
std::vector<int> IntsArg(const Ints& v) {
  if (const int* one = std::get_if<int>(&v)) return {*one};
  return std::get<std::vector<int>>(v);
}

// A Tensor (its shape is used) or a shape. The shape comes first: pybind11 default-
// constructs the variant, and a default Tensor would allocate a CPU scalar.
using ShapeOf = std::variant<std::vector<size_t>, Tensor>;
Shape ShapeArg(const ShapeOf& v) {
  if (const Tensor* t = std::get_if<Tensor>(&v)) return t->shape();
  return std::get<std::vector<size_t>>(v);
}

}  // namespace

void BindNN(py::module_& m) {
  m.attr("USE_DNNL") = dnnl_nn::Compiled();
  DefHost(m, "set_conv_backend", &SetNNBackend, py::arg("name"),
        "Backend of the float32 conv/pool/batch-norm/LRN kernels: 'auto' (oneDNN when "
        "compiled in), 'reference' (im2col + OpenBLAS and plain loops) or 'dnnl'. Initially "
        "from SINGA_CONV_BACKEND. float64 always runs the reference.");
  DefHost(m, "get_conv_backend", [] { return NNBackendName(GetNNBackend()); });
  DefHost(m, "half_native", [](int dt) {
            const DataType d = static_cast<DataType>(dt);
            if (!IsHalfFloat(d))
              throw TypeError(Msg("half_native: dtype must be kFloat16 or kBFloat16, got ",
                                  DataTypeName(d)));
            return NativeHalf(d);
          }, py::arg("dtype"),
          "Whether CPU GEMMs and convolutions on this 16-bit float dtype run oneDNN's native "
          "primitives (float32 accumulation) rather than float32 copies: oneDNN compiled in, "
          "the conv backend not 'reference', and AVX512-FP16 (float16) or AVX512-BF16/AMX "
          "(bfloat16) on this CPU.");
  py::class_<ConvHandle> conv(m, "ConvHandle");
  DefInit(conv, py::init([](const ShapeOf& x, const Ints& kernel_size, const Ints& stride,
                            const Ints& padding, size_t in_channels, size_t out_channels, bool bias,
                            size_t group, const Ints& dilation) {
            return ConvHandle(ShapeArg(x), IntsArg(kernel_size), IntsArg(stride),
                              IntsArg(padding), in_channels, out_channels, bias, group,
                              IntsArg(dilation));
          }),
          py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
          py::arg("in_channels"), py::arg("out_channels"), py::arg("bias"),
          py::arg("group") = 1, py::arg("dilation") = std::vector<int>{1, 1});
  conv.def_readonly("kernel_h", &ConvHandle::kernel_h)
      .def_readonly("kernel_w", &ConvHandle::kernel_w)
      .def_readonly("stride_h", &ConvHandle::stride_h)
      .def_readonly("stride_w", &ConvHandle::stride_w)
      .def_readonly("dilation_h", &ConvHandle::dilation_h)
      .def_readonly("dilation_w", &ConvHandle::dilation_w)
      .def_readonly("pad_top", &ConvHandle::pad_top)
      .def_readonly("pad_bottom", &ConvHandle::pad_bottom)
      .def_readonly("pad_left", &ConvHandle::pad_left)
      .def_readonly("pad_right", &ConvHandle::pad_right)
      .def_readonly("pad_h", &ConvHandle::pad_top)
      .def_readonly("pad_w", &ConvHandle::pad_left)
      .def_readonly("channels", &ConvHandle::channels)
      .def_readonly("num_filters", &ConvHandle::num_filters)
      .def_readonly("group", &ConvHandle::group)
      .def_readonly("batchsize", &ConvHandle::batchsize)
      .def_readonly("height", &ConvHandle::height)
      .def_readonly("width", &ConvHandle::width)
      .def_readonly("conv_height", &ConvHandle::conv_height)
      .def_readonly("conv_width", &ConvHandle::conv_width)
      .def_readonly("bias_term", &ConvHandle::bias_term)
      .def_readonly("col_height", &ConvHandle::col_height)
      .def_readonly("col_width", &ConvHandle::col_width);

  DefRecorded(m, "CpuConvForward",
              [](const Tensor& x, const Tensor& W, const std::optional<Tensor>& b, const ConvHandle& h) {
                // No bias: an empty tensor on x's device (a default Tensor is a CPU scalar).
                return CpuConvForward(x, W, b ? *b : Tensor(Shape{0}, x.device()), h);
              },
              py::arg("x"), py::arg("W"), py::arg("b"), py::arg("handle"), NoGIL());
  DefRecorded(m, "CpuConvBackwardx", &CpuConvBackwardx, py::arg("dy"), py::arg("W"), py::arg("x"),
              py::arg("handle"), NoGIL());
  DefRecorded(m, "CpuConvBackwardW", &CpuConvBackwardW, py::arg("dy"), py::arg("x"), py::arg("W"),
              py::arg("handle"), NoGIL());
  DefRecorded(m, "CpuConvBackwardb", &CpuConvBackwardb, py::arg("dy"), py::arg("b"), py::arg("handle"),
              NoGIL());

  py::class_<PoolingHandle> pool(m, "PoolingHandle");
  DefInit(pool, py::init([](const ShapeOf& x, const Ints& kernel_size, const Ints& stride,
                            const Ints& padding, bool is_max, bool count_include_pad) {
            return PoolingHandle(ShapeArg(x), IntsArg(kernel_size), IntsArg(stride),
                                 IntsArg(padding), is_max, count_include_pad);
          }),
          py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
          py::arg("is_max") = true, py::arg("count_include_pad") = true);
  pool.def_readonly("kernel_h", &PoolingHandle::kernel_h)
      .def_readonly("kernel_w", &PoolingHandle::kernel_w)
      .def_readonly("stride_h", &PoolingHandle::stride_h)
      .def_readonly("stride_w", &PoolingHandle::stride_w)
      .def_readonly("pad_top", &PoolingHandle::pad_top)
      .def_readonly("pad_bottom", &PoolingHandle::pad_bottom)
      .def_readonly("pad_left", &PoolingHandle::pad_left)
      .def_readonly("pad_right", &PoolingHandle::pad_right)
      .def_readonly("pad_h", &PoolingHandle::pad_top)
      .def_readonly("pad_w", &PoolingHandle::pad_left)
      .def_readonly("batchsize", &PoolingHandle::batchsize)
      .def_readonly("channels", &PoolingHandle::channels)
      .def_readonly("height", &PoolingHandle::height)
      .def_readonly("width", &PoolingHandle::width)
      .def_readonly("pooled_height", &PoolingHandle::pooled_height)
      .def_readonly("pooled_width", &PoolingHandle::pooled_width)
      .def_readonly("is_max_pooling", &PoolingHandle::is_max_pooling)
      .def_readonly("count_include_pad", &PoolingHandle::count_include_pad);

  DefRecorded(m, "CpuPoolingForward", &CpuPoolingForward, py::arg("handle"), py::arg("x"), NoGIL());
  DefRecorded(m, "CpuPoolingBackward", &CpuPoolingBackward, py::arg("handle"), py::arg("dy"),
              py::arg("x"), py::arg("y"), NoGIL());

  py::class_<BatchNormHandle> bn(m, "BatchNormHandle");
  DefInit(bn, py::init([](double momentum, const ShapeOf& x) {
            return BatchNormHandle(momentum, ShapeArg(x));
          }),
          py::arg("momentum"), py::arg("x"));
  bn.def_readonly("factor", &BatchNormHandle::factor)
      .def_readwrite("eps", &BatchNormHandle::eps)
      .def_readonly("batchsize", &BatchNormHandle::batchsize)
      .def_readonly("channels", &BatchNormHandle::channels)
      .def_readonly("height", &BatchNormHandle::height)
      .def_readonly("width", &BatchNormHandle::width)
      .def_readonly("is_2d", &BatchNormHandle::is_2d);

  DefRecorded(m, "CpuBatchNormForwardTraining",
              [](const BatchNormHandle& h, const Tensor& x, const Tensor& scale, const Tensor& bias,
                 Tensor& running_mean, Tensor& running_var) {
                return CpuBatchNormForwardTraining(h, x, scale, bias, &running_mean, &running_var);
              },
              py::arg("handle"), py::arg("x"), py::arg("scale"), py::arg("bias"),
              py::arg("running_mean"), py::arg("running_var"), NoGIL());
  DefRecorded(m, "CpuBatchNormForwardInference", &CpuBatchNormForwardInference, py::arg("handle"),
              py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("running_mean"),
              py::arg("running_var"), NoGIL());
  DefRecorded(m, "CpuBatchNormBackwardx", &CpuBatchNormBackwardx, py::arg("handle"), py::arg("y"),
              py::arg("dy"), py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("mean"),
              py::arg("var"), NoGIL());

  DefRecorded(m, "CpuLRNForward", &CpuLRNForward, py::arg("x"), py::arg("size"), py::arg("alpha") = 1e-4,
              py::arg("beta") = 0.75, py::arg("k") = 1.0, NoGIL());
  DefRecorded(m, "CpuLRNBackward", &CpuLRNBackward, py::arg("dy"), py::arg("x"), py::arg("y"),
              py::arg("size"), py::arg("alpha") = 1e-4, py::arg("beta") = 0.75, py::arg("k") = 1.0,
              NoGIL());
  BindFusedNN(m);
}

}  // namespace singa
