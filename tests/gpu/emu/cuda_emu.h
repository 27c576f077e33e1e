// A host emulation of the little CUDA that src/cuda/reduce.cu and shape.cu use, so their
// kernels run on a machine without a GPU: force-included (g++ -include) before those
// files. Each launch runs its blocks one after another, each block as blockDim real
// threads; __syncthreads is a barrier of the block, warp shuffles go through a per-warp
// exchange with a barrier of the warp, __shared__ variables are function statics (one
// block at a time uses them), atomics are std::atomic_ref. Tests only
// (tests/gpu/test_cuda_emulated.py).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#undef __shared__
#define __shared__ static
#undef __launch_bounds__
#define __launch_bounds__(...)

namespace emu {

inline thread_local uint3 tl_thread{0, 0, 0};
inline thread_local uint3 tl_block{0, 0, 0};
inline dim3 g_grid, g_block;

struct BlockState {
  explicit BlockState(int n) : bar(n), warps((n + 31) / 32) {
    for (int w = 0; w < warps; ++w) {
      const int m = std::min(32, n - 32 * w);
      warp_bar.push_back(std::make_unique<std::barrier<>>(m));
    }
    slots.resize(static_cast<size_t>(warps) * 32);
  }
  std::barrier<> bar;
  int warps;
  std::vector<std::unique_ptr<std::barrier<>>> warp_bar;
  std::vector<uint64_t> slots;  // one 8-byte slot per thread for shuffles
};
inline BlockState* g_state = nullptr;
inline thread_local int tl_linear = 0;

inline void SyncThreads() { g_state->bar.arrive_and_wait(); }

template <typename V>
V ShflXor(V v, int off) {
  static_assert(sizeof(V) <= 8, "8-byte shuffles at most");
  const int lane = tl_linear % 32, warp = tl_linear / 32;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(V));
  g_state->slots[static_cast<size_t>(tl_linear)] = bits;
  g_state->warp_bar[static_cast<size_t>(warp)]->arrive_and_wait();
  const uint64_t other = g_state->slots[static_cast<size_t>(warp * 32 + (lane ^ off))];
  g_state->warp_bar[static_cast<size_t>(warp)]->arrive_and_wait();
  V r;
  std::memcpy(&r, &other, sizeof(V));
  return r;
}

// Runs body() as every thread of every block of the grid: blockDim threads for the whole
// launch, taking the blocks one after another with a barrier between blocks (so the
// function statics that stand for shared memory serve one block at a time). Every thread
// of a block must reach the same __syncthreads, as CUDA asks of the kernels here.
inline void Run(dim3 grid, dim3 block, const std::function<void()>& body) {
  g_grid = grid;
  g_block = block;
  const int n = static_cast<int>(block.x * block.y * block.z);
  BlockState state(n);
  g_state = &state;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t)
    threads.emplace_back([&, t] {
      tl_linear = t;
      tl_thread = uint3{static_cast<unsigned>(t) % block.x,
                        (static_cast<unsigned>(t) / block.x) % block.y,
                        static_cast<unsigned>(t) / (block.x * block.y)};
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            tl_block = uint3{bx, by, bz};
            body();
            state.bar.arrive_and_wait();
          }
    });
  for (auto& th : threads) th.join();
  g_state = nullptr;
}

}  // namespace emu

#define threadIdx (::emu::tl_thread)
#define blockIdx (::emu::tl_block)
#define blockDim (::emu::g_block)
#define gridDim (::emu::g_grid)
#define __syncthreads() ::emu::SyncThreads()
#define __shfl_xor_sync(mask, v, off) ::emu::ShflXor((v), (off))

#define SINGA_RED_LAUNCH(grid, block, stream, ...)                            \
  [&](auto&&... emu_args_) {                                                  \
    (void)(stream);                                                           \
    ::emu::Run(dim3(grid), dim3(block), [&] { __VA_ARGS__(emu_args_...); }); \
  }

inline float __uint_as_float(unsigned v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline double atomicAdd(double* p, double v) { return std::atomic_ref<double>(*p).fetch_add(v); }
inline int atomicAdd(int* p, int v) {
  return static_cast<int>(std::atomic_ref<unsigned>(*reinterpret_cast<unsigned*>(p))
                              .fetch_add(static_cast<unsigned>(v)));
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*p).fetch_add(v);
}
