// A communicator over the GPUs of a job's ranks (one GPU per rank), through NCCL: the
// transport singa.dist's DistOpt uses when the parameters live on CUDA devices
// (python/singa/dist/nccl_comm.py). Every collective runs on the stream of the
// communicator's CudaGPU, so it is ordered after the kernels that wrote its input and
// before those that read its result, with no host synchronisation; Done() tells the host
// whether everything queued so far has finished, and surfaces NCCL's asynchronous errors.
//
// NCCL calls are collective: every rank makes the communicator with the same unique id
// and then calls the same collectives in the same order with the same element counts.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/tensor.h"
#include "cuda/nccl_api.h"

namespace singa {

class CudaGPU;

namespace cuda {

class NcclCommunicator {
 public:
  // The 128 bytes of a fresh ncclUniqueId (rank 0 makes it, the others receive it).
  static std::string NewUniqueId();
  // The loaded library's version code (loads it).
  static int Version();

  // Joins the communicator of `world_size` ranks as `rank`, on `device` (a CudaGPU);
  // blocks until every rank has joined. ValueError for a bad id, rank or size.
  NcclCommunicator(const std::string& unique_id, int world_size, int rank,
                   std::shared_ptr<Device> device);
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::shared_ptr<Device>& device() const { return device_; }
  bool aborted() const { return comm_ == nullptr; }

  // Sums `t` over the ranks, in place. `t`: contiguous, on this communicator's device,
  // float32, float16, bfloat16 or int32 (the same on every rank).
  void AllReduce(const Tensor& t);
  // Overwrites `t` with rank `root`'s values.
  void Broadcast(const Tensor& t, int root);
  // recv (world_size * send.Size() elements, same dtype) gets every rank's `send`, in rank
  // order. `send` may be this rank's slot of `recv`; no other overlap.
  void AllGather(const Tensor& send, const Tensor& recv);
  // recv (send.Size() / world_size elements) gets this rank's slot of the sum of `send`.
  void ReduceScatter(const Tensor& send, const Tensor& recv);

  // Whether every collective queued so far has finished. DeviceError when NCCL reports
  // an asynchronous error (a rank died, a network failure): the communicator is then
  // aborted, and the message names the last collective, the rank and NCCL's error.
  bool Done();
  // Ends the communicator at once, abandoning queued collectives (a timed-out wait);
  // every later call raises DeviceError. Idempotent.
  void Abort();

 private:
  CudaGPU& Prepare(const Tensor& t, const char* collective, const char* role) const;
  void Check(nccl::ncclResult_t rc, const char* collective);
  void Queued(CudaGPU& gpu, const char* collective);

  const nccl::Api& api_;
  std::shared_ptr<Device> device_;
  CudaGPU* gpu_ = nullptr;
  int world_size_ = 0;
  int rank_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaEvent_t finished_ = nullptr;  // recorded after each collective
  std::string last_ = "no collective";
  // NCCL communicators are not thread-safe; calls come without the GIL.
  std::mutex mu_;
};

}  // namespace cuda
}  // namespace singa
