// Fused optimizer updates and dropout.
#include "bind/bind.h"
#include "bind/graphed.h"
#include "math/fused.h"
#include "math/ops.h"

namespace singa {

void BindFused(py::module_& m) {
  m.def("SGDUpdate", [](Tensor& p, const Tensor& g, py::object buf, double lr, double momentum,
                        double dampening, double wd, bool nesterov) {
    Tensor* b = buf.is_none() ? nullptr : buf.cast<Tensor*>();
    py::gil_scoped_release nogil;
    SGDUpdate(&p, g, b, lr, momentum, dampening, wd, nesterov);
  }, py::arg("p"), py::arg("g"), py::arg("buf"), py::arg("lr"), py::arg("momentum") = 0.0,
     py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
     "In-place SGD step: buf = m*buf + (1-d)*g'; p -= lr*step (g' = g + wd*p).");
  m.def("RMSPropUpdate", [](Tensor& p, const Tensor& g, Tensor& v, double lr, double rho,
                            double eps, double wd) { RMSPropUpdate(&p, g, &v, lr, rho, eps, wd); },
        py::arg("p"), py::arg("g"), py::arg("v"), py::arg("lr"), py::arg("rho"), py::arg("epsilon"),
        py::arg("weight_decay") = 0.0, NoGIL(),
        "In-place RMSProp step: v = rho*v + (1-rho)*g'^2; p -= lr*g'/sqrt(v+eps).");
  m.def("AdaGradUpdate", [](Tensor& p, const Tensor& g, Tensor& h, double lr, double eps,
                            double wd) { AdaGradUpdate(&p, g, &h, lr, eps, wd); },
        py::arg("p"), py::arg("g"), py::arg("h"), py::arg("lr"), py::arg("epsilon"),
        py::arg("weight_decay") = 0.0, NoGIL(),
        "In-place AdaGrad step: h += g'^2; p -= lr*g'/sqrt(h+eps).");
  m.def("AdamUpdate", [](Tensor& p, const Tensor& g, Tensor& mt, Tensor& vt, double lr, double b1,
                         double b2, double eps, double wd, int64_t t) {
    AdamUpdate(&p, g, &mt, &vt, lr, b1, b2, eps, wd, t);
  }, py::arg("p"), py::arg("g"), py::arg("m"), py::arg("v"), py::arg("lr"), py::arg("beta_1"),
     py::arg("beta_2"), py::arg("epsilon"), py::arg("weight_decay"), py::arg("step"), NoGIL(),
     "In-place bias-corrected Adam step number `step` (>= 1).");
  // Graphed: a replay draws a new mask each step.
  m.def("DropoutForward", Graphed([](const Tensor& x, double ratio) {
    return DropoutForward(x, ratio);
  }), py::arg("x"), py::arg("ratio"), NoGIL(), "(y, mask) with mask = Bernoulli(1-ratio)/(1-ratio).");
  m.def("set_gemm_backend", &SetGemmBackend, py::arg("name"),
        "float32 GEMM library: 'openblas' or 'dnnl' (also SINGA_GEMM_BACKEND).");
  m.def("get_gemm_backend", &GetGemmBackend);
  m.def("SetFlushDenormals", &SetFlushDenormals, py::arg("on"),
        "Flush denormal floats to zero on the kernel worker threads.");
}

}  // namespace singa
