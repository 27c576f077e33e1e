#include "core/graph.h"

#include "core/common.h"

namespace singa {

namespace {
thread_local std::shared_ptr<Graph> recording;
thread_local bool is_paused = false;
}  // namespace

void Graph::Run() {
  if (!replayable())
    throw ValueError(Msg("Graph.Run: the recorded step cannot be replayed: ", why_not_));
  for (auto& node : nodes_) node();
}

void GraphRecorder::Begin(std::shared_ptr<Graph> g) {
  if (recording) throw ValueError("GraphRecorder: a graph is already being recorded on this thread");
  recording = std::move(g);
  is_paused = false;
}

std::shared_ptr<Graph> GraphRecorder::End() {
  auto g = std::move(recording);
  recording.reset();
  is_paused = false;
  return g;
}

void GraphRecorder::Pause(bool paused) { is_paused = paused; }

bool GraphRecorder::paused() { return is_paused; }

Graph* GraphRecorder::Current() { return is_paused ? nullptr : recording.get(); }

}  // namespace singa
