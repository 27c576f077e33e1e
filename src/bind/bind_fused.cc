// Fused optimizer updates, dropout and CPU kernel settings.
#include <optional>

#include "bind/def.h"
#include "core/config.h"
#include "cpu/gemm.h"
#include "math/fused.h"
#include "math/ops.h"

namespace singa {

void BindFused(py::module_& m) {
  // Not replayable: graph mode does not record updates with the hyper-parameters of the
  // recording step. The optimizer pauses recording around them and records a callback
  // (GraphCallback) that re-runs its update at replay, so learning-rate schedules work.
  const char* update = "an optimizer update ran while recording (graph mode pauses recording "
                       "around updates and records a GraphCallback instead)";
  DefNotReplayable(m, "SGDUpdate", [](Tensor& p, const Tensor& g, std::optional<Tensor*> buf, double lr,
                                      double momentum, double dampening, double wd, bool nesterov) {
    SGDUpdate(&p, g, buf.value_or(nullptr), lr, momentum, dampening, wd, nesterov);
  }, update, py::arg("p"), py::arg("g"), py::arg("buf"), py::arg("lr"), py::arg("momentum") = 0.0,
     py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
     NoGIL(), "In-place SGD step: buf = m*buf + (1-d)*g'; p -= lr*step (g' = g + wd*p).");
  DefNotReplayable(m, "RMSPropUpdate", [](Tensor& p, const Tensor& g, Tensor& v, double lr, double rho,
                                          double eps, double wd) { RMSPropUpdate(&p, g, &v, lr, rho, eps, wd); },
                   update, py::arg("p"), py::arg("g"), py::arg("v"), py::arg("lr"), py::arg("rho"),
                   py::arg("epsilon"), py::arg("weight_decay") = 0.0, NoGIL(),
                   "In-place RMSProp step: v = rho*v + (1-rho)*g'^2; p -= lr*g'/sqrt(v+eps).");
  DefNotReplayable(m, "AdaGradUpdate", [](Tensor& p, const Tensor& g, Tensor& h, double lr, double eps,
                                          double wd) { AdaGradUpdate(&p, g, &h, lr, eps, wd); },
                   update, py::arg("p"), py::arg("g"), py::arg("h"), py::arg("lr"), py::arg("epsilon"),
                   py::arg("weight_decay") = 0.0, NoGIL(),
                   "In-place AdaGrad step: h += g'^2; p -= lr*g'/sqrt(h+eps).");
  DefNotReplayable(m, "AdamUpdate", [](Tensor& p, const Tensor& g, Tensor& mt, Tensor& vt, double lr,
                                       double b1, double b2, double eps, double wd, int64_t t) {
    AdamUpdate(&p, g, &mt, &vt, lr, b1, b2, eps, wd, t);
  }, update, py::arg("p"), py::arg("g"), py::arg("m"), py::arg("v"), py::arg("lr"), py::arg("beta_1"),
     py::arg("beta_2"), py::arg("epsilon"), py::arg("weight_decay"), py::arg("step"), NoGIL(),
     "In-place bias-corrected Adam step number `step` (>= 1).");
  // Recorded: a replay draws a new mask each step.
  DefRecorded(m, "DropoutForward", [](const Tensor& x, double ratio) { return DropoutForward(x, ratio); },
              py::arg("x"), py::arg("ratio"), NoGIL(),
              "(y, mask) with mask = Bernoulli(1-ratio)/(1-ratio).");
  DefHost(m, "set_gemm_backend", &SetGemmBackend, py::arg("name"),
          "float32 GEMM library: 'openblas' or 'dnnl' (also SINGA_GEMM_BACKEND).");
  DefHost(m, "get_gemm_backend", &GetGemmBackend);
  DefHost(m, "SetFlushDenormals", &SetFlushDenormals, py::arg("on"),
          "Flush denormal floats to zero on the kernel worker threads.");
  DefHost(m, "set_deterministic", &SetDeterministic, py::arg("on"),
          "Deterministic mode of the core (singa.set_deterministic).");
  DefHost(m, "is_deterministic", &IsDeterministic);
}

}  // namespace singa
