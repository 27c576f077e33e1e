"""singa's settings from environment variables, read in one place.

Every environment variable the Python package reads is listed in ``PYTHON_KNOBS`` and
read only through the getters below (``tests/test_config.py`` enforces both). The C++
core reads its own variables (GEMM and convolution backends, the CPU cache size);
:func:`knobs` lists those too, from ``singa_wrap.config_knobs()`` where the core has it.
README.md's "Environment variables" table documents all of them.

The getters read the environment at every call; readers call them where the setting
takes effect (``import singa`` for SINGA_FLUSH_DENORMALS, each dataset lookup for the
folders), so a change made later in the process shows at the next such point.
"""

import os
from collections import namedtuple

__all__ = ["Knob", "PYTHON_KNOBS", "FLUSH_DENORMALS", "DATA_DIR", "CLASSIC_WORKSPACE",
           "CUDA_FALLBACK", "CUDA_FALLBACK_VALUES", "RETAIN_GRAPH", "DETECT_ANOMALY",
           "DIST_TIMEOUT", "DIST_TIMEOUT_DEFAULT", "BF16_EMULATE", "dist_timeout", "bf16_emulate", "flush_denormals", "data_dir",
           "classic_workspace", "cuda_fallback", "retain_graph", "detect_anomaly", "core_knobs",
           "knobs", "launcher_variables"]

Knob = namedtuple("Knob", "name default meaning read_by")
Knob.__doc__ = """One environment variable: its name, its default (None: unset), what it
means, and who reads it ("Python" or "core")."""

FLUSH_DENORMALS = "SINGA_FLUSH_DENORMALS"
DATA_DIR = "SINGA_DATA_DIR"
CLASSIC_WORKSPACE = "SINGA_CLASSIC_WORKSPACE"
CUDA_FALLBACK = "SINGA_CUDA_FALLBACK"
CUDA_FALLBACK_VALUES = ("cpu",)
RETAIN_GRAPH = "SINGA_RETAIN_GRAPH"
DETECT_ANOMALY = "SINGA_DETECT_ANOMALY"
DIST_TIMEOUT = "SINGA_DIST_TIMEOUT"
DIST_TIMEOUT_DEFAULT = 300.0
BF16_EMULATE = "SINGA_BF16_EMULATE"

PYTHON_KNOBS = (
    Knob(FLUSH_DENORMALS, "1",
         "0 turns off flushing denormal floats to zero on the kernel threads (any other "
         "value keeps it on); read once by `import singa`", "Python"),
    Knob(DATA_DIR, None,
         "folder holding the datasets (or one dataset's folder); singa.data looks there "
         "after an explicit data_dir argument and before examples/data", "Python"),
    Knob(CLASSIC_WORKSPACE, None,
         "where the classic API's datasets put job workspaces; unset: "
         "examples/classic/workspace of a source checkout, else a temporary folder",
         "Python"),
    Knob(CUDA_FALLBACK, None,
         "`cpu`: where no GPU is usable (a CPU-only build, or no GPU on the machine), every "
         "`singa.device.create_cuda_gpu*` call returns the CPU device, with one warning per "
         "process; unset: those calls raise RuntimeError; any other value is an error; "
         "read at each such call", "Python"),
    Knob(RETAIN_GRAPH, "0",
         "`1`: `autograd.backward` keeps every graph's saved tensors, so one loss can be "
         "back-propagated again (SINGA keeps them; some of its scripts run backward twice), "
         "at the cost of holding the saved activations until the loss is dropped; `0`: "
         "each op's saved tensors are freed as backward passes it; other values are an "
         "error; read at each backward call without a `retain_graph` argument", "Python"),
    Knob(DETECT_ANOMALY, "0",
         "`1`: every autograd op's outputs and gradients are checked for NaN and Inf, and "
         "the first one raises `autograd.AnomalyError` naming the op, its layer, the shapes, "
         "the optimizer step and the op's forward traceback (slower); `0`: no checks; other "
         "values are an error; read once by `import singa`; `autograd.detect_anomaly()` "
         "overrides it per thread", "Python"),
    Knob(DIST_TIMEOUT, "300",
         "seconds a rank of a distributed job (`singa.opt.DistOpt`, `singa.dist`) waits in "
         "one collective for the other ranks before it raises `singa.dist.DistTimeoutError` "
         "naming the ranks that did not arrive (and the job ends); a positive number; read "
         "when a communicator is created without a `timeout` argument", "Python"),
    Knob(BF16_EMULATE, "0",
         "`1`: bfloat16 autocast (`autograd.autocast('bfloat16')`, `Model.compile(..., "
         "precision='bfloat16')`) runs on a CPU without avx512_bf16/amx_bf16 by rounding in "
         "software (slower than float32); `0`: there it raises RuntimeError naming the "
         "missing CPU flags; other values are an error; read each time an autocast block is "
         "entered without an `emulate` argument", "Python"),
)


