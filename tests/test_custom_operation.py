"""The custom-operation example: a GELU written as a Python Operation is gradient-
checked and trains a small MLP to separate two rings."""

import os
import subprocess
import sys

import numpy as np
import pytest

import singa
from singa import testing

from _examples import example_path, load_example

EXAMPLE = example_path("autograd", "custom_operation")


@pytest.fixture(scope="module")
def example():
    return load_example("autograd", "custom_operation")


def test_gelu_gradient(example):
    assert example.check_gradient()
    x = np.random.default_rng(0).normal(size=(3, 4)) * 2
    assert testing.gradcheck(example.gelu, [x])


def test_gelu_forward(example):
    from singa import tensor
    x = np.linspace(-4, 4, 17).astype(np.float32)
    expected = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    got = tensor.to_numpy(example.gelu(tensor.from_numpy(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_training_loss_falls_and_accuracy(example):
    losses, accuracy = example.train(steps=150, verbose=False)
    assert losses[-1] < 0.5 * losses[0]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    assert accuracy > 0.9


def test_runs_as_a_script():
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(singa.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, EXAMPLE, "--steps", "120"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "gradcheck(GELU): True"
    losses = [float(line.split()[-1]) for line in lines if line.startswith("step")]
    assert losses[-1] < losses[0]
    accuracy = float(lines[-1].split()[-1])
    assert accuracy > 0.9


def _readme_blocks(section):
    """The ```python blocks of a README section."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "README.md")).read()
    body = text.split("## " + section, 1)[1].split("\n## ", 1)[0]
    return [b.split("```", 1)[0] for b in body.split("```python\n")[1:]]


def test_readme_swish_runs_and_its_gradient_is_right():
    ns = {}
    for block in _readme_blocks("Writing an Operation"):
        exec(block, ns)
    x = np.random.default_rng(3).normal(size=(3, 4))
    assert testing.gradcheck(ns["swish"], [x])


def test_readme_usage_example_runs():
    ns = {}
    for block in _readme_blocks("Using it"):
        exec(block, ns)
    assert ns["w"].shape == (4, 3)
