#include "core/graph.h"

#include <chrono>
#include <unordered_map>

#include "core/common.h"
#include "core/config.h"
#include "core/device.h"
#include "core/tensor.h"
#include "math/kernels.h"

namespace singa {

namespace {
thread_local std::shared_ptr<Graph> recording;
thread_local bool is_paused = false;
thread_local const char* capture_hazard = nullptr;
thread_local const Graph* keeping = nullptr;  // the running graph, if it keeps addresses

struct KeepAddressesScope {
  explicit KeepAddressesScope(const Graph* g) : prev_(keeping) { keeping = g; }
  ~KeepAddressesScope() { keeping = prev_; }
  const Graph* prev_;
};
}  // namespace

void NoteCaptureHazard(const char* why) {
  if (capture_hazard == nullptr) capture_hazard = why;
}

const char* TakeCaptureHazard() {
  const char* why = capture_hazard;
  capture_hazard = nullptr;
  return why;
}

void AdoptInto(Block& recorded, Block& fresh) {
  if (&recorded == &fresh) return;
  if (keeping != nullptr && recorded.data() != nullptr && !keeping->MayMove(&recorded) &&
      recorded.size() == fresh.size() &&
      !recorded.blocked() && !fresh.blocked() && recorded.owner() == fresh.owner()) {
    const auto& dev = recorded.owner();
    const auto bytes = static_cast<size_t>(recorded.size());
    // Byte views over the whole blocks, whatever tensors live in them.
    auto view = [&](Block& b) {
      return Tensor(std::shared_ptr<Block>(std::shared_ptr<Block>{}, &b), dev, kUChar,
                    Shape{bytes}, Strides{1}, 0);
    };
    dev->kernels().elementwise.copy(view(recorded), view(fresh));
    return;
  }
  recorded.SwapData(fresh);
}

Graph::~Graph() {
  if (pieces_.empty() && pool_ == 0) return;
  // Captured work may still be running on the device; its pool goes after it.
  try {
    if (device_) device_->Sync();
  } catch (...) {
  }
  pieces_.clear();
  if (pool_ != 0 && device_) device_->ReleaseCapturePool(pool_);
}

void Graph::Add(const std::string& name, std::function<void()> run,
                const std::vector<std::shared_ptr<Block>>& blocks, size_t first_output) {
  const size_t i = nodes_.size();
  nodes_.push_back(std::move(run));
  const char* hazard = TakeCaptureHazard();
  for (const auto& b : blocks) {
    if (!b) continue;
    if (!device_) device_ = b->owner();
    // Capturing queues only the graph device's work: another device's kernels would run
    // during the capture, not at its launches.
    if (!hazard && b->owner() != device_) hazard = "uses memory of a device other than the graph's";
  }
  hazard_.push_back(hazard);
  auto [named, added] = name_index_.try_emplace(name, static_cast<uint32_t>(names_.size()));
  if (added) names_.push_back(name);
  node_name_.push_back(named->second);
  for (size_t j = 0; j < blocks.size(); ++j) {
    if (!blocks[j]) continue;
    auto [it, fresh] = uses_.try_emplace(blocks[j].get());
    Use& use = it->second;
    if (fresh) {
      use.block = blocks[j];
      use.produced = j >= first_output;
      use.first = i;
      if (use.produced) pending_.push_back(blocks[j].get());
    }
    use.hazard |= hazard != nullptr;
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
      release_after_[use.last].push_back({b, use.block, use.refs, use.first, use.hazard});
      b->ReleaseData();  // the recording step's values: dead until produced again
    }
  }
  if (Capturing())
    for (auto& [b, use] : uses_)
      if (!use.produced) read_first_.insert(b);
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
  const bool keep_pinned = keeps_addresses();
  for (const Release& r : release_after_[node]) {
    // A block someone took hold of since (say, a callback that kept a gradient) stays.
    if (r.weak.use_count() != r.refs || (keep_pinned && r.pinned)) continue;
    if (capturing_from_ != SIZE_MAX && r.first < capturing_from_)
      deferred_.push_back(r.block);
    else
      r.block->ReleaseData();
  }
}

