"""Fuzz of the extension module: every public ``singa_wrap`` function and every method of
its classes (Tensor, Device, Graph, the conv/pooling/batch-norm handles, Platform) is
called with generated arguments - tensors of each dtype that are 0-size, size-1,
broadcastable or not, transposed or sliced views, on the CPU or on a test device that is
the wrong one; numbers that are negative, huge, NaN or infinite; ``None``, strings and
other wrong types. Each call must return or raise a Python exception, and a process that
made a few hundred such calls must exit with status 0 (a crash in static destruction only
shows at interpreter exit, so that is checked in subprocesses).

The argument kinds come from the pybind11 signatures in the docstrings, so a new binding is
fuzzed without editing this file. Profiles (environment ``SINGA_FUZZ_PROFILE``):
``smoke`` (default, seconds, part of the plain test run), ``ci`` (fixed seed, the stage of
.ci/run, under 2 minutes on 2 cores) and ``worker`` (random seed, used by
tests/fuzz_long.py which runs many processes for the long local profile).
"""
import math
import os
import re
import resource
import subprocess
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singa import singa_wrap as sw

# Calls that legitimately take long or measure the machine, so random arguments would only
# make them run for minutes; they are called once with cheap arguments instead.
SLOW_CALLS = {"fma_peak_gflops", "fma_peak_lanes"}
# Classes of a CUDA build whose instances need a GPU (an NCCL communicator needs one per
# rank): only their constructors are fuzzed, which must raise without one.
GPU_ONLY_CLASSES = {"NcclCommunicator"}
# Tensors the fuzz reads back in full after a call (so a wrong shape or stride shows
# up as a read out of bounds under the sanitizers) stay under this many elements.
READBACK_LIMIT = 1 << 16
# Address-space headroom the fuzz runs under: an argument that asks for an absurd
# allocation must then raise MemoryError instead of making the machine swap or the
# kernel kill the process.
ADDRESS_SPACE_HEADROOM = 3 << 30

DTYPES = [sw.kFloat32, sw.kFloat16, sw.kBFloat16, sw.kInt, sw.kChar, sw.kFloat64, sw.kInt64,
          sw.kUChar, sw.kBool]
HUGE_INTS = [2**31, 2**45, 2**62, 2**63 - 1, -(2**63), 2**64]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 1e300, -1e300, 5e-324, -0.0]

calls_made = 0  # module-level so tests/fuzz_long.py can report the total per process


# ---- signatures -------------------------------------------------------------------------

_SIG = re.compile(r"^(?:\d+\. )?(\w+)\((.*)\) -> (.*)$")


