#include "core/graph.h"

#include <chrono>
#include <unordered_map>

#include "core/common.h"
#include "core/device.h"

namespace singa {

namespace {
thread_local std::shared_ptr<Graph> recording;
thread_local bool is_paused = false;
}  // namespace

void Graph::Add(const std::string& name, std::function<void()> run,
                const std::vector<std::shared_ptr<Block>>& blocks, size_t first_output) {
  const size_t i = nodes_.size();
  nodes_.push_back(std::move(run));
  auto [named, added] = name_index_.try_emplace(name, static_cast<uint32_t>(names_.size()));
  if (added) names_.push_back(name);
  node_name_.push_back(named->second);
  for (size_t j = 0; j < blocks.size(); ++j) {
    if (!blocks[j]) continue;
    if (!device_) device_ = blocks[j]->owner();
    auto [it, fresh] = uses_.try_emplace(blocks[j].get());
    Use& use = it->second;
    if (fresh) {
      use.block = blocks[j];
      use.produced = j >= first_output;
      if (use.produced) pending_.push_back(blocks[j].get());
    }
    use.last = i;
    ++use.refs;
  }
  // Scanning every few nodes keeps the cost of recording low (a step has thousands).
  if (++adds_since_scan_ >= 8) {
    adds_since_scan_ = 0;
    ReleaseDead();
  }
}

bool Graph::Internal(Block* b, const Use& use) const {
  // Any owner besides the captured tensors (a Python tensor, optimizer state, a
  // parameter) means the values are needed between replays: keep them.
  return use.produced && use.block.use_count() == use.refs && !b->borrowed();
}

void Graph::ReleaseDead() {
  // Only intermediates not yet freed are looked at: the scan costs what is alive.
  for (size_t k = 0; k < pending_.size();) {
    Block* b = pending_[k];
    if (Internal(b, uses_.at(b))) {
      b->ReleaseData();
      pending_[k] = pending_.back();
      pending_.pop_back();
    } else {
      ++k;
    }
  }
}

void Graph::PlanReleases() {
  release_after_.assign(nodes_.size(), {});
  for (auto& [b, use] : uses_) {
    if (Internal(b, use)) {
      release_after_[use.last].push_back({b, use.block, use.refs});
      b->ReleaseData();  // the recording step's values: dead until produced again
    }
  }
  uses_.clear();
  pending_.clear();
  planned_ = true;
}

size_t Graph::released_blocks() const {
  size_t n = 0;
  for (const auto& r : release_after_) n += r.size();
  return n;
}

void Graph::ReleaseAfter(size_t node) {
  // A block someone took hold of since (say, a callback that kept a gradient) stays.
  for (const Release& r : release_after_[node])
    if (r.weak.use_count() == r.refs) r.block->ReleaseData();
}

void Graph::Run() {
  if (!replayable())
    throw ValueError(Msg("Graph.Run: the recorded step cannot be replayed: ", why_not_));
  if (!planned_) PlanReleases();
  const long iteration = iterations_++;
  if (device_ && device_->verbosity() > 0 && iteration >= device_->skip_iteration()) {
    RunTimed();
    return;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i]();
    ReleaseAfter(i);
  }
}

void Graph::RunTimed() {
  using Clock = std::chrono::steady_clock;
  std::vector<double> seconds(nodes_.size());
  // Kernels of an asynchronous device finish at its Sync: each node's time includes it.
  device_->Sync();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const auto start = Clock::now();
    nodes_[i]();
    device_->Sync();
    seconds[i] = std::chrono::duration<double>(Clock::now() - start).count();
    ReleaseAfter(i);
  }
  bool first;
  {
    std::lock_guard<std::mutex> lock(times_mu_);
    first = timed_ == 0;
    seconds_.resize(nodes_.size(), 0.0);
    for (size_t i = 0; i < seconds.size(); ++i) seconds_[i] += seconds[i];
    ++timed_;
  }
  if (first) device_->AddTimedGraph(weak_from_this());
}

std::vector<std::string> Graph::node_names() const {
  std::vector<std::string> out;
  out.reserve(node_name_.size());
  for (uint32_t k : node_name_) out.push_back(names_[k]);
  return out;
}

GraphTimes Graph::times() const {
  GraphTimes t;
  t.names = node_names();
  std::lock_guard<std::mutex> lock(times_mu_);
  t.seconds = seconds_;
  t.seconds.resize(nodes_.size(), 0.0);
  t.iterations = iterations_;
  t.timed = timed_;
  t.backward_from = backward_from_;
  return t;
}

void GraphRecorder::Begin(std::shared_ptr<Graph> g) {
  if (recording) throw ValueError("GraphRecorder: a graph is already being recorded on this thread");
  recording = std::move(g);
  is_paused = false;
}

std::shared_ptr<Graph> GraphRecorder::End() {
  auto g = std::move(recording);
  if (g) g->ReleaseDead();
  recording.reset();
  is_paused = false;
  return g;
}

void GraphRecorder::Pause(bool paused) { is_paused = paused; }

bool GraphRecorder::paused() { return is_paused; }

Graph* GraphRecorder::Current() { return is_paused ? nullptr : recording.get(); }

}  // namespace singa
