// One thread pool for everything: OpenBLAS runs single-threaded, and the GEMMs that are
// worth splitting are split over our OpenMP threads (cpu/gemm.h). With OpenBLAS's own
// pthreads beside OpenMP's, a GEMM's spinning BLAS threads and the next kernel's OpenMP
// threads fought over the same cores and every kernel after a GEMM slowed down many times
// over; running OpenBLAS's jobs on our pool through its thread callback fixed that, but
// left large products at half speed in about half of the processes.
#include <cblas.h>

namespace singa {
namespace {

struct SingleThreadedBlas {
  SingleThreadedBlas() { scipy_openblas_set_num_threads(1); }
} single_threaded_blas;

}  // namespace
}  // namespace singa
