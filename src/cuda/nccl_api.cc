// Loading NCCL at run time: see nccl_api.h.
#include "cuda/nccl_api.h"

#include <mutex>

#include "core/common.h"
#include "cuda/dynload.h"

namespace singa {
namespace nccl {

namespace {

constexpr const char* kWhat = "NCCL";

Api LoadOnce() {
  void* lib = cuda::LoadCudaLibrary(kWhat, {"libnccl.so.2"}, "nvidia-nccl-cu13");
  Api api;
  api.GetVersion = cuda::LoadFn<GetVersionFn>(lib, "ncclGetVersion", kWhat);
  api.GetUniqueId = cuda::LoadFn<GetUniqueIdFn>(lib, "ncclGetUniqueId", kWhat);
  api.CommInitRank = cuda::LoadFn<CommInitRankFn>(lib, "ncclCommInitRank", kWhat);
  api.CommDestroy = cuda::LoadFn<CommDestroyFn>(lib, "ncclCommDestroy", kWhat);
  api.CommAbort = cuda::LoadFn<CommAbortFn>(lib, "ncclCommAbort", kWhat);
  api.CommGetAsyncError = cuda::LoadFn<CommGetAsyncErrorFn>(lib, "ncclCommGetAsyncError", kWhat);
  api.AllReduce = cuda::LoadFn<AllReduceFn>(lib, "ncclAllReduce", kWhat);
  api.Broadcast = cuda::LoadFn<BroadcastFn>(lib, "ncclBroadcast", kWhat);
  api.AllGather = cuda::LoadFn<AllGatherFn>(lib, "ncclAllGather", kWhat);
  api.ReduceScatter = cuda::LoadFn<ReduceScatterFn>(lib, "ncclReduceScatter", kWhat);
  api.GroupStart = cuda::LoadFn<GroupStartFn>(lib, "ncclGroupStart", kWhat);
  api.GroupEnd = cuda::LoadFn<GroupEndFn>(lib, "ncclGroupEnd", kWhat);
  api.GetErrorString = cuda::LoadFn<GetErrorStringFn>(lib, "ncclGetErrorString", kWhat);
  const ncclResult_t rc = api.GetVersion(&api.version);
  if (rc != ncclSuccess)
    throw DeviceError(Msg("ncclGetVersion failed: ", api.GetErrorString(rc), " (NCCL error ",
                          static_cast<int>(rc), ")"));
  // Every signature above is NCCL 2's; the 2.x line keeps them stable.
  if (api.version < 20000 || api.version >= 30000)
    throw DeviceError(Msg("NCCL: the loaded library reports version ", VersionString(api.version),
                          "; singa's declarations are those of NCCL 2 (install nvidia-nccl-cu13)"));
  return api;
}

}  // namespace

const Api& Load() {
  // Not std::call_once: a failed load (no wheel yet) must be retried by the next caller.
  static std::mutex mu;
  static Api api;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!loaded) {
    api = LoadOnce();
    loaded = true;
  }
  return api;
}

std::string VersionString(int code) {
  const bool old_encoding = code < 10000;
  const int major = old_encoding ? code / 1000 : code / 10000;
  const int minor = old_encoding ? (code % 1000) / 100 : (code % 10000) / 100;
  return Msg(major, ".", minor, ".", code % 100);
}

}  // namespace nccl
}  // namespace singa
