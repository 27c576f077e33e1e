// Fused conv + bias + ReLU and batch norm + ReLU (cpu/dnnl_fused.h), next to their unfused
// pairs of bind_nn.cc and with the same arguments:
//   CpuConvReLUForward(x, W, b, handle) -> relu(CpuConvForward(x, W, b, handle))
//   CpuBatchNormReLUForwardTraining(handle, x, scale, bias, running_mean, running_var)
//       -> [y, mean, var], y = relu(batch norm of x); running stats updated in place
//   CpuBatchNormReLUForwardInference(handle, x, scale, bias, running_mean, running_var) -> y
//   CpuBatchNormReLUBackwardx(handle, y, dy, x, scale, bias, mean, var) -> [dx, dscale, dbias]
//       y: the fused forward's output, whose sign is the ReLU mask.
#include <optional>

#include "bind/def.h"
#include "cpu/dnnl_fused.h"

namespace singa {

void BindFusedNN(py::module_& m) {
  DefRecorded(m, "CpuConvReLUForward",
              [](const Tensor& x, const Tensor& W, const std::optional<Tensor>& b, const ConvHandle& h) {
                // No bias: an empty tensor on x's device (a default Tensor is a CPU scalar).
                return CpuConvReLUForward(x, W, b ? *b : Tensor(Shape{0}, x.device()), h);
              },
              py::arg("x"), py::arg("W"), py::arg("b"), py::arg("handle"), NoGIL(),
              "relu(CpuConvForward(x, W, b, handle)) in one pass (oneDNN's ReLU post-op).");
  DefRecorded(m, "CpuBatchNormReLUForwardTraining",
              [](const BatchNormHandle& h, const Tensor& x, const Tensor& scale, const Tensor& bias,
                 Tensor& running_mean, Tensor& running_var) {
                return CpuBatchNormReLUForwardTraining(h, x, scale, bias, &running_mean,
                                                       &running_var);
              },
              py::arg("handle"), py::arg("x"), py::arg("scale"), py::arg("bias"),
              py::arg("running_mean"), py::arg("running_var"), NoGIL(),
              "[relu(y), mean, var] of CpuBatchNormForwardTraining in one pass.");
  DefRecorded(m, "CpuBatchNormReLUForwardInference", &CpuBatchNormReLUForwardInference,
              py::arg("handle"), py::arg("x"), py::arg("scale"), py::arg("bias"),
              py::arg("running_mean"), py::arg("running_var"), NoGIL(),
              "relu(CpuBatchNormForwardInference(...)) in one pass.");
  DefRecorded(m, "CpuBatchNormReLUBackwardx", &CpuBatchNormReLUBackwardx, py::arg("handle"),
              py::arg("y"), py::arg("dy"), py::arg("x"), py::arg("scale"), py::arg("bias"),
              py::arg("mean"), py::arg("var"), NoGIL(),
              "[dx, dscale, dbias] of the fused training forward, the ReLU mask from y > 0.");
}

}  // namespace singa
