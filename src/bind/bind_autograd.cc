// The bookkeeping of autograd's backward walk (python/singa/autograd/engine.py), in C++.
//
// Python still defines the graph: each Operation's `src` (creator, id of the input, the
// input if its gradient is yielded, whether it is), `y_id2idx`, `requires_grad`, and its
// Python `backward`. The walk only counts dependencies, orders the ops, routes and
// accumulates gradients and hands out the (param, grad) pairs; in Python these dictionary
// and tuple operations were most of what one op cost in a backward pass. Every call into
// an op (backward, _do_backward, _release) and every rare path (zero gradients for unused
// outputs, two gradients meeting, anomaly checks, error messages) goes through the same
// Python functions as before, passed in as hooks.
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bind/def.h"

namespace singa {

namespace {

// Interned attribute names, made once and never freed: a static py::object would be
// destroyed after the interpreter, at process exit.
PyObject* Name(const char* s) { return PyUnicode_InternFromString(s); }

py::object Attr(PyObject* obj, PyObject* name) {
  PyObject* r = PyObject_GetAttr(obj, name);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

bool Truthy(PyObject* obj) {
  const int t = PyObject_IsTrue(obj);
  if (t < 0) throw py::error_already_set();
  return t != 0;
}

py::object Item(PyObject* seq, Py_ssize_t i) {
  PyObject* r = PySequence_GetItem(seq, i);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

Py_ssize_t Length(PyObject* obj) {
  const Py_ssize_t n = PyObject_Length(obj);
  if (n < 0) throw py::error_already_set();
  return n;
}

struct Names {
  PyObject* src = Name("src");
  PyObject* requires_grad = Name("requires_grad");
  PyObject* y_id2idx = Name("y_id2idx");
  PyObject* y_meta = Name("_y_meta");
  PyObject* custom_do_backward = Name("_custom_do_backward");
  PyObject* do_backward = Name("_do_backward");
  PyObject* backward = Name("backward");
  PyObject* release = Name("_release");
  PyObject* name = Name("_name");
  PyObject* id = Name("_id");
  PyObject* any = Name("any");
};

const Names& N() {
  static const Names* names = new Names();  // never freed, see Name()
  return *names;
}

// What the walk calls back into Python for (engine.py builds the tuple).
struct Hooks {
  py::object dummy_type;        // autograd.Dummy: the creator of leaves
  py::object accumulate;        // (old, dx) -> their sum, or the engine's error
  py::object fill_zeros;        // (op, dys list) -> None; zero gradients for unused outputs
  py::object backward_failed;   // (op, dys list, exception) -> raises the named error
  py::object named_errors;      // the exception types backward_failed renames
  py::object anomaly_watch;     // .any: whether anomaly detection may be on
  py::object check_backward;    // (op, dys list, dxs tuple) -> None
  py::object base_release;      // Operation._release, which the walk does itself
};

Hooks ReadHooks(const py::tuple& hooks) {
  if (hooks.size() != 8)
    throw py::value_error("BackwardWalk: hooks must be a tuple of 8, got " +
                          std::to_string(hooks.size()));
  return {hooks[0], hooks[1], hooks[2], hooks[3], hooks[4], hooks[5], hooks[6], hooks[7]};
}

// One op (or leaf) of the graph being walked.
struct Node {
  py::object op;                  // a strong reference: released ops drop their src links
  Py_ssize_t deps = 0;            // consumers not walked yet
  bool is_leaf = false;           // a Dummy
  std::vector<py::object> grads;  // per output; empty until a gradient reaches the op
  // (output index, the Tensor whose gradient is yielded), in first-seen order.
  std::vector<std::pair<Py_ssize_t, py::object>> params;
};

class BackwardWalk {
 public:
  BackwardWalk(py::object root, Py_ssize_t y_index, py::object dy, bool retain_graph,
               const py::tuple& hooks)
      : hooks_(ReadHooks(hooks)), retain_graph_(retain_graph) {
    CountDependencies(root);
    Node& r = nodes_.at(root.ptr());
    r.grads.resize(NumOutputs(root.ptr()));
    if (y_index < 0 || y_index >= static_cast<Py_ssize_t>(r.grads.size()))
      throw py::index_error("BackwardWalk: output index out of range");
    r.grads[y_index] = std::move(dy);
    ready_.push_back(root.ptr());
  }

  // The next (param, grad) pair; StopIteration once every op has been walked.
  // A pair is handed out as soon as it is final, in the middle of an op's inputs, as the
  // Python generator did: the caller (an optimizer updating in place) runs before the
  // remaining inputs are routed.
  py::tuple Next() {
    for (;;) {
      if (!pending_.empty()) {
        py::tuple out = std::move(pending_.front());
        pending_.pop_front();
        return out;
      }
      if (edge_ < n_src_) {
        RouteInput(edge_++);
        continue;
      }
      if (ready_.empty()) {
        srcs_ = py::object();
        dxs_ = py::object();
        throw py::stop_iteration();
      }
      PyObject* cur = ready_.front();
      ready_.pop_front();
      Begin(cur);
    }
  }

 private:
  Py_ssize_t NumOutputs(PyObject* op) {
    // Single-output ops have no _y_meta: look it up without building an AttributeError
    // (formatting its message cost more than the rest of routing a gradient).
    PyObject* meta = nullptr;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyObject_GetOptionalAttr(op, N().y_meta, &meta) < 0) throw py::error_already_set();
#else
    if (_PyObject_LookupAttr(op, N().y_meta, &meta) < 0) throw py::error_already_set();
#endif
    if (meta == nullptr) return 1;
    auto owned = py::reinterpret_steal<py::object>(meta);
    return meta == Py_None ? 1 : Length(meta);
  }

  Node& Add(PyObject* op) {
    auto [it, fresh] = nodes_.try_emplace(op);
    if (fresh) {
      it->second.op = py::reinterpret_borrow<py::object>(op);
      const int leaf = PyObject_IsInstance(op, hooks_.dummy_type.ptr());
      if (leaf < 0) throw py::error_already_set();
      it->second.is_leaf = leaf != 0;
    }
    return it->second;
  }

  // How many times an op downstream lists each op as a source (engine.infer_dependency).
  void CountDependencies(const py::object& root) {
    Add(root.ptr());
    std::vector<PyObject*> stack{root.ptr()};
    while (!stack.empty()) {
      PyObject* cur = stack.back();
      stack.pop_back();
      PyObject* srcs = PyObject_GetAttr(cur, N().src);
      if (srcs == nullptr) {
        // an op recorded without grad mode, or already released: a leaf of this walk
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) throw py::error_already_set();
        PyErr_Clear();
        continue;
      }
      auto owned = py::reinterpret_steal<py::object>(srcs);
      const Py_ssize_t n = Length(srcs);
      for (Py_ssize_t i = 0; i < n; ++i) {
        py::object entry = Item(srcs, i);
        py::object src_op = Item(entry.ptr(), 0);
        const bool seen = nodes_.count(src_op.ptr()) != 0;
        Node& node = Add(src_op.ptr());
        node.deps += 1;
        if (!seen) stack.push_back(src_op.ptr());
      }
    }
  }

  // Runs one op's backward; its inputs are routed by RouteInput, one per turn of Next.
  void Begin(PyObject* cur) {
    std::vector<py::object> dys = std::move(nodes_.at(cur).grads);
    nodes_.at(cur).grads.clear();
    srcs_ = Attr(cur, N().src);
    dxs_ = py::object();  // null: no gradient flows to the inputs
    const Py_ssize_t n_src = Length(srcs_.ptr());
    if (!dys.empty() && Truthy(Attr(cur, N().requires_grad).ptr())) dxs_ = RunBackward(cur, dys);
    if (dxs_ && Length(dxs_.ptr()) != n_src) {
      PyErr_Format(PyExc_RuntimeError, "%s.backward returned %zd gradients for %zd inputs",
                   Py_TYPE(cur)->tp_name, Length(dxs_.ptr()), n_src);
      throw py::error_already_set();
    }
    if (!retain_graph_) Release(cur);
    n_src_ = n_src;
    edge_ = 0;
  }

  // Routes the gradient of input i of the op Begin ran to its source.
  void RouteInput(Py_ssize_t i) {
    py::object entry = Item(srcs_.ptr(), i);
    if (Length(entry.ptr()) != 4)
      throw py::value_error("backward: an op's src entries are (creator, input id, input or "
                            "None, whether its gradient is yielded)");
    py::object src_op = Item(entry.ptr(), 0);
    Node& node = nodes_.at(src_op.ptr());
    if (dxs_) {
      py::object dx = Item(dxs_.ptr(), i);
      if (!dx.is_none()) Route(node, entry, std::move(dx));
    }
    if (--node.deps > 0) return;
    // src_op's output gradients are final now: hand out the stored ones before any
    // further op runs.
    for (auto& [idx, param] : node.params)
      pending_.push_back(py::make_tuple(std::move(param), node.grads[idx]));
    node.params.clear();
    if (node.is_leaf)
      node.grads.clear();
    else
      ready_.push_back(src_op.ptr());
  }

  // Operation._release (drop everything but _name, _id and requires_grad), done here
  // for ops that do not override it; an override is called.
  void Release(PyObject* cur) {
    py::object method = Attr(reinterpret_cast<PyObject*>(Py_TYPE(cur)), N().release);
    if (!method.is(hooks_.base_release)) {
      PyObject* r = PyObject_CallMethodNoArgs(cur, N().release);
      if (r == nullptr) throw py::error_already_set();
      Py_DECREF(r);
      return;
    }
    PyObject* d = PyObject_GenericGetDict(cur, nullptr);
    if (d == nullptr) throw py::error_already_set();
    auto dict = py::reinterpret_steal<py::dict>(d);
    py::object name = dict[N().name];  // KeyError, as in Python, if __init__ never ran
    py::object op_id = dict[N().id];
    PyObject* rg = PyDict_GetItemWithError(d, N().requires_grad);  // borrowed
    if (rg == nullptr && PyErr_Occurred()) throw py::error_already_set();
    py::object requires_grad = py::reinterpret_borrow<py::object>(rg ? rg : Py_False);
    PyDict_Clear(d);
    if (PyDict_SetItem(d, N().name, name.ptr()) < 0 || PyDict_SetItem(d, N().id, op_id.ptr()) < 0 ||
        PyDict_SetItem(d, N().requires_grad, requires_grad.ptr()) < 0)
      throw py::error_already_set();
  }

  py::object RunBackward(PyObject* cur, std::vector<py::object>& dys) {
    for (const py::object& g : dys) {
      if (g) continue;
      // an output nobody used: the Python helper builds its zero gradient
      py::list as_list(dys.size());
      for (size_t i = 0; i < dys.size(); ++i)
        as_list[i] = dys[i] ? dys[i] : py::none();
      hooks_.fill_zeros(py::reinterpret_borrow<py::object>(cur), as_list);
      for (size_t i = 0; i < dys.size(); ++i) dys[i] = as_list[i];
      break;
    }
    std::vector<PyObject*> args{cur};
    for (const py::object& g : dys) args.push_back(g.ptr());
    const size_t nargs = args.size();
    if (Truthy(Attr(cur, N().custom_do_backward).ptr())) {
      PyObject* r = PyObject_VectorcallMethod(N().do_backward, args.data(), nargs, nullptr);
      if (r == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(r);  // _do_backward made it a tuple
    }
    // Operation._do_backward, inlined.
    PyObject* r = PyObject_VectorcallMethod(N().backward, args.data(), nargs, nullptr);
    if (r == nullptr) {
      if (!PyErr_ExceptionMatches(hooks_.named_errors.ptr())) throw py::error_already_set();
      py::error_already_set failed;
      // The Python helper re-raises it: keep the frames of the op's backward on it.
      if (failed.trace()) PyException_SetTraceback(failed.value().ptr(), failed.trace().ptr());
      hooks_.backward_failed(py::reinterpret_borrow<py::object>(cur), DysList(dys),
                             failed.value());
      throw py::value_error("backward_failed returned instead of raising");  // not reached
    }
    auto dxs = py::reinterpret_steal<py::object>(r);
    if (!PyTuple_Check(r)) dxs = py::make_tuple(dxs);
    if (Truthy(Attr(hooks_.anomaly_watch.ptr(), N().any).ptr()))
      hooks_.check_backward(py::reinterpret_borrow<py::object>(cur), DysList(dys), dxs);
    return dxs;
  }

  static py::list DysList(const std::vector<py::object>& dys) {
    py::list out(dys.size());
    for (size_t i = 0; i < dys.size(); ++i) out[i] = dys[i];
    return out;
  }

  // Adds gradient dx into the slot of the output it was computed for.
  void Route(Node& node, const py::object& entry, py::object dx) {
    PyObject* src_op = node.op.ptr();
    const bool stores = Truthy(Item(entry.ptr(), 3).ptr());
    if (!Truthy(Attr(src_op, N().requires_grad).ptr()) && !(stores && node.is_leaf)) return;
    if (node.grads.empty()) node.grads.resize(NumOutputs(src_op));
    py::object idx_obj = Attr(src_op, N().y_id2idx)[Item(entry.ptr(), 1)];
    const Py_ssize_t idx = PyNumber_AsSsize_t(idx_obj.ptr(), PyExc_IndexError);
    if (idx == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (idx < 0 || idx >= static_cast<Py_ssize_t>(node.grads.size()))
      throw py::index_error("backward: output index " + std::to_string(idx) + " out of range");
    py::object& slot = node.grads[idx];
    slot = slot ? hooks_.accumulate(slot, dx) : std::move(dx);
    py::object param = Item(entry.ptr(), 2);
    if (param.is_none()) return;
    for (auto& [i, p] : node.params) {
      if (i == idx) {
        p = std::move(param);
        return;
      }
    }
    node.params.emplace_back(idx, std::move(param));
  }

  Hooks hooks_;
  bool retain_graph_;
  std::unordered_map<PyObject*, Node> nodes_;  // keyed by the op, which Node::op keeps alive
  std::deque<PyObject*> ready_;                // ops whose output gradients are final
  std::deque<py::tuple> pending_;              // (param, grad) pairs not handed out yet
  py::object srcs_, dxs_;                      // the src and input gradients of the op begun
  Py_ssize_t n_src_ = 0, edge_ = 0;            // its inputs, and the next one to route
};

}  // namespace

void BindAutograd(py::module_& m) {
  py::class_<BackwardWalk> walk(m, "BackwardWalk",
      "The iterator behind autograd.backward: walks the graph from its root op, yielding "
      "(param, grad core tensor) as each gradient becomes final (engine.py passes the hooks).");
  DefInit(walk, py::init<py::object, Py_ssize_t, py::object, bool, const py::tuple&>(),
          py::arg("root"), py::arg("y_index"), py::arg("dy"), py::arg("retain_graph"),
          py::arg("hooks"));
  DefHost(walk, "__iter__", [](py::object self) { return self; });
  DefHost(walk, "__next__", &BackwardWalk::Next);
}

}  // namespace singa
