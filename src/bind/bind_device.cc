#include <omp.h>

#include "bind/bind.h"

extern "C" {
char* scipy_openblas_get_corename(void);
}

namespace singa {

void BindDevice(py::module_& m) {
  py::class_<Device, std::shared_ptr<Device>>(m, "Device")
      .def("id", &Device::id)
      .def("lang", [](const Device& d) { return static_cast<int>(d.lang()); })
      .def("name", &Device::name)
      .def("SetRandSeed", &Device::SetRandSeed, py::arg("seed"))
      .def("Sync", &Device::Sync)
      .def("EnableGraph", &Device::EnableGraph, py::arg("enable"))
      .def("graph_enabled", &Device::graph_enabled)
      // Execution is eager, so there is never a buffered graph to run or reset.
      .def("RunGraph", [](Device&, bool) {}, py::arg("serial") = false)
      .def("ResetGraph", [](Device&) {})
      .def("SetVerbosity", &Device::SetVerbosity, py::arg("verbosity"))
      .def("SetSkipIteration", [](Device&, int) {}, py::arg("skip"))
      .def("PrintTimeProfiling", [](Device& d) {
        py::print("singa: time profiling is not recorded in eager mode on", d.name());
      })
      .def("bytes_in_use", &Device::bytes_in_use)
      .def("peak_bytes", &Device::peak_bytes)
      .def("ResetPeak", &Device::ResetPeak)
      .def("cached_bytes", &Device::cached_bytes,
           "Free bytes the allocator keeps for reuse (free space in its arenas).")
      .def("EmptyCache", &Device::EmptyCache,
           "Returns every wholly free arena to the system.")
      .def("SetCacheLimit", &Device::SetCacheLimit, py::arg("bytes"),
           "Caps the free bytes kept for reuse (0: arenas go back as soon as they are wholly free).")
      .def("__repr__", [](const Device& d) {
        return Msg("<singa Device ", d.name(), " id=", d.id(), ">");
      })
      .def("__eq__", [](const Device& a, const Device& b) { return &a == &b; })
      .def("__hash__", [](const Device& d) { return reinterpret_cast<uintptr_t>(&d); });

  py::class_<Platform>(m, "Platform")
      .def_static("GetDefaultDevice", &Platform::GetDefaultDevice)
      .def_static("GetNumGPUs", &Platform::GetNumGPUs)
      .def_static("CreateCudaGPU", &Platform::CreateCudaGPU, py::arg("id") = 0)
      .def_static("CreateCudaGPUs", [](int n) {
        std::vector<std::shared_ptr<Device>> out;
        for (int i = 0; i < n; ++i) out.push_back(Platform::CreateCudaGPU(i));
        return out;
      }, py::arg("num"))
      .def_static("CreateCudaGPUsOn", [](const std::vector<int>& ids) {
        std::vector<std::shared_ptr<Device>> out;
        for (int i : ids) out.push_back(Platform::CreateCudaGPU(i));
        return out;
      }, py::arg("ids"));

  m.def("GetDefaultDevice", &Platform::GetDefaultDevice);
  m.def("openblas_corename", [] { return std::string(scipy_openblas_get_corename()); });
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw ValueError(Msg("set_num_threads: ", n, " is not a positive thread count"));
    omp_set_num_threads(n);  // OpenBLAS stays single-threaded (src/core/threads.cc)
  }, py::arg("n"));
  m.def("get_num_threads", [] { return omp_get_max_threads(); });
  m.def("fma_peak_gflops", &MeasureFmaPeak, py::arg("repeats") = 5, py::arg("iters") = 20000000,
        py::call_guard<py::gil_scoped_release>(),
        "Measured float32 FMA peak of this machine in GFLOP/s, on all threads.");
  m.def("fma_peak_lanes", &FmaPeakLanes, "float32 lanes per FMA in fma_peak_gflops.");
}

}  // namespace singa
