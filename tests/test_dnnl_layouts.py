"""oneDNN pooling and convolution layouts, under the machine's own ISA and AVX2 forced.

The oneDNN paths pick their memory layout by the ISA oneDNN runs with (pooling on
channel-blocked copies where the plain layout has no jit kernel, 1x1 convolutions blocked
or plain per ISA), so each case runs in a child process with ``ONEDNN_MAX_CPU_ISA`` set,
compares the oneDNN results with the reference kernels, and reports the implementation
names oneDNN printed (``ONEDNN_VERBOSE=1``).
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from singa import singa_wrap as sw

from _launcher import env_with_this_singa

needs_dnnl = pytest.mark.skipif(not getattr(sw, "USE_DNNL", False),
                                reason="singa built without oneDNN")

# (N, C, H, W, kernel, stride, padding, is_max, count_include_pad): channel counts that are
# not multiples of 8 or 16 leave padded channel blocks in the blocked copies.
POOL_CASES = [
    ((2, 3, 9, 9), (3, 3), (2, 2), (1, 1), True, True),
    ((2, 5, 10, 9), (2, 3), (2, 1), (1, 0, 0, 2), False, True),
    ((3, 13, 8, 8), (2, 2), (2, 2), (0, 0), True, True),
    ((2, 17, 7, 7), (3, 3), (1, 1), (1, 1), False, False),
    ((1, 24, 6, 7), (3, 3), (3, 3), (0, 0), True, True),
    ((4, 32, 32, 32), (3, 3), (2, 2), (0, 0), True, True),
    ((4, 64, 7, 7), (3, 3), (2, 2), (0, 0), False, True),
]

# (N, C, H, W, F, kernel, stride, padding, group, bias)
CONV_CASES = [
    ((2, 13, 9, 9), 13, (3, 3), (1, 1), (1, 1), 13, False),    # depthwise, odd channels
    ((2, 24, 10, 11), 24, (3, 3), (2, 2), (1, 1), 24, True),   # depthwise, strided
    ((2, 20, 6, 6), 12, (1, 1), (1, 1), (0, 0), 1, False),     # pointwise, odd sizes
    ((2, 64, 8, 8), 40, (1, 1), (1, 1), (0, 0), 1, True),      # pointwise
    ((2, 3, 12, 12), 16, (5, 5), (1, 1), (2, 2), 1, True),     # a network's first layer
]

CHILD = r"""
import json, sys
import numpy as np
from singa import singa_wrap as sw

pool_cases, conv_cases = json.loads(sys.argv[1])
rng = np.random.default_rng(5)
T = lambda a: sw.from_numpy(np.ascontiguousarray(a))
N = lambda t: np.array(sw.to_numpy(t))

def both(fn):
    out = []
    for name in ("reference", "dnnl"):
        sw.set_conv_backend(name)
        out.append([N(t) for t in fn()])
    sw.set_conv_backend("auto")
    return out

def rel_err(got, want):
    return max(float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30)) for g, w in zip(got, want))

errors = []
for shape, k, s, p, is_max, incl in pool_cases:
    x = rng.standard_normal(shape).astype(np.float32)
    if is_max:
        x = np.round(x * 2)  # ties: both backends must pick the same cell of a window
    hd = sw.PoolingHandle(list(shape), list(k), list(s), list(p), is_max, incl)
    dy = rng.standard_normal((shape[0], shape[1], hd.pooled_height, hd.pooled_width))
    dy = dy.astype(np.float32)

    def run():
        y = sw.CpuPoolingForward(hd, T(x))
        return [y, sw.CpuPoolingBackward(hd, T(dy), T(x), y)]
    errors.append(rel_err(*both(run)[::-1]))

for shape, f, k, s, p, group, bias in conv_cases:
    n, c = shape[:2]
    x = rng.standard_normal(shape).astype(np.float32)
    W = rng.standard_normal((f, c // group) + tuple(k)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32) if bias else None
    hd = sw.ConvHandle(list(shape), list(k), list(s), list(p), c, f, bias, group, [1, 1])
    dy = rng.standard_normal((n, f, hd.conv_height, hd.conv_width)).astype(np.float32)

    def run():
        bt = T(b) if bias else None
        return [sw.CpuConvForward(T(x), T(W), bt, hd), sw.CpuConvBackwardx(T(dy), T(W), T(x), hd),
                sw.CpuConvBackwardW(T(dy), T(x), T(W), hd)]
    errors.append(rel_err(*both(run)[::-1]))
print("RESULT " + json.dumps(errors), flush=True)
"""


def run_child(isa):
    env = env_with_this_singa(ONEDNN_VERBOSE="1", SINGA_CONV_BACKEND="auto")
    if isa is None:
        env.pop("ONEDNN_MAX_CPU_ISA", None)
    else:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    arg = json.dumps([POOL_CASES, CONV_CASES])
    out = subprocess.run([sys.executable, "-c", CHILD, arg], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    errors, impls = None, {}
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            errors = json.loads(line[len("RESULT "):])
        elif line.startswith("onednn_verbose,") and ",exec,cpu," in line:
            # onednn_verbose,[timestamp,]exec,cpu,<primitive>,<impl>,<prop>,...
            fields = line.split(",")
            i = fields.index("exec")
            impls.setdefault(fields[i + 2], set()).add(fields[i + 3])
    assert errors is not None, out.stdout[-3000:]
    return errors, impls


@needs_dnnl
@pytest.mark.parametrize("isa", [None, "AVX2"], ids=["native", "avx2"])
def test_pool_and_conv_match_reference_and_pool_runs_jit(isa):
    errors, impls = run_child(isa)
    assert len(errors) == len(POOL_CASES) + len(CONV_CASES)
    for case, err in zip(POOL_CASES + CONV_CASES, errors):
        assert err < 1e-4, (case, err)
    # No pooling falls back to oneDNN's scalar loops (simple_nchw / ref) on either ISA.
    pool = impls.get("pooling", set())
    assert pool and all(name.startswith("jit") for name in pool), pool
    # Depthwise convolutions run oneDNN's depthwise kernels.
    conv = impls.get("convolution", set())
    assert any(name.startswith("jit_dw") for name in conv), conv


@needs_dnnl
def test_pool_forward_repeats_bit_for_bit():
    # The blocked copies come from per-call scratch memory: a second call on the same input
    # (reusing the cached primitives and reorders) gives the same bits, padding included.
    x = np.random.default_rng(3).standard_normal((2, 13, 11, 11)).astype(np.float32)
    hd = sw.PoolingHandle(list(x.shape), [3, 3], [2, 2], [1, 1], True, True)
    first = np.array(sw.to_numpy(sw.CpuPoolingForward(hd, sw.from_numpy(x))))
    again = np.array(sw.to_numpy(sw.CpuPoolingForward(hd, sw.from_numpy(x))))
    np.testing.assert_array_equal(first, again)
