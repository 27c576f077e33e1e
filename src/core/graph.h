// Graph mode (SINGA's buffered execution): while a recorder is active on a thread,
// every binding of kind "recorded" (DefRecorded in src/bind/def.h, through Graphed() in
// src/bind/graphed.h) runs as usual and also appends a node that re-runs it on the same
// buffers. Replaying the nodes repeats the
// recorded computation in C++, without Python, on whatever values the buffers hold.
//
// Each node also names the blocks it captured. Before the first replay the graph finds
// the intermediates: blocks that a node returned fresh and that nothing outside the graph
// holds. A replay frees each one right after its last reader; its producer allocates it
// again on the next replay, so a step holds its activations and gradients only while
// they are live, as eager execution does.
//
// CUDA graphs: on a device that can capture queued work (core/capture.h), the first
// replay captures each run of nodes between capture hazards (nodes that read host state
// each step: random-stream positions, Python callbacks such as the optimizer's updates)
// into one piece of captured work, and every later replay launches those pieces, running
// only the hazard nodes one by one between them. Captured work writes the addresses it
// was captured with, so from then on a block keeps its address: a replayed node that
// returns a result for a block that holds memory copies it in rather than swapping (while
// it is captured, the block takes the result's memory instead, unless a node before it
// read the block and captured its address), and blocks that hazard nodes touch are never
// freed between replays (a gradient the optimizer's callback reads, a dropout mask).
// Intermediates used only inside captured pieces are freed during the capture, into the
// capture's pool, which later allocations of the same capture reuse. Should a capture
// fail, the graph drops every piece and replays node by node from then on
// (capture_failure() says why).
//
// Time profiling (SINGA's Device.SetVerbosity): a graph belongs to the device of the
// first block it captured. While that device's verbosity is above 0, a replay past the
// device's skip count times each node (the recording step counts as the first
// iteration, as SINGA's first buffered step does); Device::TimeProfile reports the means.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/capture.h"

namespace singa {

class Block;
class Device;

// The timings of one graph: per node its kernel's name and the seconds summed over the
// timed iterations.
struct GraphTimes {
  std::vector<std::string> names;
  std::vector<double> seconds;
  long iterations = 0;  // steps this graph ran: its recording and every replay
  long timed = 0;       // replays that were timed
  // The first node of the backward pass, or -1 when the step did not say where it is.
  long backward_from = -1;
};

class Graph : public std::enable_shared_from_this<Graph> {
 public:
  // `name`: the kernel's binding name, which time profiles report. `blocks`: the blocks
  // of the tensors the node captured, its arguments' first, then from index
  // `first_output` on those of the tensors it returned.
  // The capture hazard noted since the last TakeCaptureHazard (core/capture.h) is the
  // node's: a node that noted one runs outside captured work.
  void Add(const std::string& name, std::function<void()> run,
           const std::vector<std::shared_ptr<Block>>& blocks, size_t first_output);
  ~Graph();
  // Runs every node in recording order, freeing intermediates after their last use.
  void Run();
  size_t size() const { return nodes_.size(); }
  // The kernel name of every node, in recording order.
  std::vector<std::string> node_names() const;
  GraphTimes times() const;
  // Notes that the nodes recorded from now on belong to the backward pass (the first
  // call counts), so profiles can split forward from backward time as SINGA's do.
  void MarkBackward() {
    if (backward_from_ < 0) backward_from_ = static_cast<long>(nodes_.size());
  }
  // The device whose verbosity decides whether replays are timed (nullptr: none yet).
  Device* device() const { return device_.get(); }
  // Intermediates freed during each replay (known after the first Run).
  size_t released_blocks() const;
  // A step that did something the graph cannot repeat (e.g. built a tensor from a NumPy
  // array) is not replayable; `why` says what.
  bool replayable() const { return why_not_.empty(); }
  const std::string& why_not() const { return why_not_; }
  void MarkNotReplayable(const std::string& why) {
    if (why_not_.empty()) why_not_ = why;
  }
  // CUDA graphs (see above): on by default where the device can capture; set before the
  // first replay (later calls change nothing once a replay has captured).
  void SetCapture(bool on) { capture_ = on; }
  bool capture_enabled() const { return capture_; }
  // Whether replays launch captured work (known after the first Run).
  bool captured() const { return keeps_addresses() && captured_pieces() > 0; }
  // Pieces of captured work, and the nodes run one by one between them, per replay.
  size_t captured_pieces() const;
  size_t direct_nodes() const;
  // Why each node runs outside captured work ("" for captured nodes).
  std::vector<std::string> capture_hazards() const;
  // While replays keep addresses: whether a node's result may still move `b` to new
  // memory rather than be copied into it.
  bool MayMove(Block* b) const;
  // Why capturing failed ("" while it has not).
  const std::string& capture_failure() const { return capture_failed_; }
  // While recording: frees the values of intermediates Python has let go of, so the
  // recorded step needs no more memory than an eager one.
  void ReleaseDead();

