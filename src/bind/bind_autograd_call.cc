// The bookkeeping of one Operation call (Operation.__call__ in
// python/singa/autograd/engine.py), in C++: reading the inputs' flags and creators,
// recording `src`, calling the op's Python `forward`, and wrapping its outputs in
// Tensors whose creator is the op. Operation.__call__ and Operation.save are the C
// functions below, bound as methods; subclasses, SINGA's _do_forward hook and every error
// message stay as they were, and error paths and anomaly checks call Python helpers.
#include <vector>

#include "bind/def.h"

namespace singa {

namespace {

PyObject* Intern(const char* s) { return PyUnicode_InternFromString(s); }

// Made once by SetCallHooks and never freed: they live as long as the module.
struct CallHooks {
  PyObject* tensor_type;       // singa.tensor.Tensor
  PyObject* active;            // autograd.mode._active (.grad: threads overriding)
  PyObject* defaults;          // autograd.mode._defaults (.grad: the default)
  PyObject* is_grad_enabled;   // () -> bool, this thread's grad mode
  PyObject* named_errors;      // the exception types forward_failed renames
  PyObject* forward_failed;    // (op, xs, exception) -> raises the named error
  PyObject* not_tensor;        // (op, xs) -> raises the TypeError naming the input
  PyObject* anomaly_watch;     // .any
  PyObject* check_forward;     // (op, xs, ys tuple)
  PyObject* record_forward;    // (op)
  PyObject* no_args;           // ()
};

CallHooks* g_hooks = nullptr;

struct CallNames {
  PyObject* data = Intern("data");
  PyObject* requires_grad = Intern("requires_grad");
  PyObject* stores_grad = Intern("stores_grad");
  PyObject* creator_slot = Intern("_creator");
  PyObject* creator = Intern("creator");
  PyObject* name = Intern("name");
  PyObject* src = Intern("src");
  PyObject* input_requires_grad = Intern("input_requires_grad");
  PyObject* saving = Intern("_saving");
  PyObject* forward = Intern("forward");
  PyObject* grad = Intern("grad");
  PyObject* any = Intern("any");
  PyObject* y_id2idx = Intern("y_id2idx");
  PyObject* y_meta = Intern("_y_meta");
  PyObject* shape = Intern("shape");
  PyObject* data_type = Intern("data_type");
};

const CallNames& CN() {
  static const CallNames* names = new CallNames();  // never freed, as the hooks
  return *names;
}

py::object Get(PyObject* obj, PyObject* name) {
  PyObject* r = PyObject_GetAttr(obj, name);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

void Set(PyObject* obj, PyObject* name, PyObject* value) {
  if (PyObject_SetAttr(obj, name, value) < 0) throw py::error_already_set();
}

bool Truth(PyObject* obj) {
  const int t = PyObject_IsTrue(obj);
  if (t < 0) throw py::error_already_set();
  return t != 0;
}

py::object Call(PyObject* fn, std::initializer_list<PyObject*> args) {
  // initializer_list elements are contiguous: vectorcall reads them in place
  PyObject* r = PyObject_Vectorcall(fn, const_cast<PyObject**>(args.begin()), args.size(), nullptr);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

// A Tensor around core tensor `data`, built as engine._output builds one.
py::object Output(PyObject* data, bool requires_grad, PyObject* op) {
  // Tensor.__new__(Tensor) through the type's slot: what the Python-level call reaches,
  // without building its argument tuple.
  auto* type = reinterpret_cast<PyTypeObject*>(g_hooks->tensor_type);
  auto t = py::reinterpret_steal<py::object>(type->tp_new(type, g_hooks->no_args, nullptr));
  if (!t) throw py::error_already_set();
  Set(t.ptr(), CN().data, data);
  Set(t.ptr(), CN().requires_grad, requires_grad ? Py_True : Py_False);
  Set(t.ptr(), CN().stores_grad, Py_False);
  Set(t.ptr(), CN().name, Py_None);
  Set(t.ptr(), CN().creator_slot, op);
  return t;
}

bool GradEnabled() {
  if (Truth(Get(g_hooks->active, CN().grad).ptr()))
    return Truth(Call(g_hooks->is_grad_enabled, {}).ptr());
  return Truth(Get(g_hooks->defaults, CN().grad).ptr());
}

// The inputs as the Python hooks take them: only the rare paths (errors, anomaly
// checks) build the tuple.
py::tuple AsTuple(PyObject* const* xs, Py_ssize_t n) {
  py::tuple t(n);
  for (Py_ssize_t i = 0; i < n; ++i) t[i] = py::reinterpret_borrow<py::object>(xs[i]);
  return t;
}

py::object RecordCall(PyObject* op, PyObject* const* xs, Py_ssize_t n) {
  if (g_hooks == nullptr) throw std::logic_error("RecordCall: SetCallHooks was never called");
  std::vector<py::object> datas;
  datas.reserve(n);
  const bool record = GradEnabled();
  bool requires_grad = false;
  py::list src, flags;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* x = xs[i];
    const int is_tensor = PyObject_IsInstance(x, g_hooks->tensor_type);
    if (is_tensor < 0) throw py::error_already_set();
    if (!is_tensor) {
      Call(g_hooks->not_tensor, {op, AsTuple(xs, n).ptr()});
      throw std::logic_error("RecordCall: the not_tensor hook returned");  // it raises
    }
    datas.push_back(Get(x, CN().data));
    if (!record) continue;
    py::object r = Get(x, CN().requires_grad);
    const bool r_true = Truth(r.ptr());
    // `r and x.stores_grad`, as Python evaluates it
    py::object yielded = r_true ? Get(x, CN().stores_grad) : r;
    py::object c = Get(x, CN().creator_slot);
    if (c.is_none()) c = Get(x, CN().creator);  // a leaf: its Dummy is made now
    py::object id = py::reinterpret_steal<py::object>(PyLong_FromVoidPtr(x));
    if (!id) throw py::error_already_set();
    const bool keeps = Truth(yielded.ptr());
    src.append(py::make_tuple(c, id, keeps ? py::reinterpret_borrow<py::object>(x) : py::none(),
                              yielded));
    flags.append(r);
    if (r_true) requires_grad = true;
  }
  if (record) {
    Set(op, CN().src, src.ptr());
    Set(op, CN().input_requires_grad, flags.ptr());
  }
  PyObject* rg = requires_grad ? Py_True : Py_False;
  Set(op, CN().requires_grad, rg);
  // A call that no gradient can flow through (no input requires one) keeps nothing.
  Set(op, CN().saving, rg);
  std::vector<PyObject*> args{op};
  for (const py::object& d : datas) args.push_back(d.ptr());
  PyObject* out = PyObject_VectorcallMethod(CN().forward, args.data(), args.size(), nullptr);
  if (out == nullptr) {
    if (!PyErr_ExceptionMatches(g_hooks->named_errors)) throw py::error_already_set();
    py::error_already_set failed;
    if (failed.trace()) PyException_SetTraceback(failed.value().ptr(), failed.trace().ptr());
    Call(g_hooks->forward_failed, {op, AsTuple(xs, n).ptr(), failed.value().ptr()});
    throw std::logic_error("RecordCall: the forward_failed hook returned");  // it raises
  }
  auto ys = py::reinterpret_steal<py::object>(out);
  const bool several = PyTuple_Check(out);
  if (Truth(Get(g_hooks->anomaly_watch, CN().any).ptr())) {
    py::object as_tuple = several ? ys : py::make_tuple(ys);
    Call(g_hooks->check_forward, {op, AsTuple(xs, n).ptr(), as_tuple.ptr()});
    if (requires_grad) Call(g_hooks->record_forward, {op});
  }
  if (!several) {
    py::object y = Output(out, requires_grad, op);
    if (record) {
      // A single output always receives the gradient that reaches the op: no zero
      // gradient is ever built for it, so no shape is kept.
      py::dict index;
      index[py::reinterpret_steal<py::object>(PyLong_FromVoidPtr(y.ptr()))] = py::int_(0);
      Set(op, CN().y_id2idx, index.ptr());
    }
    return py::make_tuple(y);
  }
  const Py_ssize_t m = PyTuple_GET_SIZE(out);
  py::tuple outs(m);
  for (Py_ssize_t i = 0; i < m; ++i)
    outs[i] = Output(PyTuple_GET_ITEM(out, i), requires_grad, op);
  if (record) {
    py::dict index;
    py::tuple meta(m);
    for (Py_ssize_t i = 0; i < m; ++i) {
      index[py::reinterpret_steal<py::object>(PyLong_FromVoidPtr(outs[i].ptr()))] = py::int_(i);
      PyObject* y = PyTuple_GET_ITEM(out, i);
      // Output shapes, to build zero gradients for outputs nobody used.
      meta[i] = py::make_tuple(Call(Get(y, CN().shape).ptr(), {}),
                               Call(Get(y, CN().data_type).ptr(), {}));
    }
    Set(op, CN().y_id2idx, index.ptr());
    Set(op, CN().y_meta, meta.ptr());
  }
  return std::move(outs);
}

// Runs `body` for a raw CPython entry point: its result as a new reference, or nullptr
// with the Python error set.
template <typename F>
PyObject* Raw(F&& body) {
  try {
    return body().release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// Operation.__call__(op, *xs), bound as a method descriptor (see BindAutogradCall): the
// op comes as `op`, and a call runs no Python frame and no pybind11 argument parsing.
PyObject* OperationCall(PyObject* op, PyObject* const* xs, Py_ssize_t n) {
  return Raw([&] { return RecordCall(op, xs, n); });
}

// Operation.save(op, **values): into the op's __dict__ (as dict.update does, bypassing
// descriptors), only while the call is recorded, or under grad mode when forward was
// called directly (_saving None).
PyObject* OperationSave(PyObject* op, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs != 0) {
    PyErr_Format(PyExc_TypeError, "Operation.save takes keyword arguments only (name=value), got %zd "
                 "positional", nargs);
    return nullptr;
  }
  return Raw([&] {
    py::object saving = Get(op, CN().saving);
    const bool keep = saving.is_none() ? GradEnabled() : Truth(saving.ptr());
    const Py_ssize_t k = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
    if (keep && k > 0) {
      auto dict = py::reinterpret_steal<py::object>(PyObject_GenericGetDict(op, nullptr));
      if (!dict) throw py::error_already_set();
      for (Py_ssize_t i = 0; i < k; ++i)
        if (PyDict_SetItem(dict.ptr(), PyTuple_GET_ITEM(kwnames, i), args[i]) < 0)
          throw py::error_already_set();
    }
    return py::none();
  });
}

PyMethodDef kOperationCall = {
    "__call__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&OperationCall)),
    METH_FASTCALL,
    "Runs the op on Tensors: records, while grad mode is on, src (the inputs' creators) and "
    "which inputs need a gradient, runs forward on their core tensors and returns a tuple of "
    "Tensors whose creator is the op."};

PyMethodDef kOperationSave = {
    "save", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&OperationSave)),
    METH_FASTCALL | METH_KEYWORDS,
    "save(**values): keeps values (core tensors, shapes, ...) as attributes of this op for its "
    "backward, e.g. self.save(x=x) then self.x in backward. A no-op when the call is not "
    "recorded (grad mode off, or no input requires a gradient), so inference holds no memory "
    "for backward."};

}  // namespace

void BindAutogradCall(py::module_& m) {
  DefHost(m, "SetCallHooks", [](const py::tuple& hooks) {
    if (hooks.size() != 10)
      throw py::value_error("SetCallHooks: hooks must be a tuple of 10, got " +
                            std::to_string(hooks.size()));
    auto* h = new CallHooks();  // never freed: see CallHooks
    PyObject** slots[] = {&h->tensor_type, &h->active, &h->defaults,
                          &h->is_grad_enabled, &h->named_errors, &h->forward_failed,
                          &h->not_tensor, &h->anomaly_watch, &h->check_forward,
                          &h->record_forward};
    for (size_t i = 0; i < 10; ++i) *slots[i] = py::object(hooks[i]).release().ptr();
    h->no_args = PyTuple_New(0);
    if (!PyType_Check(h->tensor_type))
      throw py::type_error("SetCallHooks: hooks[0] must be the Tensor class");
    g_hooks = h;  // a second call (a reload) leaks the first set, which may still be in use
  }, py::arg("hooks"),
     "Sets what OperationCall calls back into (autograd/engine.py does, once, at import).");
  DefHost(m, "BindOperationMethods", [](py::type cls) {
    // Method descriptors, as a C type's methods are: a call passes the op straight to the
    // C function, where a builtin in a class attribute would first be bound to it.
    for (PyMethodDef* def : {&kOperationCall, &kOperationSave}) {
      auto method = py::reinterpret_steal<py::object>(
          PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(cls.ptr()), def));
      if (!method) throw py::error_already_set();
      cls.attr(def->ml_name) = method;
    }
  }, py::arg("cls"),
     "Sets cls.__call__ and cls.save (autograd/engine.py's Operation) to the C functions that "
     "record a call and keep what its backward needs.");
}

}  // namespace singa
