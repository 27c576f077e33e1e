// Graphed(name, f): a binding that also records itself into the active graph (core/graph.h).
// Bindings get it through DefRecorded, NotGraphed through DefNotReplayable (bind/def.h).
//
// Arguments are captured by value (a Tensor copy shares its Block, so a replay reads
// and writes the same buffers). A replayed call that returns a new tensor moves its
// data into the Block of the tensor returned when recording, so every later node (and
// every Python object holding that tensor) sees the new values.
#pragma once

#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/graph.h"
#include "core/tensor.h"

namespace singa {

namespace graphed_detail {

template <typename F>
struct Signature : Signature<decltype(&F::operator())> {};
template <typename C, typename R, typename... A>
struct Signature<R (C::*)(A...) const> {
  using Function = std::function<R(A...)>;
};
template <typename R, typename... A>
struct Signature<R (*)(A...)> {
  using Function = std::function<R(A...)>;
};

// Moves freshly computed data into the recorded tensor's Block (a copy where replays
// capture and the block keeps its address, core/graph.h).
inline void Adopt(const Tensor& recorded, const Tensor& fresh) {
  if (recorded.block() == fresh.block() || !recorded.block() || !fresh.block()) return;
  AdoptInto(*recorded.block(), *fresh.block());
}

inline void Adopt(const std::vector<Tensor>& recorded, const std::vector<Tensor>& fresh) {
  for (size_t i = 0; i < recorded.size() && i < fresh.size(); ++i) Adopt(recorded[i], fresh[i]);
}

inline void Adopt(const std::pair<Tensor, Tensor>& recorded, const std::pair<Tensor, Tensor>& fresh) {
  Adopt(recorded.first, fresh.first);
  Adopt(recorded.second, fresh.second);
}

template <typename T>
inline void Adopt(const T&, const T&) {}  // scalars: nothing to move

// The blocks of the tensors in a captured value, one entry per tensor (the graph counts
// them against each block's owners).
using Blocks = std::vector<std::shared_ptr<Block>>;
inline void Collect(const Tensor& t, Blocks* out) {
  if (t.block()) out->push_back(t.block());
}
inline void Collect(const std::vector<Tensor>& ts, Blocks* out) {
  for (const Tensor& t : ts) Collect(t, out);
}
inline void Collect(const std::pair<Tensor, Tensor>& p, Blocks* out) {
  Collect(p.first, out);
  Collect(p.second, out);
}
template <typename T>
inline void Collect(const T&, Blocks*) {}  // scalars, shapes, names

template <typename Tuple>
Blocks CollectAll(const Tuple& saved) {
  Blocks blocks;
  std::apply([&](const auto&... v) { (Collect(v, &blocks), ...); }, saved);
  return blocks;
}

template <typename R, typename... A>
auto Wrap(std::string name, std::function<R(A...)> fn) {
  return [name, fn](A... args) -> R {
    Graph* g = GraphRecorder::Current();
    if (g == nullptr) return fn(std::forward<A>(args)...);
    TakeCaptureHazard();  // what ran before this call is not this node's
    auto saved = std::make_tuple(std::decay_t<A>(args)...);
    Blocks blocks = CollectAll(saved);
    const size_t first_output = blocks.size();
    if constexpr (std::is_void_v<R>) {
      fn(std::forward<A>(args)...);
      g->Add(name, [fn, saved]() mutable { std::apply(fn, saved); }, blocks, first_output);
    } else {
      R out = fn(std::forward<A>(args)...);
      R recorded = out;
      Collect(recorded, &blocks);
      g->Add(name, [fn, saved, recorded]() mutable { Adopt(recorded, std::apply(fn, saved)); },
             blocks, first_output);
      return out;
    }
  };
}

}  // namespace graphed_detail

// `name` labels the recorded nodes in time profiles (Device.PrintTimeProfiling).
template <typename F>
auto Graphed(std::string name, F f) {
  using Function = typename graphed_detail::Signature<std::decay_t<F>>::Function;
  return graphed_detail::Wrap(std::move(name), Function(f));
}

namespace graphed_detail {
template <typename R, typename... A>
auto WrapNot(std::function<R(A...)> fn, const char* why) {
  return [fn, why](A... args) -> R {
    if (Graph* g = GraphRecorder::Current()) g->MarkNotReplayable(why);
    return fn(std::forward<A>(args)...);
  };
}
}  // namespace graphed_detail

// For functions that cannot be replayed (they read or build data on the host):
// running one while recording marks the graph as not replayable.
template <typename F>
auto NotGraphed(F f, const char* why) {
  using Function = typename graphed_detail::Signature<std::decay_t<F>>::Function;
  return graphed_detail::WrapNot(Function(f), why);
}

}  // namespace singa
