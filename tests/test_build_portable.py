"""Runtime ISA dispatch of singa's own CPU kernels (src/cpu/isa.h).

A portable build (SINGA_NATIVE=OFF, what a wheel is) has a copy of its element-wise,
reduction, fused-update, 16-bit-conversion and FMA-probe code per ISA level and picks one
when it is first used: the best the CPU has, or a lower one that SINGA_CPU_ISA asks for.
A native build has one copy, compiled for the building machine. `singa_wrap.build_info()`
says which. Each case that depends on SINGA_CPU_ISA starts a fresh interpreter, since the
choice is made once per process.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from _launcher import env_with_this_singa
from singa import singa_wrap as sw

LEVELS = ["baseline", "avx2", "avx512"]
FAMILIES = {"elementwise", "reduce", "fused", "half_convert", "fma_peak"}
LANES = {"baseline": 1, "avx2": 8, "avx512": 16}

PROBE = """
import json
from singa import singa_wrap as sw
print(json.dumps({"info": sw.build_info(), "lanes": sw.fma_peak_lanes()}))
"""

# Runs the dispatched kernels on inputs long enough to take the vector loops, their tails
# (odd lengths) and both threads, and saves the results for the parent to compare.
KERNELS = r"""
import sys
import numpy as np
from singa import singa_wrap as sw

sw.set_num_threads(2)
cpu = sw.GetDefaultDevice()
inputs = np.load(sys.argv[1])
T = lambda a: sw.from_numpy(np.array(a, copy=True, order="C"))
N = lambda t: np.array(sw.to_numpy(t))
x, y, m = inputs["x"], inputs["y"], inputs["m"]
pos = np.abs(x) + 0.25
out = {
    "Exp": N(sw.Exp(T(x))), "Sigmoid": N(sw.Sigmoid(T(x))), "Tanh": N(sw.Tanh(T(x))),
    "ReLU": N(sw.ReLU(T(x))), "Log": N(sw.Log(T(pos))), "Sqrt": N(sw.Sqrt(T(pos))),
    "Add": N(sw.Add(T(x), T(y))), "Mul": N(sw.EltwiseMult(T(x), T(y))),
    "Div": N(sw.Div(T(x), T(pos))), "Pow": N(sw.Pow(T(pos), T(y))),
    "ReLUBackward": N(sw.ReLUBackward(T(y), T(x))),
    "AddRow": N(sw.Add(T(m), T(m[0]))),
    "Sum0": N(sw.ReduceSum(T(m), [0], False)), "Sum1": N(sw.ReduceSum(T(m), [1], False)),
    "Max1": N(sw.ReduceMax(T(m), 1, False)), "SoftMax": N(sw.SoftMax(T(m), 1)),
    "Float16": N(T(x * 100).AsType(sw.kFloat16).AsType(sw.kFloat32)),
    "BFloat16": N(T(x * 100).AsType(sw.kBFloat16).AsType(sw.kFloat32)),
    # Integer ops and dtype casts: the wider copies hand these to the baseline copy.
    "IntMul": N(sw.EltwiseMult(T(inputs["k"]), T(inputs["k"]))),
    "ArgMax": N(sw.ArgMax(T(m), 1)), "ToDouble": N(T(x).AsType(sw.kDouble)),
}
ax = T(y)
sw.Axpy(0.5, T(x), ax)
out["Axpy"] = N(ax)
p, g, mo, v = T(x), T(y), T(np.zeros_like(x)), T(np.zeros_like(x))
for step in (1, 2):
    sw.AdamUpdate(p, g, mo, v, 0.01, 0.9, 0.999, 1e-8, 1e-4, step)
