// The machine's float32 FMA ceiling, measured (for benchmarks; not part of the core).
#pragma once

namespace singa {

// The best GFLOP/s of `repeats` runs of `iters` rounds of FMA chains on every OpenMP
// thread, at the vector width of FmaPeakLanes() floats.
double MeasureFmaPeak(int repeats, long iters);
int FmaPeakLanes();

}  // namespace singa
