#include "cpu/cpu_kernels.h"
#include "cpu/nn_kernels.h"

namespace singa {
namespace cpu {

NNKernels MakeNNKernels() {
  NNKernels k;
  k.conv_forward = ConvForward;
  k.conv_backward_data = ConvBackwardData;
  k.conv_backward_weights = ConvBackwardWeights;
  k.conv_backward_bias = ConvBackwardBias;
  k.pool_forward = PoolForward;
  k.pool_backward = PoolBackward;
  k.batchnorm_training = BatchNormTraining;
  k.batchnorm_inference = BatchNormInference;
  k.batchnorm_backward = BatchNormBackward;
  k.lrn_forward = LRNForward;
  k.lrn_backward = LRNBackward;
  return k;
}

}  // namespace cpu
}  // namespace singa
