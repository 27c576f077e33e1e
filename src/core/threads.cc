// One thread pool for everything: OpenBLAS runs its parallel work on our OpenMP
// threads instead of its own pthreads. With two pools, a GEMM's spinning BLAS
// threads and the next element-wise kernel's OpenMP threads fight over the same
// cores, and every kernel after a GEMM slows down many times over.
#include <cblas.h>
#include <omp.h>

#include <thread>
#include <vector>

namespace singa {
namespace {

void RunJobs(int /*sync*/, openblas_dojob_callback dojob, int numjobs, size_t jobdata_elsize,
             void* jobdata, int dojob_data) {
  auto job = [&](int i) {
    dojob(i, static_cast<char*>(jobdata) + static_cast<size_t>(i) * jobdata_elsize, dojob_data);
  };
  // OpenBLAS's jobs wait on each other, so all of them must run at the same time.
  // Inside an OpenMP region a nested team may have a single thread: use plain threads.
  if (omp_in_parallel() || numjobs > omp_get_max_threads()) {
    std::vector<std::thread> extra;
    for (int i = 1; i < numjobs; ++i) extra.emplace_back(job, i);
    job(0);
    for (auto& t : extra) t.join();
    return;
  }
#pragma omp parallel num_threads(numjobs)
  job(omp_get_thread_num());
}

struct UseOpenMPForBlas {
  UseOpenMPForBlas() { scipy_openblas_set_threads_callback_function(RunJobs); }
} use_openmp_for_blas;

}  // namespace
}  // namespace singa