out["AdamP"], out["AdamM"], out["AdamV"] = N(p), N(mo), N(v)
p, v = T(x), T(np.ones_like(x))
sw.RMSPropUpdate(p, T(y), v, 0.01, 0.9, 1e-6)
out["RMSPropP"], out["RMSPropV"] = N(p), N(v)
p, buf = T(x), T(np.zeros_like(x))
sw.SGDUpdate(p, T(y), buf, 0.1, 0.9, 0.0, 1e-3, False)
out["SGDP"] = N(p)
cpu.SetRandSeed(7)
dy, mask = sw.DropoutForward(T(x), 0.4)
out["DropoutY"], out["DropoutMask"] = N(dy), N(mask)
np.savez(sys.argv[2], **out)
"""


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def best_level(flags):
    """The level the dispatch should pick on a CPU with these flags (cpu/isa.h's sets)."""
    if not {"avx2", "fma", "f16c", "bmi1", "bmi2"} <= flags:
        return "baseline"
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "avx512"
    return "avx2"


def child_env(isa=None):
    env = {k: v for k, v in env_with_this_singa().items() if k != "SINGA_CPU_ISA"}
    if isa is not None:
        env["SINGA_CPU_ISA"] = isa
    return env


def probe(isa=None):
    out = subprocess.run([sys.executable, "-c", PROBE], env=child_env(isa), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def portable():
    return sw.build_info()["build"] == "portable"


def supported_levels():
    """The levels this CPU runs: every one up to the detected best."""
    best = sw.build_info()["cpu_isa"]
    return LEVELS[:LEVELS.index(best) + 1]


def test_build_info_describes_the_build():
    info = sw.build_info()
    assert info["build"] in ("native", "portable")
    assert info["cpu_isa"] in LEVELS
    assert set(info["kernels"]) == FAMILIES
    assert set(info["kernels"].values()) <= set(LEVELS)
    assert info["openblas_corename"] == sw.openblas_corename()
    assert isinstance(info["cpu_isa_request"], str) and isinstance(info["cpu_isa_note"], str)


def test_detected_level_is_the_cpus():
    flags = cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    assert sw.build_info()["cpu_isa"] == best_level(flags)


def test_portable_build_dispatches_to_the_best_level_by_default():
    if not portable():
        pytest.skip("a native build has one copy of each kernel")
    got = probe()
    best = got["info"]["cpu_isa"]
    assert got["info"]["kernels"] == {family: best for family in FAMILIES}
    assert got["info"]["cpu_isa_request"] == "auto" and got["info"]["cpu_isa_note"] == ""
    assert got["lanes"] == LANES[best]


@pytest.mark.parametrize("level", LEVELS)
def test_portable_build_honours_a_lower_level(level):
    if not portable():
        pytest.skip("a native build has one copy of each kernel")
    if level not in supported_levels():
        pytest.skip("this CPU does not run " + level)
    got = probe(level)
    assert got["info"]["kernels"] == {family: level for family in FAMILIES}
    assert got["info"]["cpu_isa_request"] == level and got["info"]["cpu_isa_note"] == ""
    assert got["lanes"] == LANES[level]


def test_unknown_level_falls_back_to_the_best_and_says_so():
    got = probe("avx1024")
    assert got["info"]["cpu_isa_request"] == "avx1024"
    assert "avx1024" in got["info"]["cpu_isa_note"]
    assert got["info"]["kernels"] == probe()["info"]["kernels"]


def test_level_above_the_cpus_is_not_used():
    if sw.build_info()["cpu_isa"] == "avx512":
        pytest.skip("this CPU runs every level")
    if not portable():
        pytest.skip("a native build has one copy of each kernel")
    got = probe("avx512")
    assert "at most" in got["info"]["cpu_isa_note"]
    assert set(got["info"]["kernels"].values()) == {got["info"]["cpu_isa"]}


def test_native_build_ignores_the_request_and_says_so():
    if portable():
        pytest.skip("a portable build follows the request")
    default = probe()["info"]["kernels"]
    got = probe("baseline")
    assert "native build" in got["info"]["cpu_isa_note"]
    assert got["info"]["kernels"] == default


def bfloat16_round(a):
    """float32 -> bfloat16 -> float32 with round-half-to-even, in NumPy."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return bits.astype(np.uint32).view(np.float32)


def reference(inputs):
    """What each kernel of KERNELS computes, in float64 NumPy."""
    x, y, m = (inputs[k].astype(np.float64) for k in ("x", "y", "m"))
    pos = np.abs(x) + 0.25
    want = {
        "Exp": np.exp(x), "Sigmoid": 1 / (1 + np.exp(-x)), "Tanh": np.tanh(x),
        "ReLU": np.maximum(x, 0), "Log": np.log(pos), "Sqrt": np.sqrt(pos),
        "Add": x + y, "Mul": x * y, "Div": x / pos, "Pow": pos ** y,
        "ReLUBackward": np.where(x > 0, y, 0), "AddRow": m + m[0],
        "Sum0": m.sum(0), "Sum1": m.sum(1), "Max1": m.max(1),
        "SoftMax": np.exp(m - m.max(1, keepdims=True)) / np.exp(m - m.max(1, keepdims=True)).sum(1, keepdims=True),
        "Float16": (inputs["x"] * np.float32(100)).astype(np.float16).astype(np.float64),
        "BFloat16": bfloat16_round(inputs["x"] * np.float32(100)).astype(np.float64),
        "Axpy": 0.5 * x + y,
        "IntMul": inputs["k"] * inputs["k"], "ArgMax": inputs["m"].argmax(1).astype(np.int32),
        "ToDouble": x,
    }
    # The kernel keeps beta and 1 - beta in float32: 1 - 0.999f is 0.001 to only 5e-5.
    b1, b2 = np.float32(0.9), np.float32(0.999)
    p, mo, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
    for step in (1, 2):
        g = y + 1e-4 * p
        mo = float(b1) * mo + float(np.float32(1) - b1) * g
        v = float(b2) * v + float(np.float32(1) - b2) * g * g
        p = p - 0.01 * (mo / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    want["AdamP"], want["AdamM"], want["AdamV"] = p, mo, v
    v = 0.9 * 1.0 + 0.1 * y * y
    want["RMSPropP"], want["RMSPropV"] = x - 0.01 * y / np.sqrt(v + 1e-6), v
    want["SGDP"] = x - 0.1 * (y + 1e-3 * x)
    return want


# float32 kernels against float64 NumPy: relative and absolute tolerance per result (the
# sums add ~300-500 values of size ~1.5 in float32 blocks: absolute error ~1e-6 of that).
TOLERANCE = {"Exp": (2e-6, 0), "Sigmoid": (2e-6, 1e-7), "Tanh": (2e-6, 1e-7), "Log": (2e-6, 1e-7),
             "Pow": (2e-6, 1e-7), "Sum0": (1e-6, 2e-4), "Sum1": (1e-6, 2e-4),
             "SoftMax": (2e-6, 1e-8), "AdamP": (1e-5, 1e-6), "AdamM": (1e-6, 1e-8),
             "AdamV": (1e-5, 1e-9), "RMSPropP": (1e-6, 1e-7), "RMSPropV": (1e-6, 1e-7)}
EXACT = {"ReLU", "ReLUBackward", "Max1", "Float16", "BFloat16"}
# Exact in their own dtype (int32 products wrap around, as NumPy's do).
EXACT_AS_IS = {"IntMul", "ArgMax", "ToDouble"}


@pytest.fixture(scope="module")
def kernel_results(tmp_path_factory):
    """{level: {kernel: result}} for every level this build runs here (portable: each level
    the CPU supports; native: its one copy), and the inputs."""
    tmp = tmp_path_factory.mktemp("isa")
    rng = np.random.default_rng(17)
    n = 100_003  # past the one-thread threshold, and not a multiple of any vector width
    inputs = {"x": rng.uniform(-4, 4, n).astype(np.float32),
              "y": rng.uniform(-2, 2, n).astype(np.float32),
              "m": rng.uniform(-3, 3, (301, 517)).astype(np.float32),
              "k": rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)}
    np.savez(tmp / "inputs.npz", **inputs)
    levels = supported_levels() if portable() else [None]
    results = {}
    for level in levels:
        out = tmp / "{}.npz".format(level)
        subprocess.run([sys.executable, "-c", KERNELS, str(tmp / "inputs.npz"), str(out)],
                       env=child_env(level), check=True, capture_output=True)
        with np.load(out) as f:
            results[level or "native"] = {k: f[k] for k in f.files}
    return results, inputs


def test_every_level_computes_what_numpy_does(kernel_results):
    results, inputs = kernel_results
    want = reference(inputs)
    for level, got in results.items():
        for name, expected in want.items():
            if name in EXACT_AS_IS:
                assert got[name].dtype == expected.dtype, (name, level, got[name].dtype)
                np.testing.assert_array_equal(got[name], expected, err_msg="{} at {}".format(name, level))
            elif name in EXACT:
                np.testing.assert_array_equal(got[name], expected.astype(np.float32),
                                              err_msg="{} at {}".format(name, level))
            else:
                rtol, atol = TOLERANCE.get(name, (1e-6, 1e-7))
                np.testing.assert_allclose(got[name], expected, rtol=rtol, atol=atol,
                                           err_msg="{} at {}".format(name, level))


def test_dropout_draws_one_mask_at_every_level(kernel_results):
    results, inputs = kernel_results
    masks = [got["DropoutMask"] for got in results.values()]
    scale = np.float32(1 / 0.6)
    for level, got in results.items():
        assert set(np.unique(got["DropoutMask"])) <= {np.float32(0), scale}, level
        np.testing.assert_allclose(got["DropoutY"], inputs["x"] * got["DropoutMask"], rtol=1e-7)
        kept = np.mean(got["DropoutMask"] != 0)
        assert 0.57 < kept < 0.63, (level, kept)
    for mask in masks[1:]:
        np.testing.assert_array_equal(mask, masks[0])


def test_levels_agree_with_each_other(kernel_results):
    """The copies differ at most by rounding (FMA contraction, wider partial sums)."""
    results, _ = kernel_results
    levels = list(results)
    for level in levels[1:]:
        for name, first in results[levels[0]].items():
            np.testing.assert_allclose(results[level][name], first, rtol=4e-6, atol=1e-6,
                                       err_msg="{}: {} vs {}".format(name, level, levels[0]))


def test_empty_request_means_auto():
    got = probe("")
    assert got["info"]["cpu_isa_request"] == "auto" and got["info"]["cpu_isa_note"] == ""
    assert got["info"]["kernels"] == probe()["info"]["kernels"]


# Under user-mode QEMU the whole process (Python, NumPy, oneDNN, OpenBLAS, singa) sees the
# emulated CPU's cpuid: a portable build must start there, pick that CPU's level and
# compute right. A native build from an AVX-512 machine dies of SIGILL on the first one.
EMULATED = r"""
import json
import numpy as np
from singa import singa_wrap as sw
x = np.linspace(-3, 3, 40_001).astype(np.float32)
t = sw.from_numpy(x)
p, g, m, v = (sw.from_numpy(a.copy()) for a in (x, x, np.zeros_like(x), np.zeros_like(x)))
sw.AdamUpdate(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 0.0, 1)
print(json.dumps({
    "kernels": sw.build_info()["kernels"], "lanes": sw.fma_peak_lanes(),
    "exp": float(np.max(np.abs(np.array(sw.to_numpy(sw.Exp(t))) / np.exp(x.astype(np.float64)) - 1))),
    "sum": abs(float(np.array(sw.to_numpy(sw.ReduceSum(t, [0], False)))) - float(x.astype(np.float64).sum())),
    "float16": bool(np.array_equal(np.array(sw.to_numpy(t.AsType(sw.kFloat16).AsType(sw.kFloat32))),
                                   x.astype(np.float16).astype(np.float32))),
    # Adam's first step: the bias-corrected moments are g and g^2.
    "adam": float(np.max(np.abs(np.array(sw.to_numpy(p)) - (x - 0.01 * x / (np.abs(x) + 1e-8))))),
}))
"""


@pytest.mark.skipif(os.environ.get("SINGA_SLOW_TESTS") != "1",
                    reason="a process under CPU emulation (~15 s each): set SINGA_SLOW_TESTS=1")
@pytest.mark.parametrize("cpu,level", [("Nehalem", "baseline"), ("Haswell", "avx2")])
def test_portable_build_runs_on_an_older_cpu(cpu, level):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("no qemu-x86_64 (apt-get install qemu-user)")
    if not portable():
        pytest.skip("a native build runs only on CPUs like the building machine")
    out = subprocess.run([qemu, "-cpu", cpu, sys.executable, "-c", EMULATED], env=child_env(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["kernels"] == {family: level for family in FAMILIES}
    assert got["lanes"] == LANES[level]
    assert got["exp"] < 3e-7 and got["sum"] < 1e-3 and got["float16"] and got["adam"] < 1e-6, got
