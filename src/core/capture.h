// Capturing a graph replay into device work that runs with one launch (CUDA graphs).
//
// A device that can capture (Device::can_capture) records the work queued on it between
// BeginCapture and EndCapture instead of running it: each kernel with the addresses of
// its operands at that moment. Launching the result runs the same work on those
// addresses again. Host code does not run at launch, so a kernel whose arguments come
// from host state that changes from step to step (a random-stream position, a learning
// rate computed in Python) must not be captured: the code that reads such state notes a
// capture hazard (NoteCaptureHazard) and graph mode (core/graph.h) runs the node that
// noted it outside the captured work.
//
// Memory allocated on a capturing device comes from a pool of the capture
// (BeginCapture's `pool`): addresses baked into captured work are never handed to
// anything else while that work may launch. ReleaseCapturePool says it no longer will.
#pragma once

namespace singa {

class CapturedWork {
 public:
  virtual ~CapturedWork() = default;
  // Runs the captured work again, queued after whatever the device runs already.
  virtual void Launch() = 0;
};

// Records that the code now running depends on host state a captured kernel would
// freeze (`why` must be a string literal). The first note since the last take is kept.
void NoteCaptureHazard(const char* why);
// Returns the hazard noted on this thread since the last take (nullptr: none) and
// clears it.
const char* TakeCaptureHazard();

}  // namespace singa
