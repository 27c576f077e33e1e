"""The environment knobs of the core (src/core/config.h): each is read through the one
table singa_wrap.config_knobs() lists, with the documented fallback for unset, empty
and unknown values. Each case starts a fresh interpreter, since knobs are read once."""
import json
import os
import subprocess
import sys

PROBE = """
import json
from singa import singa_wrap as sw
print(json.dumps({"gemm": sw.get_gemm_backend(), "conv": sw.get_conv_backend(),
                  "knobs": [k[0] for k in sw.config_knobs()]}))
"""


def probe(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("SINGA_")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_defaults_and_overrides():
    from singa import singa_wrap as sw
    default = probe()
    assert default["gemm"] == ("dnnl" if sw.USE_DNNL else "openblas")
    assert default["conv"] == "auto"
    set_ = probe(SINGA_GEMM_BACKEND="openblas", SINGA_CONV_BACKEND="reference")
    assert set_["gemm"] == "openblas" and set_["conv"] == "reference"
    assert set(set_["knobs"]) >= {"SINGA_GEMM_BACKEND", "SINGA_CONV_BACKEND"}


def test_unknown_and_empty_values_fall_back_quietly():
    from singa import singa_wrap as sw
    odd = probe(SINGA_GEMM_BACKEND="fastest", SINGA_CONV_BACKEND="", SINGA_DNNL_LAYOUT="zigzag",
                SINGA_CPU_CACHE_MB="lots")
    assert odd["gemm"] == ("dnnl" if sw.USE_DNNL else "openblas")
    assert odd["conv"] == "auto"
