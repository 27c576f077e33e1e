// The NCCL entry points singa calls, declared here (NCCL's header comes only with the
// nvidia-nccl-cu13 wheel, which pip's isolated build environment does not see) and
// loaded from libnccl.so.2 when the first communicator is made (cuda/dynload.h).
//
// The types live in singa::nccl under NCCL's own names and with NCCL's enumerator
// values; the communicator handle is NCCL's own opaque pointer type, declared as the
// header declares it. tests/gpu/check_nccl_decls.sh compiles these declarations against
// the wheel's nccl.h and fails when a value, a size or a signature differs.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

// NCCL's opaque communicator, exactly as nccl.h declares it (a redeclaration is legal).
typedef struct ncclComm* ncclComm_t;

namespace singa {
namespace nccl {

constexpr int kUniqueIdBytes = 128;
// The bootstrap handle rank 0 makes and every rank passes to CommInitRank.
typedef struct {
  char internal[kUniqueIdBytes];
} ncclUniqueId;

// Unscoped and without a fixed underlying type, as in nccl.h, so the compiler picks
// the same underlying type for the same enumerators (the check script asserts it).
typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
  ncclTimeout = 8,
  ncclNumResults = 9
} ncclResult_t;

typedef enum {
  ncclInt8 = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9,
  ncclFloat8e4m3 = 10,
  ncclFloat8e5m2 = 11,
  ncclNumTypes = 12
} ncclDataType_t;

// nccl.h sizes its reduction-op enum by this dummy enum's size; mirrored so that the
// largest enumerator, and with it the underlying type, is the same.
typedef enum { ncclNumOps_dummy = 5 } ncclRedOp_dummy_t;
typedef enum {
  ncclSum = 0,
  ncclProd = 1,
  ncclMax = 2,
  ncclMin = 3,
  ncclAvg = 4,
  ncclNumOps = 5,
  ncclMaxRedOp = 0x7fffffff >> (32 - 8 * sizeof(ncclRedOp_dummy_t))
} ncclRedOp_t;

// The signatures of the functions singa loads (NCCL 2.x; ncclGetVersion's version code
// is major*10000 + minor*100 + patch from 2.9 on).
using GetVersionFn = ncclResult_t (*)(int* version);
using GetUniqueIdFn = ncclResult_t (*)(ncclUniqueId* unique_id);
using CommInitRankFn = ncclResult_t (*)(ncclComm_t* comm, int nranks, ncclUniqueId comm_id,
                                        int rank);
using CommDestroyFn = ncclResult_t (*)(ncclComm_t comm);
using CommAbortFn = ncclResult_t (*)(ncclComm_t comm);
using CommGetAsyncErrorFn = ncclResult_t (*)(ncclComm_t comm, ncclResult_t* async_error);
using AllReduceFn = ncclResult_t (*)(const void* sendbuff, void* recvbuff, size_t count,
                                     ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                                     cudaStream_t stream);
using BroadcastFn = ncclResult_t (*)(const void* sendbuff, void* recvbuff, size_t count,
                                     ncclDataType_t datatype, int root, ncclComm_t comm,
                                     cudaStream_t stream);
using AllGatherFn = ncclResult_t (*)(const void* sendbuff, void* recvbuff, size_t sendcount,
                                     ncclDataType_t datatype, ncclComm_t comm,
                                     cudaStream_t stream);
using ReduceScatterFn = ncclResult_t (*)(const void* sendbuff, void* recvbuff, size_t recvcount,
                                         ncclDataType_t datatype, ncclRedOp_t op,
                                         ncclComm_t comm, cudaStream_t stream);
using GroupStartFn = ncclResult_t (*)();
using GroupEndFn = ncclResult_t (*)();
using GetErrorStringFn = const char* (*)(ncclResult_t result);

// The loaded library: every pointer is set (a missing symbol is an error at load).
struct Api {
  int version = 0;  // ncclGetVersion's code, read at load
  GetVersionFn GetVersion = nullptr;
  GetUniqueIdFn GetUniqueId = nullptr;
  CommInitRankFn CommInitRank = nullptr;
  CommDestroyFn CommDestroy = nullptr;
  CommAbortFn CommAbort = nullptr;
  CommGetAsyncErrorFn CommGetAsyncError = nullptr;
  AllReduceFn AllReduce = nullptr;
  BroadcastFn Broadcast = nullptr;
  AllGatherFn AllGather = nullptr;
  ReduceScatterFn ReduceScatter = nullptr;
  GroupStartFn GroupStart = nullptr;
  GroupEndFn GroupEnd = nullptr;
  GetErrorStringFn GetErrorString = nullptr;
};

// Loads libnccl.so.2 on first call (thread-safe; the library stays loaded). DeviceError
// naming the files tried and the wheel to install (nvidia-nccl-cu13) when it is absent,
// or naming the symbol when the library lacks one; a failed load is retried next call.
const Api& Load();

// "2.32.3" from a version code (either of NCCL's two encodings: before 2.9 the minor
// version took one decimal digit, major*1000 + minor*100 + patch).
std::string VersionString(int code);

}  // namespace nccl
}  // namespace singa