def _split_top(text):
    """Splits a parameter list on the commas outside brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def signatures(obj, name):
    """[(param types)] of each overload of a pybind11 callable, ``self`` left out."""
    sigs = []
    for line in (getattr(obj, "__doc__", None) or "").splitlines():
        m = _SIG.match(line.strip())
        if not m or m.group(1) != name or m.group(2).startswith("*args"):
            continue
        params = []
        for part in _split_top(m.group(2)):
            pname, _, rest = part.partition(":")
            if pname.strip() == "self":
                continue
            ptype, _, default = rest.partition(" = ")
            params.append((ptype.strip(), bool(default)))
        sigs.append(params)
    return sigs or [[]]


def _is_class(obj):
    return isinstance(obj, type)


def public_names():
    return [name for name in dir(sw) if not name.startswith("_")]


def catalogue():
    """[(label, owner, name)]: owner None for module functions, else the class whose
    method (or, for name '__init__', constructor) is called."""
    entries = []
    for name in public_names():
        obj = getattr(sw, name)
        if _is_class(obj):
            if issubclass(obj, BaseException) or name == "VecTensor":
                continue
            for meth in sorted(vars(obj)):
                if meth.startswith("_") and meth not in _DUNDERS:
                    continue
                if meth == "__init__" and name in ("Graph", "Device", "Platform"):
                    continue  # not constructible from Python (no __init__ binding)
                if name in GPU_ONLY_CLASSES and meth != "__init__":
                    continue
                if callable(getattr(obj, meth)):
                    entries.append((f"{name}.{meth}", obj, meth))
        elif callable(obj):
            entries.append((name, None, name))
    return entries


_DUNDERS = {
    "__init__", "__add__", "__sub__", "__mul__", "__truediv__", "__pow__", "__neg__",
    "__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__iadd__", "__isub__",
    "__imul__", "__itruediv__", "__lt__", "__le__", "__gt__", "__ge__", "__repr__",
    "__eq__", "__hash__",
}


# ---- argument strategies -----------------------------------------------------------------

small_ints = st.integers(-3, 6)
any_int = st.one_of(small_ints, small_ints, st.sampled_from(HUGE_INTS))
any_float = st.one_of(
    st.floats(-4, 4, allow_nan=False), st.sampled_from(SPECIAL_FLOATS), small_ints
)
# A dimension list: small sizes, now and then a negative one or an absurd one (whose
# allocation can only fail).
dims = st.lists(st.one_of(st.integers(0, 4), st.integers(0, 4), st.sampled_from([-1, 2**45, 2**62])),
                max_size=4)
shapes = st.lists(st.integers(0, 4), max_size=4)


@st.composite
def devices(draw):
    pick = draw(st.integers(0, 3))
    if pick == 0:
        return sw.Platform.CreateTestDevice(draw(st.booleans()))
    return sw.Platform.GetDefaultDevice()


@st.composite
def tensors(draw, shape=None):
    """A tensor of any dtype and (small) shape, its values including NaN and inf, on the
    CPU or a test device, and now and then a transposed, sliced or broadcast view."""
    shape = draw(shapes) if shape is None else shape
    values = draw(st.lists(any_float, min_size=1, max_size=4))
    with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, as intended
        base = np.array(values, dtype=np.float32)
    base = np.resize(base, shape) if math.prod(shape) else \
        np.zeros(shape, np.float32)
    t = sw.from_numpy(np.ascontiguousarray(base), draw(devices()))
    dtype = draw(st.sampled_from(DTYPES))
    if dtype != sw.kFloat32:
        try:
            t = t.AsType(dtype)
        except Exception:
            pass
    view = draw(st.integers(0, 5))
    axis = draw(st.integers(0, max(len(shape) - 1, 0)))
    step, start = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    perm = list(draw(st.permutations(range(len(shape)))))
    lead = draw(st.integers(1, 3))
    # A view the core refuses (or one a graph records instead of making) keeps the base.
    try:
        if view == 0 and len(shape) >= 2:
            t = t.T()
        elif view == 1 and shape:
            t = t.Slice(axis, start, None, step)
        elif view == 2 and shape:
            t = t.Transpose(perm)
        elif view == 3:
            t = t.Broadcast([lead] + list(shape))
    except Exception:
        pass
    return t


@st.composite
def handles(draw, kind):
    """A conv, pooling or batch-norm handle, from arguments that are sensible half of the
    time, so the kernels behind it get past its checks; when its construction fails, a
    value of the wrong type stands in."""
    sizes = st.integers(1, 3)
    x = draw(st.one_of(st.lists(st.integers(1, 4), min_size=4, max_size=4), shapes, tensors()))
    k, s, p = (draw(st.one_of(sizes, any_int, st.lists(any_int, max_size=3))) for _ in range(3))
    flags = [draw(st.booleans()) for _ in range(2)]
    channels = [draw(st.one_of(sizes, any_int)) for _ in range(3)]
    momentum = draw(any_float)
    fallback = draw(wrong_values)
    try:
        if kind == "ConvHandle":
            return sw.ConvHandle(x, k, s, p, channels[0], channels[1], flags[0], channels[2])
        if kind == "PoolingHandle":
            return sw.PoolingHandle(x, k, s, p, flags[0], flags[1])
        return sw.BatchNormHandle(momentum, x)
    except Exception:
        return fallback


wrong_values = st.one_of(
    st.none(), st.text(max_size=3), st.sampled_from(HUGE_INTS), st.sampled_from(SPECIAL_FLOATS),
    st.just([1, "a"]), st.just(object()), st.just(np.zeros((2, 2), np.float64)),
    st.just((None,)), st.just({}),
)


def for_type(ptype):
    """The strategy for one parameter, from its type in the signature."""
    t = ptype.replace("singa.singa_wrap.", "").replace("typing.", "")
    optional = t.endswith("| None")
    t = t.removesuffix(" | None")
    if t == "Tensor":
        s = tensors()
    elif t == "collections.abc.Sequence[Tensor]":
        s = st.lists(tensors(), max_size=3)
    elif t.startswith("collections.abc.Sequence[tuple"):
        s = st.lists(st.tuples(any_int, any_int), max_size=4)
    elif t.startswith("collections.abc.Sequence[SupportsInt | SupportsIndex] | Tensor"):
        s = st.one_of(dims, tensors())
    elif t.startswith("SupportsInt | SupportsIndex | collections.abc.Sequence"):
        s = st.one_of(any_int, st.lists(any_int, max_size=3))
    elif t.startswith("collections.abc.Sequence[SupportsInt"):
        s = dims
    elif t.startswith("SupportsFloat"):
        s = any_float
    elif t.startswith("SupportsInt"):
        s = any_int
    elif t == "bool":
        s = st.booleans()
    elif t == "str":
        s = st.sampled_from(["openblas", "dnnl", "im2col", "", "x" * 3, "name"])
    elif t == "Device":
        s = devices()
    elif t.startswith("numpy"):
        s = st.builds(lambda shape, dt: np.ones(shape, dt), shapes,
                      st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.float16,
                                       np.bool_, np.int64, np.uint8, np.complex64]))
    elif t == "collections.abc.Callable":
        s = st.just(lambda *a: None)
    elif t in ("ConvHandle", "PoolingHandle", "BatchNormHandle"):
        s = handles(t)
    else:
        s = st.one_of(tensors(), any_int, any_float, st.none())
    if optional:
        s = st.one_of(s, st.none())
    # Now and then any parameter gets a value of a wrong type.
    return st.one_of(s, s, s, s, s, s, wrong_values)


# ---- calling ----------------------------------------------------------------------------

ENTRIES = catalogue()


@st.composite
def calls(draw):
    """(label, callable, args) for one entry of the catalogue with generated arguments."""
    label, owner, name = draw(st.sampled_from(ENTRIES))
    sig = draw(st.sampled_from(signatures(getattr(owner, name) if owner else getattr(sw, name),
                                          name)))
    nargs = len(sig)
    if sig and draw(st.integers(0, 9)) == 0:
        nargs = draw(st.integers(0, len(sig) + 1))  # too few or too many arguments
    elif sig and sig[-1][1]:
        nargs -= draw(st.integers(0, sum(1 for _, has_default in sig if has_default)))
    args = [draw(for_type(sig[i][0])) if i < len(sig) else draw(wrong_values)
            for i in range(nargs)]
    if owner is None:
        return label, getattr(sw, name), args
    if name == "__init__":
        return label, owner, args
    if owner is sw.Platform:
        return label, getattr(sw.Platform, name), args
    receiver = draw(_receivers(owner))
    return label, getattr(receiver, name), args


@st.composite
def _receivers(draw, cls):
    if cls is sw.Tensor:
        return draw(tensors())
    if cls is sw.Device:
        return sw.Platform.CreateTestDevice(draw(st.booleans()))
    if cls is sw.Graph:
        x = draw(tensors())
        ops = draw(st.integers(0, 3))
        # A fuzzed GraphPause(True) hides a recording from GraphRecording(), and GraphBegin
        # would then refuse to nest: resume it first, as the cleanup between examples does.
        sw.GraphPause(False)
        if sw.GraphRecording():
            return sw.GraphEnd()  # the one a call of this sequence started
        sw.GraphBegin()
        try:
            for _ in range(ops):
                x = sw.Abs(x)
        except Exception:
            pass
        return sw.GraphEnd()
    return draw(handles(cls.__name__))


def _touch(result):
    """Reads a returned tensor back, so a result with a wrong shape or stride is noticed."""
    if isinstance(result, sw.Tensor):
        result.shape(), result.stride(), repr(result)
        if 0 <= result.Size() <= READBACK_LIMIT:
            result.GetValue()
    elif isinstance(result, (list, tuple)):
        for item in result[:8]:
            _touch(item)


def call_one(label, fn, args):
    """Makes one call: it may return or raise, but SystemError means a binding returned
    with an exception set, which is a bug in the binding, not a refusal of bad input."""
    global calls_made
    calls_made += 1
    try:
        # The arguments overflow float32 on purpose; NumPy's cast warnings say only that.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _touch(fn(*args))
    except SystemError as err:
        raise AssertionError(f"{label}{tuple(map(type, args))}: SystemError {err}") from err
    except Exception:
        pass


@contextmanager
def global_state_restored(end_recording=True):
    """Some bindings switch process-wide settings; each example starts from and leaves
    the defaults, so one example cannot change what the next one sees. A worker of
    tests/fuzz_long.py keeps a graph recording a sequence started (end_recording=False):
    a process that exits while it records is one of the cases its exit must survive."""
    threads = sw.get_num_threads()
    gemm, conv = sw.get_gemm_backend(), sw.get_conv_backend()
    try:
        yield
    finally:
        if end_recording:
            _end_recording()
        sw.set_num_threads(threads)
        sw.set_gemm_backend(gemm)
        sw.set_conv_backend(conv)
        sw.SetFlushDenormals(False)
        dev = sw.Platform.GetDefaultDevice()
        dev.EnableGraph(False)
        dev.ResetGraph()


@contextmanager
def address_space_limited():
    """Caps the address space a little above what the process uses, so absurd
    allocations fail (they must raise MemoryError) instead of exhausting the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    cap = vm + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


