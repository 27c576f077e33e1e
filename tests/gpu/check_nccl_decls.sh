#!/usr/bin/env bash
# Compile-time check of singa's NCCL declarations (src/cuda/nccl_api.h) against NCCL's
# own header, nccl.h of the nvidia-nccl-cu13 wheel: every enumerator value, the
# underlying types of the enums, the unique id's size, and every loaded function's
# signature (our types mapped to NCCL's) must be equal, or the compile fails naming it.
# Needs no GPU, only g++ and the CUDA runtime headers nccl.h includes.
#
#   tests/gpu/check_nccl_decls.sh [NCCL_INCLUDE_DIR]
# The folder defaults to $NCCL_INCLUDE_DIR, else nvidia/nccl/include of the installed
# wheel (found through python).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
inc="${1:-${NCCL_INCLUDE_DIR:-}}"
if [ -z "$inc" ]; then
  inc="$(python - <<'PY' 2>/dev/null || true
import importlib.util, os
spec = importlib.util.find_spec("nvidia")
for root in (spec.submodule_search_locations if spec else []):
    d = os.path.join(root, "nccl", "include")
    if os.path.isfile(os.path.join(d, "nccl.h")):
        print(d)
        break
PY
)"
fi
if [ -z "$inc" ] || [ ! -f "$inc/nccl.h" ]; then
  echo "check_nccl_decls: nccl.h not found; pass its folder (NCCL_INCLUDE_DIR or the first" \
       "argument), e.g. site-packages/nvidia/nccl/include of the nvidia-nccl-cu13 wheel" >&2
  exit 2
fi
cuda_inc="${CUDA_INCLUDE_DIR:-/usr/local/cuda/include}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/check.cc" <<'CC'
#include <nccl.h>

#include <type_traits>

#include "cuda/nccl_api.h"

namespace ours = singa::nccl;

// Our type -> NCCL's, through pointers, const and function types.
template <typename T> struct Real { using type = T; };
template <> struct Real<ours::ncclResult_t> { using type = ::ncclResult_t; };
template <> struct Real<ours::ncclDataType_t> { using type = ::ncclDataType_t; };
template <> struct Real<ours::ncclRedOp_t> { using type = ::ncclRedOp_t; };
template <> struct Real<ours::ncclUniqueId> { using type = ::ncclUniqueId; };
template <typename T> struct Real<T*> { using type = typename Real<T>::type*; };
template <typename T> struct Real<const T> { using type = const typename Real<T>::type; };
template <typename R, typename... A> struct Real<R (*)(A...)> {
  using type = typename Real<R>::type(typename Real<A>::type...);
};
template <typename Ours, typename Theirs>
constexpr bool kSameSignature = std::is_same_v<typename Real<Ours>::type, Theirs>;

#define SAME_FN(alias, fn) \
  static_assert(kSameSignature<ours::alias, decltype(::fn)>, #fn ": signature differs from nccl.h")
SAME_FN(GetVersionFn, ncclGetVersion);
SAME_FN(GetUniqueIdFn, ncclGetUniqueId);
SAME_FN(CommInitRankFn, ncclCommInitRank);
SAME_FN(CommDestroyFn, ncclCommDestroy);
SAME_FN(CommAbortFn, ncclCommAbort);
SAME_FN(CommGetAsyncErrorFn, ncclCommGetAsyncError);
SAME_FN(AllReduceFn, ncclAllReduce);
SAME_FN(BroadcastFn, ncclBroadcast);
SAME_FN(AllGatherFn, ncclAllGather);
SAME_FN(ReduceScatterFn, ncclReduceScatter);
SAME_FN(GroupStartFn, ncclGroupStart);
SAME_FN(GroupEndFn, ncclGroupEnd);
SAME_FN(GetErrorStringFn, ncclGetErrorString);

// The handle is NCCL's own type, not a mapped one.
static_assert(std::is_same_v<::ncclComm_t, struct ncclComm*>, "ncclComm_t differs");

#define SAME_ENUM(E)                                                                       \
  static_assert(std::is_same_v<std::underlying_type_t<ours::E>, std::underlying_type_t<::E>>, \
                #E ": underlying type differs");                                           \
  static_assert(sizeof(ours::E) == sizeof(::E), #E ": size differs")
SAME_ENUM(ncclResult_t);
SAME_ENUM(ncclDataType_t);
SAME_ENUM(ncclRedOp_t);

#define SAME_VALUE(name) \
  static_assert(static_cast<long long>(ours::name) == static_cast<long long>(::name), \
                #name ": value differs from nccl.h")
SAME_VALUE(ncclSuccess); SAME_VALUE(ncclUnhandledCudaError); SAME_VALUE(ncclSystemError);
SAME_VALUE(ncclInternalError); SAME_VALUE(ncclInvalidArgument); SAME_VALUE(ncclInvalidUsage);
SAME_VALUE(ncclRemoteError); SAME_VALUE(ncclInProgress); SAME_VALUE(ncclTimeout);
SAME_VALUE(ncclNumResults);
SAME_VALUE(ncclInt8); SAME_VALUE(ncclUint8); SAME_VALUE(ncclInt32); SAME_VALUE(ncclUint32);
SAME_VALUE(ncclInt64); SAME_VALUE(ncclUint64); SAME_VALUE(ncclFloat16); SAME_VALUE(ncclFloat32);
SAME_VALUE(ncclFloat64); SAME_VALUE(ncclBfloat16); SAME_VALUE(ncclFloat8e4m3);
SAME_VALUE(ncclFloat8e5m2); SAME_VALUE(ncclNumTypes);
SAME_VALUE(ncclSum); SAME_VALUE(ncclProd); SAME_VALUE(ncclMax); SAME_VALUE(ncclMin);
SAME_VALUE(ncclAvg); SAME_VALUE(ncclNumOps); SAME_VALUE(ncclMaxRedOp);

static_assert(ours::kUniqueIdBytes == NCCL_UNIQUE_ID_BYTES, "unique id length differs");
static_assert(sizeof(ours::ncclUniqueId) == sizeof(::ncclUniqueId) &&
              alignof(ours::ncclUniqueId) == alignof(::ncclUniqueId),
              "ncclUniqueId: size or alignment differs");
static_assert(std::is_trivially_copyable_v<ours::ncclUniqueId>, "ncclUniqueId must be POD");
// The library must be NCCL 2 (nccl_api.cc refuses others at load).
static_assert(NCCL_MAJOR == 2, "nccl.h is not NCCL 2");
CC
g++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I "$here/src" -I "$inc" -I "$cuda_inc" \
    "$work/check.cc"
ver="$(sed -n 's/^#define NCCL_VERSION_CODE \([0-9]*\).*/\1/p' "$inc/nccl.h")"
echo "check_nccl_decls: singa's NCCL declarations match $inc/nccl.h (version code $ver)"
