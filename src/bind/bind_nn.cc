// Convolution, pooling, batch-norm and LRN handles and kernels.
#include "bind/bind.h"

namespace singa {

void BindNN(py::module_& m) { (void)m; }

}  // namespace singa