PROFILES = {
    # name: (sequence examples, calls per sequence, derandomize, examples per entry,
    #        every how many-th entry gets examples of its own)
    "smoke": (40, 5, True, 3, 6),
    "ci": (600, 8, True, 10, 1),
    "worker": (50, 6, False, 0, 1),
}
PROFILE = os.environ.get("SINGA_FUZZ_PROFILE", "smoke")
if PROFILE not in PROFILES:
    raise ValueError(f"SINGA_FUZZ_PROFILE={PROFILE!r}: expected one of {sorted(PROFILES)}")
EXAMPLES, CALLS_PER_EXAMPLE, DERANDOMIZE, PER_ENTRY, ENTRY_STRIDE = PROFILES[PROFILE]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, derandomize=DERANDOMIZE, deadline=None, database=None,
    suppress_health_check=list(HealthCheck), print_blob=True,
)


def _end_recording():
    sw.GraphPause(False)  # a paused recording does not show in GraphRecording
    while sw.GraphRecording():
        sw.GraphEnd()


@FUZZ_SETTINGS
@given(st.data())
def test_call_sequences_return_or_raise(data):
    """Sequences of calls, since the reported exit crash needed several calls to show;
    each call's arguments are drawn after the calls before it ran, so they see its state."""
    keep_recording = PROFILE == "worker"  # see global_state_restored
    if not keep_recording:
        _end_recording()
    with global_state_restored(end_recording=not keep_recording), address_space_limited():
        for _ in range(data.draw(st.integers(1, CALLS_PER_EXAMPLE))):
            call_one(*data.draw(calls()))


