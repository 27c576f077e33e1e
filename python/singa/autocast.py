"""bfloat16 autocast: convolutions and matrix products in bfloat16, the rest in float32.

Inside ``with autograd.autocast('bfloat16'):`` (or in a model compiled with
``precision='bfloat16'``) the ops that do nearly all of a network's arithmetic (Matmul,
Gemm and the convolution, hence the Linear and Conv2d layers) round their float32
operands to bfloat16, compute in bfloat16 with float32 accumulation, and return float32;
their backward computes the input and weight gradients the same way and returns them in
float32, so parameters, their gradients and the optimizer's update stay float32 (the
float32 "master weights" are the parameters themselves). Every other op (bias adds,
activations, batch norm, pooling, softmax, losses, reductions) sees float32 tensors and
computes as before.

Operands in other dtypes (float64, tensors already in bfloat16) are left as they are,
and their gradients keep their dtype.

Why float32 out: the kernels round their result to bfloat16 and the hook widens it back
(exact), so the next op reads float32 as everywhere else. Widening a 500x500 product
costs ~0.03 ms against ~0.6-1.0 ms for the bfloat16 product of 500x784 by 784x500 (float32:
5-6.5 ms) on an AMX CPU, one thread, and a float32-writing bfloat16 kernel was no faster;
a bfloat16 output would only move that cast into whichever op reads it next
(docs/mixed_precision.md has the measurements).

Why no loss scaling: bfloat16 keeps float32's 8 exponent bits, so a gradient that is
representable in float32 (down to ~1e-38) is representable in bfloat16; float16 needs a
scaler because its smallest normal value is ~6e-5. bfloat16 loses mantissa (8 bits
instead of 24), not range, and no scaling factor brings mantissa back.

Where the CPU computes bfloat16 natively (AVX512-BF16 or AMX, through oneDNN) the
kernels run on those instructions. Elsewhere entering autocast raises RuntimeError
naming the missing CPU flags, unless emulation is asked for (``emulate=True``, or
``SINGA_BF16_EMULATE=1``): the core then widens the bfloat16 operands to float32, runs
the float32 kernel and rounds the result to bfloat16 -- the same roundings as the native
kernels (products of two bfloat16 values are exact in float32), slower than float32.
"""

import functools
import threading

from . import config
from . import singa_wrap as singa

__all__ = ["autocast", "PRECISIONS", "BF16_CPU_FLAGS", "compute_dtype", "native_bf16",
           "missing_cpu_flags", "check_supported", "lower", "widen", "lower_grad",
           "widen_grads"]

# The names Model.compile(precision=...) and autocast(dtype) accept.
PRECISIONS = ("float32", "bfloat16")
_FLOAT32 = int(singa.kFloat32)
_BFLOAT16 = int(singa.kBFloat16)
# The CPU flags (as /proc/cpuinfo spells them) of which one gives native bfloat16 compute.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


class _State(threading.local):
    # The compute dtype of the hooked ops on this thread: None outside autocast.
    dtype = None


_state = _State()


def compute_dtype():
    """The dtype (``singa_wrap`` code) the hooked ops compute in on this thread, or None
    outside autocast (or inside ``autocast(enabled=False)``)."""
    return _state.dtype


def native_bf16():
    """Whether the core's convolutions and matrix products on bfloat16 run oneDNN's native
    kernels here (AVX512-BF16 or AMX, oneDNN compiled in, conv backend not 'reference').
    Tests replace this function to take the path of a CPU without them."""
    return bool(singa.half_native(_BFLOAT16))


def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def missing_cpu_flags():
    """Those of BF16_CPU_FLAGS this CPU lacks."""
    have = _cpu_flags()
    return [f for f in BF16_CPU_FLAGS if f not in have]


def _unsupported_message(where):
    missing = missing_cpu_flags()
    if len(missing) == len(BF16_CPU_FLAGS):
        why = "this CPU has neither (missing CPU flags: {})".format(", ".join(missing))
    elif singa.get_conv_backend() == "reference":
        why = "the conv backend is 'reference', which computes bfloat16 in software"
    else:
        why = ("this CPU has {} but oneDNN does not use them (held below AVX512-BF16, e.g. by "
               "ONEDNN_MAX_CPU_ISA, or built without it)".format(
                   ", ".join(f for f in BF16_CPU_FLAGS if f not in missing)))
    return ("{}: bfloat16 compute needs a CPU with avx512_bf16 or amx_bf16, and {}; pass "
            "emulate=True (or set {}=1) to compute the same bfloat16 roundings in software, "
            "slower than float32".format(where, why, config.BF16_EMULATE))


