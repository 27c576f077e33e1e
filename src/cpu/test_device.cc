#include "cpu/test_device.h"

#include <cstdlib>
#include <optional>
#include <tuple>
#include <type_traits>

#include "cpu/cpu_kernels.h"

namespace singa {

namespace {

size_t Rounded(size_t size) { return (size + 63) / 64 * 64; }

// A tensor over the same bytes as `t` that does not follow its block: what a captured
// kernel holds is the address, not the buffer.
Tensor AtAddress(const Tensor& t) {
  const std::shared_ptr<Block>& b = t.block();
  if (!b || b->data() == nullptr) return t;
  if (b->blocked())
    throw DeviceError("test device: a kernel on a channel-blocked operand cannot be captured");
  auto view = std::make_shared<Block>(b->data(), b->size(), b->owner(), [] {});
  return Tensor(view, t.device(), t.data_type(), t.shape(), t.stride(), t.offset());
}

void CheckStillPlain(const Tensor& t) {
  if (t.block() && t.block()->blocked())
    throw DeviceError("test device: a captured kernel gave its output a channel-blocked layout, "
                      "which the captured block cannot follow");
}

// How a kernel argument is kept for a launch (Frozen), and handed back (Thaw).
template <typename T>
struct Kept {
  using Frozen = T;
  static Frozen Freeze(const T& v) { return v; }
  static const T& Thaw(Frozen& v) { return v; }
  static void Check(const Frozen&) {}
};
template <>
struct Kept<Tensor> {
  using Frozen = Tensor;
  static Frozen Freeze(const Tensor& t) { return AtAddress(t); }
  static const Tensor& Thaw(Frozen& t) { return t; }
  static void Check(const Frozen& t) { CheckStillPlain(t); }
};
template <typename P>
struct KeptPointer {
  using Frozen = std::optional<Tensor>;
  static Frozen Freeze(P t) { return t ? Frozen(AtAddress(*t)) : std::nullopt; }
  static P Thaw(Frozen& t) { return t ? &*t : nullptr; }
  static void Check(const Frozen& t) {
    if (t) CheckStillPlain(*t);
  }
};
template <>
struct Kept<Tensor*> : KeptPointer<Tensor*> {};
template <>
struct Kept<const Tensor*> : KeptPointer<const Tensor*> {};
template <>
struct Kept<GemmCall> {
  using Frozen = GemmCall;
  static Frozen Freeze(const GemmCall& g) {
    GemmCall f = g;
    f.a.t = AtAddress(g.a.t);
    f.b.t = AtAddress(g.b.t);
    f.c = AtAddress(g.c);
    return f;
  }
  static const GemmCall& Thaw(Frozen& g) { return g; }
  static void Check(const Frozen& g) { CheckStillPlain(g.c); }
};

class KeptWork : public CapturedWork {
 public:
  explicit KeptWork(std::vector<std::function<void()>> calls) : calls_(std::move(calls)) {}
  void Launch() override {
    for (auto& call : calls_) call();
  }

