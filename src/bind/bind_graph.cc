// Graph mode bindings: record a training step's kernels once, replay them in C++.
#include "bind/bind.h"
#include "core/graph.h"

namespace singa {

void BindGraph(py::module_& m) {
  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def("Run", &Graph::Run, NoGIL(), "Replays every recorded kernel, in order.")
      .def("size", &Graph::size, "Number of recorded kernel calls.")
      .def("replayable", &Graph::replayable)
      .def("why_not", &Graph::why_not)
      .def("__len__", &Graph::size);
  m.def("GraphBegin", [] { GraphRecorder::Begin(std::make_shared<Graph>()); },
        "Starts recording kernels on this thread into a new Graph.");
  m.def("GraphEnd", &GraphRecorder::End, "Stops recording and returns the Graph.");
  m.def("GraphPause", &GraphRecorder::Pause, py::arg("paused"),
        "Pauses (True) or resumes (False) recording on this thread.");
  m.def("GraphRecording", [] { return GraphRecorder::Current() != nullptr; });
}

}  // namespace singa