def _value(name):
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(name) or None


def flush_denormals():
    """Whether kernel threads should flush denormal floats to zero (default True):
    decaying running averages reach denormals, which are many times slower."""
    return os.environ.get(FLUSH_DENORMALS, "1") != "0"


def data_dir():
    """The folder named by ``SINGA_DATA_DIR``, or None."""
    return _value(DATA_DIR)


def classic_workspace():
    """The folder named by ``SINGA_CLASSIC_WORKSPACE``, or None."""
    return _value(CLASSIC_WORKSPACE)


def cuda_fallback():
    """What ``create_cuda_gpu*`` returns where no GPU is usable: ``"cpu"`` (the CPU
    device) or None (unset: they raise). Other values raise ValueError naming the
    allowed ones, so a typo does not silently keep the default."""
    value = _value(CUDA_FALLBACK)
    if value is None or value in CUDA_FALLBACK_VALUES:
        return value
    raise ValueError("{}={!r}: the allowed values are {} (or leave it unset)".format(
        CUDA_FALLBACK, value, ", ".join(repr(v) for v in CUDA_FALLBACK_VALUES)))


def retain_graph():
    """Whether backward keeps the graph for another pass by default (``SINGA_RETAIN_GRAPH``:
    ``1`` yes, ``0`` or unset no; other values raise ValueError)."""
    return _zero_or_one(RETAIN_GRAPH)


def detect_anomaly():
    """Whether autograd checks every op for NaN and Inf by default (``SINGA_DETECT_ANOMALY``:
    ``1`` yes, ``0`` or unset no; other values raise ValueError)."""
    return _zero_or_one(DETECT_ANOMALY)


def dist_timeout():
    """Seconds a collective waits for the other ranks (``SINGA_DIST_TIMEOUT``, default
    300); a value that is not a positive number raises ValueError."""
    value = _value(DIST_TIMEOUT)
    if value is None:
        return DIST_TIMEOUT_DEFAULT
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError("{}={!r}: it must be a positive number of seconds".format(
            DIST_TIMEOUT, value))
    return seconds


def bf16_emulate():
    """Whether bfloat16 autocast may emulate bfloat16 on a CPU without it
    (``SINGA_BF16_EMULATE``: ``1`` yes, ``0`` or unset no; other values raise ValueError)."""
    return _zero_or_one(BF16_EMULATE)


def _zero_or_one(name):
    value = _value(name)
    if value is None or value == "0":
        return False
    if value == "1":
        return True
    raise ValueError("{}={!r}: the allowed values are '0' and '1' (or leave it unset)"
                     .format(name, value))


def launcher_variables(names):
    """``{name: value}`` of those of ``names`` that are set. For the variables a job launcher
    (mpiexec, torchrun) exports to each process it starts: facts about the process rather
    than settings, so they have no Knob and no README row."""
    return {name: os.environ[name] for name in names if name in os.environ}


def core_knobs():
    """The variables the C++ core reads, as Knobs; empty when the extension predates
    ``singa_wrap.config_knobs()``."""
    from . import singa_wrap
    listing = getattr(singa_wrap, "config_knobs", None)
    if listing is None:
        return []
    return [Knob(name, default, meaning, "core") for name, default, meaning in listing()]


def knobs():
    """``(python, core)``: lists of the Knobs the Python package and the core read."""
    return list(PYTHON_KNOBS), core_knobs()
