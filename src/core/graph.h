// Graph mode (SINGA's buffered execution): while a recorder is active on a thread,
// every kernel bound with Graphed() (src/bind/graphed.h) runs as usual and also appends
// a node that re-runs it on the same buffers. Replaying the nodes repeats the
// recorded computation in C++, without Python, on whatever values the buffers hold.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace singa {

class Graph {
 public:
  void Add(std::function<void()> node) { nodes_.push_back(std::move(node)); }
  // Runs every node in recording order.
  void Run();
  size_t size() const { return nodes_.size(); }
  // A step that did something the graph cannot repeat (e.g. built a tensor from a NumPy
  // array) is not replayable; `why` says what.
  bool replayable() const { return why_not_.empty(); }
  const std::string& why_not() const { return why_not_; }
  void MarkNotReplayable(const std::string& why) {
    if (why_not_.empty()) why_not_ = why;
  }

 private:
  std::vector<std::function<void()>> nodes_;
  std::string why_not_;
};

// The recorder of the calling thread.
class GraphRecorder {
 public:
  static void Begin(std::shared_ptr<Graph> g);
  static std::shared_ptr<Graph> End();
  // Pausing lets code run kernels that must not be repeated (optimizer state setup).
  static void Pause(bool paused);
  static bool paused();
  // The graph being recorded, or nullptr when none is (or recording is paused).
  static Graph* Current();
};

}  // namespace singa
