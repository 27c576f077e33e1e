// What DLPack and __cuda_array_interface__ (bind/bind_dlpack.cc) need of a CUDA device:
// the stream handshakes of the two protocols and the device of a foreign pointer.
// Plain C++, no CUDA header: streams travel as the integers the Python protocols use
// (1: the legacy default stream, 2: the per-thread default stream, else a cudaStream_t;
// 0 is never one, the protocols reject it as ambiguous). Defined in cuda/interop.cc,
// which only CUDA builds compile (USE_CUDA); CPU builds never call these.
#pragma once

#include <cstdint>

#include "core/device.h"

namespace singa {
namespace cuda {

// The handle of the stream that every kernel and copy of `dev` (a CudaGPU) runs on.
int64_t StreamHandle(Device& dev);
// Makes `consumer_stream` wait for everything queued on the stream of `dev` so far (an
// event recorded there, cudaStreamWaitEvent on the consumer's stream); the host does not
// wait. A no-op when the consumer's stream is the device's own. `block` (the exported
// tensor's, or null) is marked as used on the consumer's stream too, so that when the
// consumer lets go of it the allocator does not hand its memory out again before the
// consumer's queued work on it has run.
void StreamWaitsForDevice(int64_t consumer_stream, Device& dev, const Block* block);
// The other direction: the stream of `dev` waits for what is queued on `producer_stream`.
void DeviceWaitsForStream(Device& dev, int64_t producer_stream);
// The ordinal of the CUDA device whose memory `ptr` points into (device or managed
// memory); DeviceError when it is host memory, pinned or not, or no CUDA memory at all.
int PointerDevice(uintptr_t ptr);

}  // namespace cuda
}  // namespace singa
