// The extension module: constants, error translation, and the bound parts.
#include "bind/bind.h"

#include "core/device.h"

namespace singa {
void BindAutograd(py::module_& m);      // bind_autograd.cc: the backward walk's bookkeeping
void BindAutogradCall(py::module_& m);  // bind_autograd_call.cc: an op call's bookkeeping
void BindNccl(py::module_& m);          // bind_nccl.cc: NCCL communicators (CUDA builds only)
void BindDLPack(py::module_& m);        // bind_dlpack.cc: DLPack and __cuda_array_interface__
void BindGpuAlloc(py::module_& m);      // bind_gpu_alloc.cc: the GPU caching allocator's tests
}  // namespace singa

PYBIND11_MODULE(singa_wrap, m) {
  using namespace singa;
  m.doc() = "singa core: tensors, devices and kernels (SINGA's CTensor API)";

  py::register_exception<DeviceError>(m, "DeviceError", PyExc_RuntimeError);
  // Registered last so it is tried first: our TypeError derives from runtime_error.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const singa::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });

  m.attr("USE_CUDA") = Platform::UsesCuda();
  // Data-parallel training (singa.opt.DistOpt) runs over MPI through mpi4py, on the
  // buffer protocol of core tensors, so every build has it (mpi4py is the `mpi` extra).
  m.attr("USE_DIST") = true;
  // USE_DNNL is set by BindNN (bind_nn.cc), which knows whether oneDNN was compiled in.
  m.attr("USE_PYTHON3") = true;
  m.attr("kFloat32") = static_cast<int>(kFloat32);
  m.attr("kFloat16") = static_cast<int>(kFloat16);
  m.attr("kBFloat16") = static_cast<int>(kBFloat16);
  m.attr("kInt") = static_cast<int>(kInt);
  m.attr("kChar") = static_cast<int>(kChar);
  m.attr("kUChar") = static_cast<int>(kUChar);
  m.attr("kInt64") = static_cast<int>(kInt64);
  m.attr("kBool") = static_cast<int>(kBool);
  m.attr("kDouble") = static_cast<int>(kDouble);
  m.attr("kFloat64") = static_cast<int>(kDouble);
  m.attr("kCpp") = static_cast<int>(kCpp);
  m.attr("kCuda") = static_cast<int>(kCuda);
  // SINGA's swig module exposes std::vector<Tensor> as VecTensor; a list converts to it here.
  m.attr("VecTensor") = py::module_::import("builtins").attr("list");

  BindDevice(m);
  BindTensor(m);
  BindDLPack(m);  // adds to the Tensor class
  BindOps(m);
  BindNN(m);
  BindFused(m);
  BindGraph(m);
  BindKinds(m);
  BindAutograd(m);
  BindAutogradCall(m);
#ifdef USE_CUDA
  BindNccl(m);
#endif
  BindGpuAlloc(m);
}
