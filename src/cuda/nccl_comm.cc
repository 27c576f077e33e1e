// The NCCL communicator: see nccl_comm.h.
#include "cuda/nccl_comm.h"

#include <cstring>

#include "cuda/cuda_common.h"
#include "cuda/cuda_device.h"

namespace singa {
namespace cuda {

namespace {

nccl::ncclDataType_t NcclType(DataType dt, const char* collective) {
  switch (dt) {
    case kFloat32: return nccl::ncclFloat32;
    case kFloat16: return nccl::ncclFloat16;
    case kBFloat16: return nccl::ncclBfloat16;
    case kInt: return nccl::ncclInt32;
    default:
      throw TypeError(Msg("NCCL ", collective, ": dtype ", DataTypeName(dt),
                          " is not sent over NCCL (float32, float16, bfloat16 or int32)"));
  }
}

bool Overlap(const char* a, size_t a_bytes, const char* b, size_t b_bytes) {
  return a < b + b_bytes && b < a + a_bytes;
}

}  // namespace

std::string NcclCommunicator::NewUniqueId() {
  const nccl::Api& api = nccl::Load();
  nccl::ncclUniqueId id;
  const nccl::ncclResult_t rc = api.GetUniqueId(&id);
  if (rc != nccl::ncclSuccess)
    throw DeviceError(Msg("ncclGetUniqueId failed: ", api.GetErrorString(rc), " (NCCL error ",
                          static_cast<int>(rc), ")"));
  return std::string(id.internal, sizeof(id.internal));
}

int NcclCommunicator::Version() { return nccl::Load().version; }

NcclCommunicator::NcclCommunicator(const std::string& unique_id, int world_size, int rank,
                                   std::shared_ptr<Device> device)
    : api_(nccl::Load()), device_(std::move(device)), world_size_(world_size), rank_(rank) {
  if (unique_id.size() != static_cast<size_t>(nccl::kUniqueIdBytes))
    throw ValueError(Msg("NcclCommunicator: the unique id has ", unique_id.size(),
                         " bytes; NCCL's has ", nccl::kUniqueIdBytes,
                         " (make it with NcclCommunicator.NewUniqueId on one rank)"));
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw ValueError(Msg("NcclCommunicator: rank ", rank, " of ", world_size,
                         " is not a rank of a job"));
  gpu_ = device_ ? dynamic_cast<CudaGPU*>(device_.get()) : nullptr;
  if (gpu_ == nullptr)
    throw DeviceError(Msg("NcclCommunicator: NCCL moves data between CUDA GPUs; the device is ",
                          device_ ? device_->name() : std::string("none"),
                          " (make it with device.create_cuda_gpu_on(local_rank))"));
  nccl::ncclUniqueId id;
  std::memcpy(id.internal, unique_id.data(), sizeof(id.internal));
  gpu_->Activate();  // NCCL binds the communicator to the current device
  SINGA_CUDA_CHECK(cudaEventCreateWithFlags(&finished_, cudaEventDisableTiming), gpu_->ordinal());
  const nccl::ncclResult_t rc = api_.CommInitRank(&comm_, world_size, id, rank);
  if (rc != nccl::ncclSuccess) {
    comm_ = nullptr;
    cudaEventDestroy(finished_);
    finished_ = nullptr;
    throw DeviceError(Msg("NCCL communicator init failed on rank ", rank, " of ", world_size,
                          " (", device_->name(), "): ", api_.GetErrorString(rc),
                          " (NCCL error ", static_cast<int>(rc), ")"));
  }
}

NcclCommunicator::~NcclCommunicator() {
  // No throwing here: a destroyed communicator's errors have nobody left to hear them.
  if (comm_ != nullptr) {
    try {
      gpu_->Activate();
    } catch (const std::exception&) {
    }
    api_.CommDestroy(comm_);
  }
  if (finished_ != nullptr) cudaEventDestroy(finished_);
}

CudaGPU& NcclCommunicator::Prepare(const Tensor& t, const char* collective,
                                   const char* role) const {
  if (comm_ == nullptr)
    throw DeviceError(Msg("NCCL ", collective, " on rank ", rank_, " of ", world_size_,
                          ": the communicator was aborted (after ", last_, ")"));
  if (t.device().get() != device_.get())
    throw DeviceError(Msg("NCCL ", collective, ": the ", role, " tensor is on ",
                          t.device() ? t.device()->name() : std::string("no device"),
                          ", the communicator of rank ", rank_, " on ", device_->name()));
  if (!t.IsContiguous())
    throw ValueError(Msg("NCCL ", collective, ": the ", role, " tensor of shape ",
                         ShapeStr(t.shape()), " is not contiguous"));
  return GpuOf(t, collective);
}

void NcclCommunicator::Check(nccl::ncclResult_t rc, const char* collective) {
  if (rc == nccl::ncclSuccess) return;
  throw DeviceError(Msg("NCCL ", collective, " failed on rank ", rank_, " of ", world_size_, " (",
                        device_->name(), "): ", api_.GetErrorString(rc), " (NCCL error ",
                        static_cast<int>(rc), ")"));
}

void NcclCommunicator::Queued(CudaGPU& gpu, const char* collective) {
  last_ = collective;
  SINGA_CUDA_CHECK(cudaEventRecord(finished_, gpu.stream()), gpu.ordinal());
}

void NcclCommunicator::AllReduce(const Tensor& t) {
  std::lock_guard<std::mutex> lock(mu_);
  CudaGPU& gpu = Prepare(t, "all_reduce", "summed");
  const nccl::ncclDataType_t type = NcclType(t.data_type(), "all_reduce");
  if (t.Size() == 0) return;  // every rank has the same count
  gpu.Activate();
  void* buf = t.raw();
  Check(api_.AllReduce(buf, buf, t.Size(), type, nccl::ncclSum, comm_, gpu.stream()),
        "all_reduce");
  Queued(gpu, "all_reduce");
}

void NcclCommunicator::Broadcast(const Tensor& t, int root) {
  std::lock_guard<std::mutex> lock(mu_);
  if (root < 0 || root >= world_size_)
    throw ValueError(Msg("NCCL broadcast: root ", root, " is not a rank of this job of ",
                         world_size_));
  CudaGPU& gpu = Prepare(t, "broadcast", "broadcast");
  const nccl::ncclDataType_t type = NcclType(t.data_type(), "broadcast");
  if (t.Size() == 0) return;
  gpu.Activate();
  void* buf = t.raw();
  Check(api_.Broadcast(buf, buf, t.Size(), type, root, comm_, gpu.stream()), "broadcast");
  Queued(gpu, "broadcast");
}

void NcclCommunicator::AllGather(const Tensor& send, const Tensor& recv) {
  std::lock_guard<std::mutex> lock(mu_);
  CudaGPU& gpu = Prepare(send, "all_gather", "send");
  Prepare(recv, "all_gather", "receive");
  if (send.data_type() != recv.data_type())
    throw TypeError(Msg("NCCL all_gather: send is ", DataTypeName(send.data_type()),
                        ", receive ", DataTypeName(recv.data_type())));
  const size_t n = send.Size();
  if (recv.Size() != n * static_cast<size_t>(world_size_))
    throw ValueError(Msg("NCCL all_gather: the receive tensor has ", recv.Size(),
                         " elements; ", world_size_, " ranks of ", n, " need ",
                         n * static_cast<size_t>(world_size_)));
  const nccl::ncclDataType_t type = NcclType(send.data_type(), "all_gather");
  if (n == 0) return;
  const char* in = static_cast<const char*>(send.raw());
  char* out = static_cast<char*>(recv.raw());
  const size_t bytes = send.MemSize();
  if (in != out + static_cast<size_t>(rank_) * bytes &&
      Overlap(in, bytes, out, recv.MemSize()))
    throw ValueError("NCCL all_gather: send overlaps the receive tensor other than as this "
                     "rank's slot of it");
  gpu.Activate();
  Check(api_.AllGather(in, out, n, type, comm_, gpu.stream()), "all_gather");
  Queued(gpu, "all_gather");
}

void NcclCommunicator::ReduceScatter(const Tensor& send, const Tensor& recv) {
  std::lock_guard<std::mutex> lock(mu_);
  CudaGPU& gpu = Prepare(send, "reduce_scatter", "send");
  Prepare(recv, "reduce_scatter", "receive");
  if (send.data_type() != recv.data_type())
    throw TypeError(Msg("NCCL reduce_scatter: send is ", DataTypeName(send.data_type()),
                        ", receive ", DataTypeName(recv.data_type())));
  const size_t n = recv.Size();
  if (send.Size() != n * static_cast<size_t>(world_size_))
    throw ValueError(Msg("NCCL reduce_scatter: the send tensor has ", send.Size(),
                         " elements; ", world_size_, " ranks of ", n, " need ",
                         n * static_cast<size_t>(world_size_)));
  const nccl::ncclDataType_t type = NcclType(send.data_type(), "reduce_scatter");
  if (n == 0) return;
  const char* in = static_cast<const char*>(send.raw());
  char* out = static_cast<char*>(recv.raw());
  const size_t bytes = recv.MemSize();
  if (out != in + static_cast<size_t>(rank_) * bytes &&
      Overlap(in, send.MemSize(), out, bytes))
    throw ValueError("NCCL reduce_scatter: the receive tensor overlaps send other than as "
                     "this rank's slot of it");
  gpu.Activate();
  Check(api_.ReduceScatter(in, out, n, type, nccl::ncclSum, comm_, gpu.stream()),
        "reduce_scatter");
  Queued(gpu, "reduce_scatter");
}

bool NcclCommunicator::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  if (comm_ == nullptr)
    throw DeviceError(Msg("NCCL on rank ", rank_, " of ", world_size_,
                          ": the communicator was aborted (after ", last_, ")"));
  nccl::ncclResult_t async = nccl::ncclSuccess;
  Check(api_.CommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
  if (async != nccl::ncclSuccess && async != nccl::ncclInProgress) {
    // NCCL's rule: a communicator with an asynchronous error must be aborted.
    api_.CommAbort(comm_);
    comm_ = nullptr;
    throw DeviceError(Msg("NCCL ", last_, " failed on rank ", rank_, " of ", world_size_, " (",
                          device_->name(), "): ", api_.GetErrorString(async), " (NCCL error ",
                          static_cast<int>(async), ", reported asynchronously); the "
                          "communicator was aborted"));
  }
  const cudaError_t state = cudaEventQuery(finished_);
  if (state == cudaSuccess) return true;
  if (state == cudaErrorNotReady) return false;
  ThrowCudaError(state, "cudaEventQuery (NCCL collectives)", gpu_->ordinal());
}

void NcclCommunicator::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  if (comm_ == nullptr) return;
  gpu_->Activate();
  api_.CommAbort(comm_);
  comm_ = nullptr;
}

}  // namespace cuda
}  // namespace singa
