// Devices, the platform registry and process-wide settings.
#include <omp.h>

#include "bind/def.h"
#include "core/config.h"
#include "cpu/cpu_kernels.h"
#include "cpu/isa.h"
#include "tools/fma_peak.h"
#ifdef USE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/dynload.h"
#endif

extern "C" {
char* scipy_openblas_get_corename(void);
}

namespace singa {

void BindDevice(py::module_& m) {
  py::class_<Device, std::shared_ptr<Device>> dev(m, "Device");
  DefHost(dev, "id", &Device::id);
  DefHost(dev, "lang", [](const Device& d) { return static_cast<int>(d.lang()); });
  DefHost(dev, "name", &Device::name);
  DefHost(dev, "host_memory", &Device::host_memory,
          "Whether the host reads and writes this device's memory directly.");
  DefHost(dev, "SetRandSeed", &Device::SetRandSeed, py::arg("seed"));
  DefHost(dev, "Sync", &Device::Sync);
  DefHost(dev, "EnableGraph", &Device::EnableGraph, py::arg("enable"));
  DefHost(dev, "graph_enabled", &Device::graph_enabled);
  // SINGA buffers a device's operations when EnableGraph(True) and runs them in
  // RunGraph. Here every kernel runs when it is called: graph mode is Model.compile(
  // use_graph=True), which records and replays a training step through GraphBegin/
  // GraphEnd (bind_graph.cc). A device never holds a buffer, so these two have nothing
  // to run or drop; they stay callable for SINGA scripts.
  DefHost(dev, "RunGraph", [](Device&, bool) {}, py::arg("serial") = false);
  DefHost(dev, "ResetGraph", [](Device&) {});
  // Time profiling times the kernels of replayed graphs (core/graph.h), the work SINGA
  // buffers; eager kernels are never timed, so verbosity 0 costs nothing.
  DefHost(dev, "SetVerbosity", &Device::SetVerbosity, py::arg("verbosity"),
          "0: no timing; 1 or 2: time each kernel of this device's replayed graphs, reported "
          "by PrintTimeProfiling per kernel type (1) or per graph node (2).");
  DefHost(dev, "verbosity", &Device::verbosity);
  DefHost(dev, "SetSkipIteration", &Device::SetSkipIteration, py::arg("skip"),
          "The first `skip` iterations of each graph (its recording included) are not timed "
          "(default 5).");
  DefHost(dev, "skip_iteration", &Device::skip_iteration);
  DefHost(dev, "TimeProfile", &Device::TimeProfile,
          "The table PrintTimeProfiling prints: mean times per iteration of the timed graphs; "
          "'' at verbosity 0.");
  DefHost(dev, "PrintTimeProfiling", [](Device& d) {
    const std::string text = d.TimeProfile();
    if (!text.empty()) py::print(text, py::arg("end") = "", py::arg("flush") = true);
  }, "Prints TimeProfile() (nothing at verbosity 0, as SINGA).");
  DefHost(dev, "bytes_in_use", &Device::bytes_in_use);
  DefHost(dev, "peak_bytes", &Device::peak_bytes);
  DefHost(dev, "ResetPeak", &Device::ResetPeak);
  DefHost(dev, "reserved_bytes", &Device::reserved_bytes,
          "Bytes held from the system allocator: in use plus cached.");
  // PyTorch's names for the same statistics.
  DefHost(dev, "memory_allocated", &Device::bytes_in_use, "Bytes in use by tensors (bytes_in_use).");
  DefHost(dev, "max_memory_allocated", &Device::peak_bytes,
          "The most bytes in use since the device was made or ResetPeak (peak_bytes).");
  DefHost(dev, "memory_reserved", &Device::reserved_bytes,
          "Bytes held from the system allocator, in use or cached (reserved_bytes).");
  DefHost(dev, "cached_bytes", &Device::cached_bytes,
          "Free bytes the allocator keeps for reuse (free space in its arenas).");
  DefHost(dev, "EmptyCache", &Device::EmptyCache, "Returns every wholly free arena to the system.");
  DefHost(dev, "SetCacheLimit", &Device::SetCacheLimit, py::arg("bytes"),
          "Caps the free bytes kept for reuse (0: arenas go back as soon as they are wholly free).");
  DefHost(dev, "StartAllocTrace", &Device::StartAllocTrace,
          "Starts recording every block this device allocates and releases (clears the last "
          "trace; blocks allocated before are not traced).");
  DefHost(dev, "MarkAllocTrace", &Device::MarkAllocTrace,
          "Appends a mark ('s', n, 0) to the allocation trace (a training step's end).");
  DefHost(dev, "StopAllocTrace", [](Device& d) {
    py::list out;
    for (const Device::AllocEvent& e : d.StopAllocTrace())
      out.append(py::make_tuple(std::string(1, e.kind), e.id, e.size));
    return out;
  }, "Stops the allocation trace and returns it: (kind, id, bytes) in order, kind 'a' "
     "(allocation number id), 'f' (its release) or 's' (mark number id, bytes 0).");
  DefHost(dev, "kernel_calls", [](const Device& d) {
    py::dict out;
    for (const auto& [family, calls] : d.kernel_calls()) out[py::str(family)] = calls;
    return out;
  }, "{kernel family: calls} on devices that count them (test devices); {} otherwise.");
  DefHost(dev, "reset_kernel_calls", &Device::ResetKernelCalls, "Sets every kernel call count to 0.");
  DefHost(dev, "__repr__", [](const Device& d) {
    return Msg("<singa Device ", d.name(), " id=", d.id(), ">");
  });
  // Anything but a Device compares unequal (`dev == None` is False, not a TypeError).
  DefHost(dev, "__eq__", [](const Device& a, const py::object& b) -> py::object {
    if (!py::isinstance<Device>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::bool_(&a == &b.cast<const Device&>());
  });
  DefHost(dev, "__hash__", [](const Device& d) { return reinterpret_cast<uintptr_t>(&d); });

  py::class_<Platform> platform(m, "Platform");
  DefHostStatic(platform, "GetDefaultDevice", &Platform::GetDefaultDevice);
  DefHostStatic(platform, "GetNumGPUs", &Platform::GetNumGPUs);
  DefHostStatic(platform, "GpuUnavailableReason", &Platform::GpuUnavailableReason,
                "'' when a CUDA GPU is usable, else why none is (the build, the driver, "
                "CUDA_VISIBLE_DEVICES, zero devices).");
  DefHostStatic(platform, "GetGPUMemSize", &Platform::GetGPUMemSize, py::arg("id"),
                "(free, total) bytes of memory of GPU `id`.");
  DefHostStatic(platform, "DeviceQuery", &Platform::DeviceQuery, py::arg("id"),
                py::arg("verbose") = false, "The properties of GPU `id`, as text.");
  DefHostStatic(platform, "CreateCudaGPU", &Platform::CreateCudaGPU, py::arg("id") = 0);
  DefHostStatic(platform, "CreateCudaGPUs", [](int n) {
    std::vector<std::shared_ptr<Device>> out;
    for (int i = 0; i < n; ++i) out.push_back(Platform::CreateCudaGPU(i));
    return out;
  }, py::arg("num"));
  DefHostStatic(platform, "CreateCudaGPUsOn", [](const std::vector<int>& ids) {
    std::vector<std::shared_ptr<Device>> out;
    for (int i : ids) out.push_back(Platform::CreateCudaGPU(i));
    return out;
  }, py::arg("ids"));
  DefHostStatic(platform, "CreateTestDevice", &Platform::CreateTestDevice,
                py::arg("host_memory") = true,
                "A new test device (ids -2, -3, ...): host memory of its own, the CPU kernels "
                "counted per family (Device.kernel_calls). host_memory=False makes the core "
                "treat its memory as a GPU's (NumPy data is copied, not shared).");

  DefHost(m, "GetDefaultDevice", &Platform::GetDefaultDevice);
#ifdef USE_CUDA
  DefHost(m, "SetCudaLibraryDirs", &cuda::SetCudaLibraryDirs, py::arg("dirs"),
          "Folders searched first for cuBLAS, cuDNN and NCCL (the nvidia-* wheels' lib/ "
          "folders; singa.device sets them at import).");
  DefHost(m, "CudaLibraryDirs", &cuda::CudaLibraryDirs);
  DefHost(m, "CudaLibraries", [] {
    py::dict out;
    for (const auto& [what, where] : cuda::CudaLibraryReport()) out[py::str(what)] = where;
    return out;
  }, "{library: the file loaded, or 'not loaded: <why>'} for cuBLAS, cuDNN and NCCL, loading "
     "each now (what a GPU device would find).");
#endif
  DefHost(m, "openblas_corename", [] { return std::string(scipy_openblas_get_corename()); });
  DefHost(m, "build_info", [] {
    py::dict kernels;
    for (const auto& [family, isa] : cpu::VersionedFamilyIsas()) kernels[py::str(family)] = CpuIsaName(isa);
    kernels["half_convert"] = CpuIsaName(KernelCpuIsa());
    kernels["fma_peak"] = CpuIsaName(KernelCpuIsa());
    py::dict info;
    info["build"] = PortableBuild() ? "portable" : "native";
    info["cpu_isa"] = CpuIsaName(DetectedCpuIsa());
    info["cpu_isa_request"] = ConfigString("SINGA_CPU_ISA");
    info["cpu_isa_note"] = CpuIsaNote();
    info["kernels"] = kernels;
    info["openblas_corename"] = std::string(scipy_openblas_get_corename());
#ifdef USE_CUDA
    py::dict cuda;
    cuda["architectures"] = std::string(SINGA_CUDA_ARCHITECTURES);
    cuda["runtime"] = Msg(CUDART_VERSION / 1000, ".", CUDART_VERSION % 1000 / 10);
    info["cuda"] = cuda;
#endif
    return info;
  }, "How singa's own CPU kernels were built and what they run on: 'build' is 'native' "
     "(compiled for the building machine, -march=native) or 'portable' (a copy per ISA level, "
     "one picked at run time); in a CUDA build, 'cuda' holds the GPU architectures compiled "
     "in (CMake's CUDA_ARCHITECTURES) and the CUDA runtime version; 'cpu_isa' the best level this CPU supports; 'kernels' the level "
     "each kernel family runs at ('baseline', 'avx2', 'avx512'; a native build's: the level its "
     "flags include); 'cpu_isa_request' and 'cpu_isa_note' the SINGA_CPU_ISA setting and why it "
     "was not followed, if it was not; 'openblas_corename' the kernel OpenBLAS dispatched to.");
  DefHost(m, "set_num_threads", [](int n) {
    if (n < 1) throw ValueError(Msg("set_num_threads: ", n, " is not a positive thread count"));
    omp_set_num_threads(n);  // OpenBLAS stays single-threaded (src/cpu/threads.cc)
  }, py::arg("n"));
  DefHost(m, "get_num_threads", [] { return omp_get_max_threads(); });
  DefHost(m, "fma_peak_gflops", &MeasureFmaPeak, py::arg("repeats") = 5, py::arg("iters") = 20000000,
          py::call_guard<py::gil_scoped_release>(),
          "Measured float32 FMA peak of this machine in GFLOP/s, on all threads.");
  DefHost(m, "fma_peak_lanes", &FmaPeakLanes, "float32 lanes per FMA in fma_peak_gflops.");
}

}  // namespace singa
