"""The bindings of singa_wrap: every public callable declares what graph recording does
with it (src/bind/def.h), the declared kinds behave as declared, and the type stub
python/singa/singa_wrap.pyi names exactly what the module binds.

Which callables must be classified (the rule the walk below applies):
  * every function of the module, dunders included (SINGA's module-level ``__add__`` ...
    are bindings like any other);
  * every callable in the ``__dict__`` of each class the module defines: methods, static
    methods, and the ``__init__``/``__repr__``/``__eq__``/``__hash__``/``__len__`` and
    operators that singa binds; none of them is exempt, whether or not it does device work;
Not classified, because they are not bindings:
  * properties (the read-only fields of the handles: data, no call);
  * pybind11's own interop hook ``_pybind11_conduit_v1_`` (and any ``_pybind11_*``);
  * pybind11's stand-in ``__init__`` of classes singa gives no constructor (Device,
    Platform, Graph): a C slot wrapper that only raises "No constructor defined!";
  * exception classes (``DeviceError``) and objects the module re-exports from elsewhere
    (``VecTensor`` is ``builtins.list``).
"""
import ast
import inspect
import os
import types

import numpy as np
import pytest

from singa import singa_wrap as sw

KINDS = sw.binding_kinds()
STUB = os.path.join(os.path.dirname(sw.__file__), "singa_wrap.pyi")
MODULE = sw.__name__


def _bound_classes():
    return {name: obj for name, obj in vars(sw).items()
            if inspect.isclass(obj) and obj.__module__ == MODULE
            and not issubclass(obj, BaseException)}


def _class_callables(cls):
    out = []
    for name, attr in vars(cls).items():
        if (name.startswith("_pybind11") or isinstance(attr, property)
                or isinstance(attr, types.WrapperDescriptorType)):
            continue
        if isinstance(attr, (staticmethod, classmethod)) or callable(attr):
            out.append(name)
    return out


def _public_callables():
    """Qualified names of every binding the rule above covers."""
    names = []
    for name, obj in vars(sw).items():
        if inspect.isclass(obj):
            if obj.__module__ == MODULE and not issubclass(obj, BaseException):
                names += ["{}.{}".format(name, m) for m in _class_callables(obj)]
        elif callable(obj) and getattr(obj, "__module__", None) == MODULE:
            names.append(name)
    return names


def test_every_public_callable_is_classified():
    names = _public_callables()
    assert len(names) > 250
    missing = sorted(n for n in names if n not in KINDS)
    assert not missing, "bindings without a declared kind (use DefRecorded/DefHost/" \
                        "DefNotReplayable in src/bind): {}".format(missing)


def test_every_registered_binding_exists():
    names = set(_public_callables())
    stale = sorted(n for n in KINDS if n not in names)
    assert not stale, stale


def test_kinds_are_the_three_kinds():
    assert set(KINDS.values()) == {"recorded", "host", "not_replayable"}


@pytest.mark.parametrize("name,kind", [
    ("Add", "recorded"), ("__add__", "recorded"), ("AddFloat", "recorded"), ("Mish", "recorded"),
    ("ReduceSum", "recorded"), ("Mult", "recorded"), ("CpuConvForward", "recorded"),
    ("DropoutForward", "recorded"), ("Uniform", "recorded"),
    ("Tensor.Clone", "recorded"), ("Tensor.Reshape", "recorded"), ("Tensor.__iadd__", "recorded"),
    ("Tensor.__add__", "recorded"),
    ("from_numpy", "not_replayable"), ("Tensor.CopyDataFromHostPtr", "not_replayable"),
    ("Tensor.ToType", "not_replayable"), ("Tensor.ToDevice", "not_replayable"),
    ("SGDUpdate", "not_replayable"), ("AdamUpdate", "not_replayable"),
    ("Tensor.shape", "host"), ("Tensor.__init__", "host"), ("Tensor.T", "host"),
    ("to_numpy", "host"), ("SumAll", "host"), ("Tensor.L2", "host"),
    ("GraphBegin", "host"), ("GraphCallback", "host"), ("Graph.Run", "host"),
    ("Device.SetRandSeed", "host"), ("Platform.CreateTestDevice", "host"),
    ("set_conv_backend", "host"), ("binding_kinds", "host"), ("config_knobs", "host"),
])
def test_declared_kind(name, kind):
    assert KINDS[name] == kind


# ---- the kinds behave as declared while a graph records ----

def _record(fn):
    sw.GraphBegin()
    try:
        fn()
    finally:
        graph = sw.GraphEnd()
    return graph


def T(a):
    return sw.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def test_recorded_bindings_add_nodes():
    a, b = T(np.ones((2, 3))), T(np.full((2, 3), 2.0))
    g = _record(lambda: (sw.Add(a, b), sw.Exp(a), a + 1.0, sw.ReduceSum(a, None, False)))
    assert g.size() == 4 and g.replayable()


def test_host_bindings_add_nothing_and_keep_the_graph_replayable():
    a = T(np.ones((2, 3)))
    g = _record(lambda: (a.shape(), a.T(), sw.to_numpy(a), a.L1(), sw.SumAll(a),
                         sw.GetDefaultDevice().id(), sw.get_num_threads()))
    assert g.size() == 0 and g.replayable()


