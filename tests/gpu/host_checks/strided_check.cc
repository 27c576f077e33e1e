// Host check of cuda/strided.cuh (no GPU needed): the merged loop nest's offsets, on its
// 32-bit and 64-bit index paths, equal brute-force offsets; too many axes raise ValueError.
#include "cuda/strided.cuh"
#include <cstdio>
#include <random>
using namespace singa;
int main() {
  std::mt19937 rng(1);
  int checked = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    int nd = rng() % 7;
    Shape shape(nd);
    for (auto& d : shape) d = 1 + rng() % 4;
    Strides st[3];
    for (int k = 0; k < 3; ++k) {
      st[k].resize(nd);
      int mode = rng() % 3;
      int64_t s = 1;
      for (int i = nd - 1; i >= 0; --i) {
        if (mode == 0) { st[k][i] = s; s *= shape[i]; }                    // contiguous
        else if (mode == 1) st[k][i] = (rng() % 3 == 0) ? 0 : (int64_t)(rng() % 20) - 10;  // random/broadcast
        else { st[k][i] = s * ((rng() % 2) ? 1 : -1); s *= shape[i] * (1 + rng() % 2); }
      }
    }
    const Strides* p[3] = {&st[0], &st[1], &st[2]};
    auto s = cuda::MakeStridedIndex<3>(shape, p, "test");
    int64_t n = (int64_t)Product(shape);
    int64_t prod = 1;
    for (int d = 0; d < s.ndim; ++d) prod *= s.dims[d];
    if (prod != n) { std::printf("size mismatch\n"); return 1; }
    if (!s.index32) { std::printf("small tensor not index32\n"); return 1; }
    auto s64 = s;
    s64.index32 = false;
    for (int64_t i = 0; i < n; ++i) {
      int64_t off[3], off64[3], want[3] = {0, 0, 0}, rem = i;
      s.Offsets(i, off);
      s64.Offsets(i, off64);
      for (int k = 0; k < 3; ++k) if (off[k] != off64[k]) { std::printf("32/64 mismatch\n"); return 1; }
      for (int d = nd - 1; d >= 0; --d) { int64_t idx = rem % shape[d]; rem /= shape[d]; for (int k = 0; k < 3; ++k) want[k] += idx * st[k][d]; }
      for (int k = 0; k < 3; ++k) if (off[k] != want[k]) { std::printf("mismatch trial %d i %ld\n", trial, (long)i); return 1; }
      ++checked;
    }
  }
  // more than 2^32 elements: the 64-bit path, sampled indices against brute force
  {
    Shape shape = {3, (size_t(1) << 31) + 5, 2};
    Strides a = {-7, 3, (int64_t(1) << 33)}, b = {0, 1, 0};
    const Strides* p[2] = {&a, &b};
    auto s = cuda::MakeStridedIndex<2>(shape, p, "big");
    if (s.index32) { std::printf("big tensor index32\n"); return 1; }
    std::mt19937_64 r(5);
    const int64_t n = (int64_t)Product(shape);
    for (int t = 0; t < 100000; ++t) {
      int64_t i = (int64_t)(r() % (uint64_t)n), off[2], rem = i, want[2] = {0, 0};
      if (t < 3) i = n - 1 - t;
      rem = i;
      s.Offsets(i, off);
      for (int d = 2; d >= 0; --d) { int64_t idx = rem % (int64_t)shape[d]; rem /= (int64_t)shape[d]; want[0] += idx * a[d]; want[1] += idx * b[d]; }
      if (off[0] != want[0] || off[1] != want[1]) { std::printf("big mismatch at %ld\n", (long)i); return 1; }
    }
    std::printf("2^32+ elements: 64-bit path, 100000 sampled offsets match\n");
  }
  // too many axes
  Shape big(13, 2); Strides rev(13); int64_t s = 1; for (int i = 0; i < 13; ++i) { rev[i] = s; s *= 2; }
  const Strides* p1[1] = {&rev};
  try { cuda::MakeStridedIndex<1>(big, p1, "cuda unary Exp"); std::printf("no error\n"); return 1; }
  catch (const ValueError& e) { std::printf("ValueError: %s\n", e.what()); }
  Strides cont(13); s = 1; for (int i = 12; i >= 0; --i) { cont[i] = s; s *= 2; }
  const Strides* p2[1] = {&cont};
  auto m = cuda::MakeStridedIndex<1>(big, p2, "x");
  if (m.ndim != 1) return 1;
  std::printf("contiguous 13-d merges to %d axis of %ld; %d offsets checked\n", m.ndim, (long)m.dims[0], checked);
}
