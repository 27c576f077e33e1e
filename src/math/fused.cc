// Fused update and dropout entry points: parameter and state checks; the one-pass
// kernels run in the device's fused kernels.
#include "math/fused.h"

#include <initializer_list>
#include <vector>

#include "math/kernels.h"

namespace singa {

namespace {

void CheckParam(const Tensor& p, const char* fn) {
  const DataType dt = p.data_type();
  if (dt != kFloat32 && dt != kDouble && !IsHalfFloat(dt))
    throw TypeError(Msg(fn, ": parameters must be float32, float64, float16 or bfloat16, got ",
                        DataTypeName(dt)));
  if (!p.IsContiguous())
    throw ValueError(Msg(fn, ": the parameter of shape ", ShapeStr(p.shape()), " must be contiguous"));
}

void CheckState(const Tensor& p, const Tensor& s, const char* fn, const char* what) {
  if (s.shape() != p.shape() || s.data_type() != p.data_type() || !s.IsContiguous())
    throw ValueError(Msg(fn, ": ", what, " of shape ", ShapeStr(s.shape()), " and dtype ",
                         DataTypeName(s.data_type()), " does not match the parameter ",
                         ShapeStr(p.shape()), " ", DataTypeName(p.data_type())));
}

// The gradient as a contiguous tensor of p's dtype, checked against p's shape.
Tensor GradFor(const Tensor& p, const Tensor& g, const char* fn) {
  if (g.shape() != p.shape())
    throw ValueError(Msg(fn, ": gradient of shape ", ShapeStr(g.shape()),
                         " does not match the parameter's ", ShapeStr(p.shape())));
  return g.AsType(p.data_type()).Contiguous();
}

// A 16-bit float parameter and its states (checked by the caller) update in float32:
// `update` runs the float32 step on widened copies, which are then rounded back, so the
// step's arithmetic is float32's and only the stored values are 16-bit.
template <typename Update>
bool UpdatedInFloat32(Tensor* p, std::initializer_list<Tensor*> states, Update update) {
  if (!IsHalfFloat(p->data_type())) return false;
  Tensor p32 = p->AsType(kFloat32);
  std::vector<Tensor> s32;
  for (Tensor* s : states) s32.push_back(s ? s->AsType(kFloat32) : p32);
  update(&p32, s32);
  p->CopyData(p32);
  size_t i = 0;
  for (Tensor* s : states) {
    if (s) s->CopyData(s32[i]);
    ++i;
  }
  return true;
}

}  // namespace

void SGDUpdate(Tensor* p, const Tensor& g_in, Tensor* buf, double lr, double momentum,
               double dampening, double wd, bool nesterov) {
  if (buf) CheckSameDevice("SGDUpdate", {p, &g_in, buf});
  else CheckSameDevice("SGDUpdate", {p, &g_in});
  CheckParam(*p, "SGDUpdate");
  Tensor g = GradFor(*p, g_in, "SGDUpdate");
  if (buf) CheckState(*p, *buf, "SGDUpdate", "the momentum buffer");
  if (UpdatedInFloat32(p, {buf}, [&](Tensor* p32, std::vector<Tensor>& s) {
        SGDUpdate(p32, g, buf ? &s[0] : nullptr, lr, momentum, dampening, wd, nesterov);
      }))
    return;
  p->device()->kernels().fused.sgd(*p, g, buf, lr, momentum, dampening, wd, nesterov);
}

void RMSPropUpdate(Tensor* p, const Tensor& g_in, Tensor* v, double lr, double rho, double eps,
                   double wd) {
  CheckSameDevice("RMSPropUpdate", {p, &g_in, v});
  CheckParam(*p, "RMSPropUpdate");
  Tensor g = GradFor(*p, g_in, "RMSPropUpdate");
  CheckState(*p, *v, "RMSPropUpdate", "the running average");
  if (UpdatedInFloat32(p, {v}, [&](Tensor* p32, std::vector<Tensor>& s) {
        RMSPropUpdate(p32, g, &s[0], lr, rho, eps, wd);
      }))
    return;
  p->device()->kernels().fused.rmsprop(*p, g, *v, lr, rho, eps, wd);
}

void AdaGradUpdate(Tensor* p, const Tensor& g_in, Tensor* h, double lr, double eps, double wd) {
  CheckSameDevice("AdaGradUpdate", {p, &g_in, h});
  CheckParam(*p, "AdaGradUpdate");
  Tensor g = GradFor(*p, g_in, "AdaGradUpdate");
  CheckState(*p, *h, "AdaGradUpdate", "the history");
  if (UpdatedInFloat32(p, {h}, [&](Tensor* p32, std::vector<Tensor>& s) {
        AdaGradUpdate(p32, g, &s[0], lr, eps, wd);
      }))
    return;
  p->device()->kernels().fused.adagrad(*p, g, *h, lr, eps, wd);
}

void AdamUpdate(Tensor* p, const Tensor& g_in, Tensor* m, Tensor* v, double lr, double beta1,
                double beta2, double eps, double wd, int64_t t) {
  CheckSameDevice("AdamUpdate", {p, &g_in, m, v});
  CheckParam(*p, "AdamUpdate");
  if (t < 1) throw ValueError(Msg("AdamUpdate: step ", t, " must be at least 1"));
  Tensor g = GradFor(*p, g_in, "AdamUpdate");
  CheckState(*p, *m, "AdamUpdate", "the first moment");
  CheckState(*p, *v, "AdamUpdate", "the second moment");
  if (UpdatedInFloat32(p, {m, v}, [&](Tensor* p32, std::vector<Tensor>& s) {
        AdamUpdate(p32, g, &s[0], &s[1], lr, beta1, beta2, eps, wd, t);
      }))
    return;
  p->device()->kernels().fused.adam(*p, g, *m, *v, lr, beta1, beta2, eps, wd, t);
}

std::pair<Tensor, Tensor> DropoutForward(const Tensor& x_in, double ratio) {
  if (!(ratio >= 0.0 && ratio < 1.0))
    throw ValueError(Msg("Dropout: ratio ", ratio, " must be in [0, 1)"));
  DataType dt = x_in.data_type() == kDouble ? kDouble : kFloat32;
  // y and the mask keep a 16-bit float input's dtype (drawn and scaled in float32).
  const DataType out = IsHalfFloat(x_in.data_type()) ? x_in.data_type() : dt;
  Tensor x = x_in.AsType(dt).Contiguous();
  Tensor y(x.shape(), x.device(), dt), mask(x.shape(), x.device(), dt);
  if (x.Size() == 0) return {y.AsType(out), mask.AsType(out)};
  Device& dev = *x.device();
  const uint64_t seed = dev.seed();
  const uint64_t counter = dev.TakeCounters(1);
  dev.kernels().fused.dropout(x, ratio, seed, counter, y, mask);
  return {y.AsType(out), mask.AsType(out)};
}

}  // namespace singa
