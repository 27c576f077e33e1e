// Graph mode bindings: record a training step's kernels once, replay them in C++. All
// of them are host bindings: they control recording, they are not device work.
#include "bind/def.h"
#include "core/graph.h"

namespace singa {

void BindGraph(py::module_& m) {
  py::class_<Graph, std::shared_ptr<Graph>> graph(m, "Graph");
  DefHost(graph, "Run", &Graph::Run, NoGIL(), "Replays every recorded kernel, in order.");
  DefHost(graph, "size", &Graph::size, "Number of recorded kernel calls.");
  DefHost(graph, "released_blocks", &Graph::released_blocks,
          "Intermediates freed during each replay (known after the first Run).");
  DefHost(graph, "replayable", &Graph::replayable);
  DefHost(graph, "SetCapture", &Graph::SetCapture, py::arg("on"),
          "CUDA graphs: whether replays on a device that can capture launch captured work "
          "(default True). Takes effect if set before the first replay.");
  DefHost(graph, "capture_enabled", &Graph::capture_enabled);
  DefHost(graph, "captured", &Graph::captured,
          "Whether replays launch captured work (known after the first Run).");
  DefHost(graph, "captured_pieces", &Graph::captured_pieces,
          "Pieces of captured work each replay launches.");
  DefHost(graph, "direct_nodes", &Graph::direct_nodes,
          "Nodes each replay runs one by one (all of them when nothing is captured).");
  DefHost(graph, "capture_hazards", &Graph::capture_hazards,
          "Per node, why it runs outside captured work ('' where nothing keeps it out).");
  DefHost(graph, "capture_failure", &Graph::capture_failure,
          "Why capturing failed, '' while it has not.");
  DefHost(graph, "why_not", &Graph::why_not);
  DefHost(graph, "__len__", &Graph::size);
  DefHost(graph, "node_names", &Graph::node_names,
          "The kernel (binding) name of every recorded node, in replay order.");
  DefHost(graph, "iterations", [](const Graph& g) { return g.times().iterations; },
          "Steps this graph ran: its recording and every replay.");
  DefHost(graph, "timed_iterations", [](const Graph& g) { return g.times().timed; },
          "Replays that were timed (Device.SetVerbosity > 0, past Device.SetSkipIteration).");
  // A graph the main thread still records when the script ends would be destroyed with
  // the thread's storage, after Python is gone; ending it at Python's exit gives back what
  // it holds (NumPy arrays, callbacks) while the interpreter still runs.
  py::module_::import("atexit").attr("register")(
      py::cpp_function([] { GraphRecorder::End(); }));
  DefHost(m, "GraphBegin", [] { GraphRecorder::Begin(std::make_shared<Graph>()); },
          "Starts recording kernels on this thread into a new Graph.");
  DefHost(m, "GraphEnd", &GraphRecorder::End, "Stops recording and returns the Graph.");
  DefHost(m, "GraphPause", &GraphRecorder::Pause, py::arg("paused"),
          "Pauses (True) or resumes (False) recording on this thread.");
  DefHost(m, "GraphMarkBackward", [] {
    if (Graph* g = GraphRecorder::Current()) g->MarkBackward();
  }, "While a graph records: the kernels recorded from now on are the backward pass (time "
     "profiles split forward from backward there). Does nothing otherwise.");
  DefHost(m, "GraphRecording", [] { return GraphRecorder::Current() != nullptr; });
  DefHost(m, "GraphCallback", [](py::function fn, const std::vector<Tensor>& tensors,
                                  const std::string& name) {
    Graph* g = GraphRecorder::Current();
    if (g == nullptr) throw ValueError("GraphCallback: no graph is being recorded on this thread");
    // The graph may be dropped by code that does not hold the GIL.
    std::shared_ptr<py::function> call(new py::function(std::move(fn)),
                                       [](py::function* f) { ReleasePyObject(f); });
    graphed_detail::Blocks blocks;
    graphed_detail::Collect(tensors, &blocks);
    TakeCaptureHazard();
    NoteCaptureHazard("calls back into Python, which captured work cannot");
    g->Add(name, [call, tensors] {
      py::gil_scoped_acquire gil;
      py::tuple args(tensors.size());
      for (size_t i = 0; i < tensors.size(); ++i) args[i] = py::cast(tensors[i]);
      (*call)(*args);
    }, blocks, blocks.size());
  }, py::arg("fn"), py::arg("tensors"), py::arg("name") = "GraphCallback",
     "Records a node that calls fn(*tensors) with the GIL held when the graph is replayed "
     "(nothing is called now); `name` labels it in time profiles. Graph mode applies the "
     "optimizer's updates this way, so a gradient is freed as soon as its update has run.");
}

}  // namespace singa
