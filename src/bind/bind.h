// Shared declarations of the pybind11 module `singa.singa_wrap`.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/tensor.h"
#include "math/ops.h"

namespace py = pybind11;

namespace singa {

// Kernels run without the GIL so Python threads (data loaders) keep going.
using NoGIL = py::call_guard<py::gil_scoped_release>;

void BindDevice(py::module_& m);
void BindTensor(py::module_& m);
void BindOps(py::module_& m);
void BindNN(py::module_& m);
void BindFused(py::module_& m);
void BindGraph(py::module_& m);
void BindKinds(py::module_& m);

// A Tensor sharing memory with a C-contiguous NumPy array (or a copy otherwise).
Tensor FromNumpy(py::array arr, std::shared_ptr<Device> dev);
// A NumPy view of the tensor's memory (a copy when the host cannot read that memory).
py::array ToNumpy(const Tensor& t);
DataType NumpyToDataType(const py::dtype& dt);

// Deletes a Python object that C++ state (a borrowed Block, a recorded graph node) holds,
// taking the GIL. Once the interpreter is finalized the object is left alone instead:
// such state can outlive Python (a thread_local or static destroyed at process exit), and
// touching a finalized interpreter crashes the process after the script has ended.
void ReleasePyObject(py::object* obj);

}  // namespace singa
