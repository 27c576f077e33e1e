// Host check (no GPU needed): elementwise.cu's Cast against the CPU's Cast (cpu/iter.h) for every dtype
// pair, and CUDA's __float2half_rn / __half2float (host emulation of the device
// instructions) against core's FloatToHalf / HalfToFloat.
#include "cuda/elementwise.cu"
#include "cpu/iter.h"
#include <cstdio>
#include <random>
using namespace singa;
template <typename C> struct CpuOf { using type = C; };
template <> struct CpuOf<cuda::Half> { using type = half_t; };
template <> struct CpuOf<cuda::BFloat> { using type = bf16_t; };
template <> struct CpuOf<cuda::Bool> { using type = bool_t; };
template <typename T> T FromBits(uint64_t b) { T t; std::memcpy(&t, &b, sizeof(T)); return t; }
template <typename T> uint64_t ToBits(T t) { uint64_t b = 0; std::memcpy(&b, &t, sizeof(T)); return b; }
long fails = 0, checks = 0;
template <typename D, typename S> void Pair(const std::vector<uint64_t>& bits) {
  using CD = typename CpuOf<D>::type; using CS = typename CpuOf<S>::type;
  for (uint64_t b : bits) {
    S s = FromBits<S>(b);
    CS cs = FromBits<CS>(b);
    if (std::is_same_v<S, cuda::Bool> && (b & 0xff) > 1) continue;
    uint64_t got = ToBits(cuda::Cast<D>(s)), want = ToBits(Cast<CD>(cs));
    ++checks;
    if (got != want && fails++ < 10) std::printf("mismatch %s<-%s bits %llx: %llx vs %llx\n", DataTypeName(DTypeOf<CD>()), DataTypeName(DTypeOf<CS>()), (unsigned long long)b, (unsigned long long)got, (unsigned long long)want);
  }
}
template <typename S> void From(const std::vector<uint64_t>& bits) {
  Pair<float, S>(bits); Pair<double, S>(bits); Pair<int32_t, S>(bits); Pair<cuda::Half, S>(bits); Pair<cuda::BFloat, S>(bits);
  Pair<int8_t, S>(bits); Pair<uint8_t, S>(bits); Pair<int64_t, S>(bits); Pair<cuda::Bool, S>(bits);
}
int main() {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> bits;
  double specials[] = {0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 127.9, -128.5, 255.5, 256.0, 3e9, -3e9, 1e20, -1e20, 65504.0, 65520.0, 1e-8, NAN, INFINITY, -INFINITY, 2147483647.0, 2147483648.0, -2147483649.0, 9.3e18};
  for (double d : specials) { float f = (float)d; uint32_t fb; std::memcpy(&fb, &f, 4); uint64_t db; std::memcpy(&db, &d, 8); bits.push_back(fb); bits.push_back(db); }
  for (int i = 0; i < 200000; ++i) { uint64_t r = rng(); bits.push_back(r); bits.push_back(r & 0xffffffffu); bits.push_back(r & 0xffffu); bits.push_back(r & 0xffu); bits.push_back(r & 1); }
  From<float>(bits); From<double>(bits); From<int32_t>(bits); From<cuda::Half>(bits); From<cuda::BFloat>(bits);
  From<int8_t>(bits); From<uint8_t>(bits); From<int64_t>(bits); From<cuda::Bool>(bits);
  std::printf("Cast: %ld checks, %ld mismatches\n", checks, fails);
  long hf = 0, nan_diff = 0;
  for (uint64_t x = 0; x < (1ull << 32); x += 7) {
    uint32_t u = (uint32_t)x; float f; std::memcpy(&f, &u, 4);
    uint16_t a = __half_as_ushort(__float2half_rn(f)), b = FloatToHalf(f);
    if (a != b) { if (f != f) ++nan_diff; else if (hf++ < 5) std::printf("f16 %08x: %04x vs %04x\n", u, a, b); }
  }
  long wf = 0;
  for (uint32_t h = 0; h < 65536; ++h) { float a = __half2float(__ushort_as_half((unsigned short)h)), b = HalfToFloat((uint16_t)h); if (std::memcmp(&a, &b, 4) != 0 && !(a != a && b != b)) ++wf; }
  std::printf("float->half: %ld non-NaN mismatches (%ld NaN payload differences); half->float: %ld mismatches\n", hf, nan_diff, wf);
  return (fails || hf || wf) ? 1 : 0;
}

// The device entry points elementwise.cu's kernel table refers to (never called here).
namespace singa {
void* Tensor::raw() const { return nullptr; }
bool Tensor::IsContiguous() const { return true; }
namespace cuda {
cudaStream_t StreamOf(const Tensor&, const char*) { return nullptr; }
void CheckLaunch(const char*, const Tensor&) {}
void ThrowCudaError(cudaError_t, const char*, int) { throw DeviceError("stub"); }
}  // namespace cuda
}  // namespace singa