@pytest.mark.parametrize("call,reason", [
    (lambda a: sw.from_numpy(np.zeros(3, np.float32)), "NumPy"),
    (lambda a: a.CopyDataFromHostPtr(np.zeros(6, np.float32)), "host"),
    (lambda a: a.ToType(sw.kDouble), "ToType"),
    (lambda a: a.ToDevice(sw.Platform.CreateTestDevice()), "ToDevice"),
    (lambda a: sw.SGDUpdate(a, a, None, 0.1), "optimizer update"),
])
def test_not_replayable_bindings_mark_the_graph(call, reason):
    a = T(np.ones((2, 3)))
    g = _record(lambda: call(a))
    assert not g.replayable() and reason in g.why_not()
    with pytest.raises(ValueError, match="cannot be replayed"):
        g.Run()


def test_not_replayable_calls_are_fine_while_paused():
    a, g_ = T(np.ones(3)), T(np.ones(3))

    def step():
        sw.GraphPause(True)
        sw.SGDUpdate(a, g_, None, 0.5)
        sw.GraphPause(False)

    assert _record(step).replayable()


def test_member_reshape_of_a_strided_tensor_replays():
    base = T(np.arange(6).reshape(2, 3))
    t = base.T()                     # strided: Reshape must copy
    g = _record(lambda: t.Reshape([6]))
    assert g.size() == 1
    base.CopyData(T(np.arange(6).reshape(2, 3) * 10))
    g.Run()
    np.testing.assert_array_equal(sw.to_numpy(t), (np.arange(6).reshape(2, 3) * 10).T.reshape(6))


def test_axes_and_alpha_arguments():
    a = T(np.arange(6).reshape(2, 3))
    assert sw.to_numpy(sw.ReduceSum(a, None, False)).tolist() == 15
    assert sw.to_numpy(sw.ReduceSum(a, 1, False)).tolist() == [3, 12]
    assert sw.to_numpy(sw.ReduceSum(a, (0, 1), True)).tolist() == [[15]]
    y = T(np.zeros((2, 3)))
    sw.Axpy(T([2.0]), a, y)
    sw.Axpy(1, a, y)
    np.testing.assert_array_equal(sw.to_numpy(y), 3 * np.arange(6).reshape(2, 3))
    with pytest.raises(ValueError, match="Axpy: alpha"):
        sw.Axpy(T([1.0, 2.0]), a, y)
    with pytest.raises(TypeError):
        sw.ReduceSum(a, "x", False)


# ---- the stub ----

def _stub_tree():
    with open(STUB) as f:
        return ast.parse(f.read())


def _stub_top_level(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom) and node.module == "builtins":
            names.update(a.asname or a.name for a in node.names)
    return names - {"__all__"}


def _module_public_names():
    return {n for n, obj in vars(sw).items()
            if not (n.startswith("__") and n.endswith("__")) or callable(obj)}


# Bound only in a CUDA build (-DSINGA_USE_CUDA=ON); the stub describes the CPU build that
# pip installs by default.
CUDA_ONLY_NAMES = {"CudaLibraries", "CudaLibraryDirs", "SetCudaLibraryDirs", "NcclCommunicator"}


def test_stub_names_match_the_module():
    stub = _stub_top_level(_stub_tree())
    module = _module_public_names()
    if sw.USE_CUDA:
        module -= CUDA_ONLY_NAMES
    assert sorted(module - stub) == [], "bound but missing from singa_wrap.pyi (regenerate it)"
    assert sorted(stub - module) == [], "in singa_wrap.pyi but not bound"


@pytest.mark.parametrize("cls", ["Tensor", "Device", "Platform", "Graph"])
def test_stub_class_methods_match(cls):
    node = next(n for n in _stub_tree().body if isinstance(n, ast.ClassDef) and n.name == cls)
    # properties are not bindings (see the module doc): Tensor.__cuda_array_interface__
    stub = {f.name for f in node.body if isinstance(f, ast.FunctionDef)
            and not any(isinstance(d, ast.Name) and d.id == "property" for d in f.decorator_list)}
    bound = set(_class_callables(getattr(sw, cls)))
    assert sorted(bound - stub) == [] and sorted(stub - bound) == []


def test_stub_says_how_to_regenerate():
    with open(STUB) as f:
        head = f.read(2000)
    assert "pybind11-stubgen singa.singa_wrap" in head and "# ---- end of header" in head


# ---- environment knobs ----

def test_config_knobs_table():
    knobs = sw.config_knobs()
    names = [k[0] for k in knobs]
    assert names == ["SINGA_GEMM_BACKEND", "SINGA_CONV_BACKEND", "SINGA_DNNL_LAYOUT",
                     "SINGA_CPU_ISA", "SINGA_CPU_CACHE_MB", "SINGA_CUDA_GRAPHS"]
    for name, default, meaning in knobs:
        assert isinstance(default, str) and default and len(meaning) > 20
    defaults = dict((k[0], k[1]) for k in knobs)
    assert defaults["SINGA_GEMM_BACKEND"] == ("dnnl" if sw.USE_DNNL else "openblas")
    assert defaults["SINGA_CPU_CACHE_MB"] == "2048"
    assert defaults["SINGA_CPU_ISA"] == "auto"
    assert defaults["SINGA_CUDA_GRAPHS"] == "1"
