// Random fill entry points. Draws come from the device's counter-based generator:
// element i of a fill uses counter first+i, so results depend on the seed and the draw
// order, not on threads or on the device.
#include "math/kernels.h"
#include "math/ops.h"

namespace singa {

namespace {

// Runs `fill(target, seed, first)` on a contiguous float tensor holding t's values:
// t itself when it is one, else a temporary copied into t afterwards.
template <typename F>
void Fill(Tensor* t, F fill) {
  if (t->Size() == 0) return;
  DataType dt = t->data_type();
  Tensor target = (dt == kFloat32 || dt == kDouble) && t->IsContiguous()
                      ? *t : Tensor(t->shape(), t->device(), dt == kDouble ? kDouble : kFloat32);
  Device& dev = *t->device();
  const uint64_t seed = dev.seed();
  const uint64_t first = dev.TakeCounters(target.Size());
  fill(dev.kernels().random, target, seed, first);
  if (target.block() != t->block()) t->CopyData(target);
}

}  // namespace

void Bernoulli(double p, Tensor* t) {
  if (!(p >= 0.0 && p <= 1.0)) throw ValueError(Msg("Bernoulli: probability ", p, " is not in [0, 1]"));
  Fill(t, [p](const RandomKernels& k, const Tensor& target, uint64_t seed, uint64_t first) {
    k.bernoulli(target, p, seed, first);
  });
}

void Uniform(double low, double high, Tensor* t) {
  if (!(low <= high)) throw ValueError(Msg("Uniform: low ", low, " is greater than high ", high));
  Fill(t, [low, high](const RandomKernels& k, const Tensor& target, uint64_t seed, uint64_t first) {
    k.uniform(target, low, high, seed, first);
  });
}

void Gaussian(double mean, double std, Tensor* t) {
  if (!(std >= 0.0)) throw ValueError(Msg("Gaussian: std ", std, " must be non-negative"));
  Fill(t, [mean, std](const RandomKernels& k, const Tensor& target, uint64_t seed, uint64_t first) {
    k.gaussian(target, mean, std, seed, first);
  });
}

}  // namespace singa