@pytest.mark.parametrize("label,owner,name", ENTRIES[::ENTRY_STRIDE],
                         ids=[e[0] for e in ENTRIES[::ENTRY_STRIDE]])
def test_every_entry_is_fuzzed(label, owner, name):
    """Each binding gets generated calls of its own, not only its share of the random
    sequences (the catalogue is enumerated from the module, so new bindings join); the
    smoke profile takes every sixth entry, the CI profile all of them."""
    if name in SLOW_CALLS:
        fn = getattr(sw, name)
        for args in ([1, 1], [0, 0], [-1, -1], ["x"], [None]):
            call_one(label, fn, args)
        return
    obj = getattr(owner, name) if owner else getattr(sw, name)
    sigs = signatures(obj, name)

    @settings(max_examples=PER_ENTRY, derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        sig = data.draw(st.sampled_from(sigs))
        args = [data.draw(for_type(ptype)) for ptype, _ in sig]
        if owner is None or owner is sw.Platform:
            fn = obj
        elif name == "__init__":
            fn = owner
        else:
            fn = getattr(data.draw(_receivers(owner)), name)
        with global_state_restored(), address_space_limited():
            call_one(label, fn, args)

    run()


def test_catalogue_covers_the_module():
    """Every public function of singa_wrap is in the catalogue, and the Tensor methods too."""
    labels = {label for label, _, _ in ENTRIES}
    for name in public_names():
        obj = getattr(sw, name)
        if callable(obj) and not _is_class(obj):
            assert name in labels
    for meth in ("Reshape", "Slice", "AsType", "CopyDataFromHostPtr", "__add__", "__init__"):
        assert f"Tensor.{meth}" in labels
    assert len(labels) > 250


@pytest.mark.parametrize("shape", [[2**45], [2**40, 2**10], [2**58, 3]])
@pytest.mark.parametrize("dtype", [sw.kFloat32, sw.kChar, sw.kFloat64])
def test_absurd_allocations_raise_memory_error(shape, dtype):
    """A tensor that cannot be allocated raises MemoryError naming the bytes and the
    device, and the process carries on."""
    with address_space_limited(), pytest.raises(MemoryError, match=r"bytes on device cpu"):
        sw.Tensor(shape, None, dtype)
    assert sw.Tensor([3], None, dtype).Size() == 3


@pytest.mark.parametrize("shape,dtype,match", [
    ([2**62, 2**62], sw.kChar, "elements"),
    ([2**32, 2**32, 3], sw.kChar, "elements"),
    ([2**63 - 1], sw.kFloat32, "bytes"),
    ([2**61, 4], sw.kFloat64, "bytes"),
])
def test_shapes_past_2_to_the_64_are_refused(shape, dtype, match):
    """An element or byte count that does not fit in 64 bits is refused by name: a wrapped
    count would allocate less memory than the shape says."""
    with pytest.raises(ValueError, match=match):
        sw.Tensor(shape, None, dtype)


def test_zero_size_shapes_with_huge_dimensions_are_empty():
    assert sw.Tensor([2**62, 2**62, 0]).Size() == 0


WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_long.py")


@pytest.mark.parametrize("seed", range(4 if PROFILE == "ci" else 1))
def test_processes_exit_cleanly_after_fuzzing(seed):
    """The exit crash showed only when the interpreter tore down after hundreds of calls:
    worker processes must end with status 0 and report their calls."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, WORKER, "--worker", "--seed", str(1000 + seed)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:])
    assert re.search(r"calls=(\d+)", proc.stdout) and int(
        re.search(r"calls=(\d+)", proc.stdout).group(1)) >= 100


EXIT_SCRIPTS = {
    # a recording graph holds a block borrowing a NumPy array's memory
    "numpy_block_in_recording": "sw.GraphBegin(); sw.Abs(sw.from_numpy(np.ones((2, 3), np.float32)))",
    # a recording graph holds a Python callback
    "callback_in_recording": "sw.GraphBegin(); sw.GraphCallback(lambda *a: None, [sw.from_numpy(np.ones(3, np.float32))])",
    # the recording is paused, so it does not show in GraphRecording()
    "paused_recording": "sw.GraphBegin(); sw.Abs(sw.from_numpy(np.ones(4, np.float32))); "
                        "sw.GraphPause(True)",
    # a recording started on a thread that has ended
    "thread_recording": "import threading; th = threading.Thread(target=lambda: (sw.GraphBegin(), "
                        "sw.Abs(sw.from_numpy(np.ones(2, np.float32))))); th.start(); th.join()",
    # the default device records graphs of its own
    "device_graph": "d = sw.GetDefaultDevice(); d.EnableGraph(True); "
                    "sw.Abs(sw.from_numpy(np.ones(2, np.float32)))",
}


@pytest.mark.parametrize("name", sorted(EXIT_SCRIPTS))
def test_exit_with_python_objects_held_by_the_core(name):
    """The exit crash the fuzz found: state the core keeps past the script's end (a
    thread's recording graph, a device's graph) still held NumPy arrays and callbacks,
    released after Python was finalized. The process must exit with status 0."""
    code = "import numpy as np\nfrom singa import singa_wrap as sw\n" + EXIT_SCRIPTS[name] + \
        "\nprint('script done', flush=True)\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "script done" in proc.stdout


def test_array_held_by_an_ended_threads_graph_is_freed_later():
    """A thread's recording graph, destroyed as the thread ends, releases what it holds
    without taking the GIL (the interpreter may be finalizing); the next release made under
    the GIL frees those objects, so a long-running program does not keep them."""
    import gc
    import threading
    import weakref

    from singa import singa_wrap as sw

    class Marked(np.ndarray):
        pass

    a = np.ones(4, np.float32).view(Marked)
    alive = weakref.ref(a)

    def record(x):
        sw.GraphBegin()
        sw.Abs(sw.from_numpy(x))

    th = threading.Thread(target=record, args=(a,))
    th.start()
    th.join()
    del a
    gc.collect()
    for _ in range(50):          # the OS thread may still be ending after join()
        t = sw.from_numpy(np.ones(3, np.float32))
        del t                    # a release under the GIL
        gc.collect()
        if alive() is None:
            break
        threading.Event().wait(0.01)
    assert alive() is None