void Graph::Run() {
  if (!replayable())
    throw ValueError(Msg("Graph.Run: the recorded step cannot be replayed: ", why_not_));
  if (!planned_) PlanReleases();
  const long iteration = iterations_++;
  if (!capture_planned_) PlanPieces();
  KeepAddressesScope keep(keeps_addresses() ? this : nullptr);
  if (device_ && device_->verbosity() > 0 && iteration >= device_->skip_iteration()) {
    RunTimed();  // node by node, captured or not: each node is timed
    return;
  }
  if (keeps_addresses()) {
    RunPieces();
    return;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i]();
    ReleaseAfter(i);
  }
}

bool Graph::MayMove(Block* b) const {
  // While a node is captured its result's address is still free to choose, unless a node
  // before it in the step read the block (and captured its current address).
  return capturing_from_ != SIZE_MAX && read_first_.count(b) == 0;
}

bool Graph::CaptureByDefault() { return ConfigString("SINGA_CUDA_GRAPHS") != "0"; }

bool Graph::Capturing() const { return capture_ && device_ && device_->can_capture(); }

void Graph::PlanPieces() {
  capture_planned_ = true;
  if (!Capturing() || nodes_.empty()) return;
  for (size_t i = 0; i < nodes_.size();) {
    if (hazard_[i] != nullptr) {
      pieces_.push_back({i, i + 1, true, nullptr});
      ++i;
      continue;
    }
    size_t end = i;
    while (end < nodes_.size() && hazard_[end] == nullptr) ++end;
    pieces_.push_back({i, end, false, nullptr});
    i = end;
  }
}

void Graph::RunPieces() {
  for (size_t k = 0; k < pieces_.size(); ++k) {
    Piece& p = pieces_[k];
    if (p.work) {
      p.work->Launch();
      continue;
    }
    if (!p.direct && CaptureAndLaunch(p)) continue;
    // A hazard node, or a piece whose capture failed (which dropped every piece: the
    // rest of this replay, and every later one, runs node by node).
    const bool failed = !keeps_addresses();
    for (size_t i = p.begin; i < (failed ? nodes_.size() : p.end); ++i) {
      nodes_[i]();
      TakeCaptureHazard();  // read again on every replay; only the recording's counts
      ReleaseAfter(i);
    }
    if (failed) return;
  }
}

bool Graph::CaptureAndLaunch(Piece& p) {
  TakeCaptureHazard();  // noted by whatever ran before the replay
  try {
    device_->BeginCapture(&pool_);
  } catch (const std::exception& e) {
    DropCapture(Msg("starting a capture failed: ", e.what()));
    return false;
  }
  capturing_from_ = p.begin;
  std::string why;
  size_t i = p.begin;
  try {
    for (; i < p.end; ++i) {
      nodes_[i]();
      if (const char* hazard = TakeCaptureHazard()) {
        why = Msg("node ", i, " (", names_[node_name_[i]], ") ", hazard,
                  " on a replay but not when it was recorded");
        break;
      }
      ReleaseAfter(i);
    }
  } catch (const std::exception& e) {
    why = Msg("node ", i, " (", names_[node_name_[i]], "): ", e.what());
  }
  capturing_from_ = SIZE_MAX;
  std::string failed;
  std::unique_ptr<CapturedWork> work = device_->EndCapture(&failed);
  if (why.empty() && !work) why = failed;
  if (!why.empty()) {
    deferred_.clear();  // the piece runs directly now, on those blocks
    DropCapture(Msg("capturing nodes ", p.begin, "-", p.end - 1, " failed: ", why));
    return false;
  }
  for (Block* b : deferred_) b->ReleaseData();
  deferred_.clear();
  p.work = std::move(work);
  p.work->Launch();
  return true;
}

void Graph::DropCapture(const std::string& why) {
  capture_failed_ = why;
  for (Piece& p : pieces_) p.work.reset();
}

size_t Graph::captured_pieces() const {
  size_t n = 0;
  for (const Piece& p : pieces_) n += p.work != nullptr;
  return n;
}

size_t Graph::direct_nodes() const {
  if (!keeps_addresses()) return nodes_.size();
  size_t n = 0;
  for (const Piece& p : pieces_)
    if (!p.work) n += p.end - p.begin;
  return n;
}

std::vector<std::string> Graph::capture_hazards() const {
  std::vector<std::string> out;
  out.reserve(hazard_.size());
  for (const char* h : hazard_) out.emplace_back(h ? h : "");
  return out;
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
