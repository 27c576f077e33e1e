"""onnx's backend conformance suite (onnx.backend.test) over singa's SingaBackend, CPU
cases: node, simple, pytorch-converted, pytorch-operator and the light models.

Every case singa does not pass is excluded with its reason in one place,
tests/data/onnx_backend_exclusions.json ({case: reason}; regenerate it with
``python tests/onnx_conformance.py --skip-onnxruntime --write-exclusions
tests/data/onnx_backend_exclusions.json`` after the importer or the core improves).
Most reasons are dtypes the core lacks (int8, int16, unsigned types wider than
uint8, bfloat16 inputs, float8/float4, int2/int4) and operators with no importer
(control flow, sequences, strings, training and ML-domain operators, ...).
The pass counts against onnxruntime's come from tests/onnx_conformance.py.
"""

import json
import os
import re
import warnings

import pytest

pytest.importorskip("onnx")
import onnx.backend.test  # noqa: E402

from singa import sonnx  # noqa: E402

EXCLUSIONS_FILE = os.path.join(os.path.dirname(__file__), "data",
                               "onnx_backend_exclusions.json")
with open(EXCLUSIONS_FILE) as f:
    EXCLUSIONS = json.load(f)

# The light models run here as well; test_sonnx_import.py also compares their logits with
# onnxruntime's.
warnings.filterwarnings("ignore", category=RuntimeWarning, module="onnx")
_backend_test = onnx.backend.test.BackendTest(sonnx.SingaBackend, __name__)
for _name, _reason in EXCLUSIONS.items():
    _backend_test.exclude("^{}$".format(re.escape(_name)))

globals().update(_backend_test.test_cases)


def test_every_exclusion_names_a_case_and_a_reason():
    import unittest
    names = set()
    for case in onnx.backend.test.BackendTest(sonnx.SingaBackend, __name__).test_cases.values():
        names.update(n for n in unittest.defaultTestLoader.getTestCaseNames(case))
    unknown = [n for n in EXCLUSIONS if n not in names]
    assert not unknown, unknown
    assert all(isinstance(r, str) and r.strip() for r in EXCLUSIONS.values())