def check_supported(where, emulate=None):
    """Raises RuntimeError (naming ``where`` and the missing CPU flags) when bfloat16 is not
    native here and emulation was not asked for (``emulate`` None: SINGA_BF16_EMULATE)."""
    if emulate is None:
        emulate = config.bf16_emulate()
    if not emulate and not native_bf16():
        raise RuntimeError(_unsupported_message(where))


def _parse_dtype(where, dtype):
    if dtype == "bfloat16" or (isinstance(dtype, int) and not isinstance(dtype, bool)
                               and dtype == _BFLOAT16):
        return _BFLOAT16
    raise ValueError("{}: dtype must be 'bfloat16' (or singa.tensor.bfloat16), got {!r}; "
                     "float32 is what runs outside autocast".format(where, dtype))


class autocast(object):
    """Context manager and decorator: conv and matmul/linear ops compute in bfloat16 on
    this thread inside (see the module docstring). Nests: an inner block's setting holds
    until it exits, then the outer one's is back, also when the block raises.

    Args:
        dtype: ``'bfloat16'`` (or ``singa.tensor.bfloat16``), the only one supported.
        enabled: False runs the block in float32 (also inside an outer autocast).
        emulate: True allows a CPU without bfloat16 instructions (software rounding,
            slow); None (default) follows ``SINGA_BF16_EMULATE``; False never emulates.
    """

    def __init__(self, dtype="bfloat16", enabled=True, emulate=None):
        if not isinstance(enabled, bool):
            raise TypeError("autocast: enabled must be True or False, got {!r}".format(enabled))
        if emulate is not None and not isinstance(emulate, bool):
            raise TypeError("autocast: emulate must be True, False or None, got {!r}".format(
                emulate))
        self.dtype = _parse_dtype("autocast", dtype)
        self.enabled = enabled
        self.emulate = emulate
        self._saved = []

    def __enter__(self):
        if self.enabled:
            check_supported("autocast('bfloat16')", self.emulate)
        self._saved.append(_state.dtype)
        _state.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc):
        _state.dtype = self._saved.pop()
        return False

    def __call__(self, fn):
        dtype, enabled, emulate = self.dtype, self.enabled, self.emulate

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            # a fresh context per call: one decorated function may run on several threads
            with autocast(dtype, enabled, emulate):
                return fn(*args, **kwargs)
        return wrapper


# ---- the hook of the ops autocast covers (Matmul, Gemm, _Conv2d) ----
# An op that cast records it in two attributes, set only then (a call outside autocast
# leaves the op as it was without autocast): amp_dtype, the compute dtype, and amp_cast,
# which of its inputs were float32 and cast (their gradients go back to float32).

def lower(op, *xs):
    """The op's float32 operands in the compute dtype under autocast; others (None,
    float64, tensors already in bfloat16) as they are. Outside autocast, xs unchanged."""
    dt = _state.dtype
    if dt is not None:
        cast = tuple(x is not None and x.data_type() == _FLOAT32 for x in xs)
        if True in cast:
            op.amp_dtype, op.amp_cast = dt, cast
            return tuple(x.AsType(dt) if c else x for x, c in zip(xs, cast))
    if "amp_dtype" in op.__dict__:  # an op object called again, now without casting
        del op.amp_dtype, op.amp_cast
    return xs


def widen(op, y):
    """The forward's result, computed in the compute dtype, back in float32 (exact)."""
    dt = op.__dict__.get("amp_dtype")
    return y if dt is None or y.data_type() != dt else y.AsType(_FLOAT32)


def lower_grad(op, dy):
    """The output gradient in the op's compute dtype when its forward cast."""
    dt = op.__dict__.get("amp_dtype")
    return dy if dt is None or dy.data_type() != _FLOAT32 else dy.AsType(dt)


def widen_grads(op, *grads):
    """Gradients of the op's first inputs, each back in float32 where that input was
    float32 and cast (None stays None)."""
    dt = op.__dict__.get("amp_dtype")
    if dt is None:
        return grads
    return tuple(g.AsType(_FLOAT32) if c and g is not None and g.data_type() == dt else g
                 for g, c in zip(grads, op.amp_cast))