 private:
  // How the recorded nodes use one block.
  struct Use {
    std::weak_ptr<Block> block;  // weak: the owner count tells whether others hold it
    size_t last = 0;             // the last node that captured it
    long refs = 0;               // tensors captured by the nodes that share this block
    bool produced = false;       // first seen as a node's fresh result
    size_t first = 0;            // the first node that captured it
    bool hazard = false;         // a node with a capture hazard captured it
  };
  // A run of nodes [begin, end) captured as one piece of work, or one hazard node
  // (direct) that runs on its own every replay.
  struct Piece {
    size_t begin, end;
    bool direct;
    std::unique_ptr<CapturedWork> work;
  };

  // A block only the graph holds, first produced by a node: dead between replays.
  bool Internal(Block* b, const Use& use) const;
  void PlanReleases();
  void ReleaseAfter(size_t node);
  void RunTimed();
  bool Capturing() const;
  // Replays run in pieces and keep blocks at their addresses: from the first replay on,
  // where the device captures, until a capture fails.
  bool keeps_addresses() const { return !pieces_.empty() && capture_failed_.empty(); }
  static bool CaptureByDefault();  // SINGA_CUDA_GRAPHS
  void PlanPieces();
  void RunPieces();
  // Captures piece p and launches it; false when the capture failed (nothing of the
  // piece has run then).
  bool CaptureAndLaunch(Piece& p);
  void DropCapture(const std::string& why);

  std::vector<std::function<void()>> nodes_;
  std::vector<uint32_t> node_name_;  // per node, an index into names_
  std::vector<std::string> names_;   // each kernel name once
  std::unordered_map<std::string, uint32_t> name_index_;
  std::shared_ptr<Device> device_;
  std::unordered_map<Block*, Use> uses_;
  std::vector<Block*> pending_;  // produced blocks not freed yet, while recording
  size_t adds_since_scan_ = 0;
  struct Release {
    Block* block;  // owned by the nodes' closures
    std::weak_ptr<Block> weak;
    long refs;     // its owners when only the graph holds it
    size_t first;  // its producer
    bool pinned;   // a hazard node uses it: kept (at its address) once replays capture
  };
  std::vector<std::vector<Release>> release_after_;  // per node
  bool planned_ = false;
  std::string why_not_;
  std::vector<const char*> hazard_;  // per node: its capture hazard, or nullptr
  bool capture_ = CaptureByDefault();
  bool capture_planned_ = false;
  std::string capture_failed_;
  std::vector<Piece> pieces_;
  uint64_t pool_ = 0;  // the capture pool of every piece, 0 before the first capture
  // While piece `capturing_from_` is captured, releases of blocks produced before it wait
  // here until the capture succeeds: if it fails, the piece runs directly on them.
  std::vector<Block*> deferred_;
  std::unordered_set<Block*> read_first_;  // blocks a node read before any produced them
  size_t capturing_from_ = SIZE_MAX;
  std::atomic<long> iterations_{1};  // the recording step was the first
  mutable std::mutex times_mu_;  // a report may read while another thread replays
  std::vector<double> seconds_;  // per node, summed over the timed replays
  long timed_ = 0;
  long backward_from_ = -1;
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

// Moves a replayed node's fresh result into the block that recorded consumers refer to:
// a swap of memory, or, while a graph that keeps addresses runs on this thread, a copy
// into that block's memory if it has some of the same size and plain layout.
void AdoptInto(Block& recorded, Block& fresh);

}  // namespace singa