 private:
  std::vector<std::function<void()>> calls_;
};

template <typename... A, typename F, typename Tuple, size_t... I>
void RunKept(const F& kernel, Tuple& frozen, std::index_sequence<I...>) {
  kernel(Kept<std::decay_t<A>>::Thaw(std::get<I>(frozen))...);
  (Kept<std::decay_t<A>>::Check(std::get<I>(frozen)), ...);
}

}  // namespace

template <typename F, typename... A>
void TestDevice::Keep(const F& kernel, std::atomic<long>* calls, const A&... args) {
  using Frozen = std::tuple<typename Kept<std::decay_t<A>>::Frozen...>;
  auto frozen = std::make_shared<Frozen>(Kept<std::decay_t<A>>::Freeze(args)...);
  auto run = [kernel, calls, frozen] {
    calls->fetch_add(1, std::memory_order_relaxed);
    RunKept<A...>(kernel, *frozen, std::index_sequence_for<A...>{});
  };
  std::lock_guard<std::mutex> lock(mu_);
  kept_.push_back(std::move(run));
}

TestDevice::TestDevice(int id, bool host_memory)
    : Device(id, kCpp), host_memory_(host_memory), table_(cpu::Kernels()) {
  ForEachKernel(table_, [this](auto& entry, KernelFamily family, const std::string& name) {
    std::atomic<long>* counter = &calls_[static_cast<size_t>(family)];
    entry = [this, inner = entry, counter, name](auto&&... args) {
      using Result = decltype(inner(std::forward<decltype(args)>(args)...));
      if (capturing_.load(std::memory_order_acquire)) {
        if constexpr (std::is_void_v<Result>) {
          Keep(inner, counter, args...);
          return;
        } else {
          FailCapture("the kernel " + name + " returns a value to the host");
        }
      }
      counter->fetch_add(1, std::memory_order_relaxed);
      return inner(std::forward<decltype(args)>(args)...);
    };
  });
  CheckKernelTable(table_, name());
}

std::vector<std::pair<std::string, long>> TestDevice::kernel_calls() const {
  std::vector<std::pair<std::string, long>> out;
  for (size_t i = 0; i < calls_.size(); ++i)
    out.emplace_back(KernelFamilyName(static_cast<KernelFamily>(i)), calls_[i].load());
  return out;
}

void TestDevice::ResetKernelCalls() {
  for (auto& c : calls_) c.store(0);
}

void TestDevice::FailCapture(const std::string& why) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (capture_error_.empty()) capture_error_ = why;
  }
  throw DeviceError(Msg("test device: ", why, ", which captured work cannot do"));
}

void TestDevice::BeginCapture(uint64_t* pool) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capturing_) throw DeviceError("test device: a capture is already open");
  if (*pool == 0) *pool = next_pool_++;
  if (pools_[*pool].released)
    throw DeviceError(Msg("test device: capture pool ", *pool, " was released"));
  capture_pool_ = *pool;
  capture_error_.clear();
  kept_.clear();
  capturing_.store(true, std::memory_order_release);
}

std::unique_ptr<CapturedWork> TestDevice::EndCapture(std::string* why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!capturing_) throw DeviceError("test device: no capture is open");
  capturing_.store(false, std::memory_order_release);
  std::vector<std::function<void()>> kept = std::move(kept_);
  kept_.clear();
  if (!capture_error_.empty()) {
    *why = capture_error_;
    return nullptr;
  }
  return std::make_unique<KeptWork>(std::move(kept));
}

void TestDevice::ReleaseCapturePool(uint64_t pool) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  it->second.released = true;
  for (auto& [size, ptr] : it->second.free) {
    pool_of_.erase(ptr);
    std::free(ptr);
  }
  it->second.free.clear();
}

void TestDevice::CopyToHost(void* dst, const void* src, size_t bytes) const {
  if (capturing_.load(std::memory_order_acquire)) FailCapture("a copy to the host");
  NoteCaptureHazard("copies between host and device memory");
  Device::CopyToHost(dst, src, bytes);
}

void TestDevice::CopyFromHost(void* dst, const void* src, size_t bytes) {
  if (capturing_.load(std::memory_order_acquire)) FailCapture("a copy from the host");
  NoteCaptureHazard("copies between host and device memory");
  Device::CopyFromHost(dst, src, bytes);
}

void* TestDevice::Malloc(size_t size) {
  const size_t bytes = Rounded(size);
  if (!capturing_.load(std::memory_order_acquire)) return std::aligned_alloc(64, bytes);
  std::lock_guard<std::mutex> lock(mu_);
  Pool& pool = pools_[capture_pool_];
  auto it = pool.free.find(bytes);
  if (it != pool.free.end()) {
    void* ptr = it->second;
    pool.free.erase(it);
    return ptr;
  }
  void* ptr = std::aligned_alloc(64, bytes);
  if (ptr != nullptr) pool_of_[ptr] = capture_pool_;
  return ptr;
}

void TestDevice::Free(void* ptr, size_t size) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pool_of_.find(ptr);
    if (it != pool_of_.end()) {
      Pool& pool = pools_[it->second];
      if (!pool.released) {
        pool.free.emplace(Rounded(size), ptr);  // only later captures into the pool reuse it
        return;
      }
      pool_of_.erase(it);
    }
  }
  std::free(ptr);
}

}  // namespace singa
