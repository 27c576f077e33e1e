"""Shared pytest configuration.

The core tests (test_core_*.py) compare every function bound in ``singa_wrap``
against NumPy. They import ``singa`` from wherever Python finds it: the installed
package in CI, or ``python/`` when run with ``PYTHONPATH=python`` during development.

``SINGA_SANITIZED=1`` (set by the ASan/UBSan stage of ``.ci/run``; docs/contributing.md
says how to run it locally) leaves out the tests that load PyTorch, onnxruntime or MPI:
those are large prebuilt libraries the sanitizers do not instrument (MPI also starts
processes of its own), so under ASan they would cost minutes of the stage's 2-core budget
and check none of their own code. They are found without importing them, so a new test
file is left out as soon as it names one:
- a test file that imports torch / onnxruntime / mpi4py (``import``, ``from``, or
  ``pytest.importorskip``), directly or through a helper module beside it in tests/,
  or that names an MPI launcher (``mpiexec``, ``mpirun``) outside a docstring, is not
  imported and reports as one skip;
- an import of one of them that happens anyway (say through a package the test imports)
  skips the test, or the whole module when it happens while the module is collected;
- ``@pytest.mark.unsanitized("why")`` deselects a test explicitly.
"""
import ast
import importlib.abc
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

# Under pytest-xdist (`pytest -n 2`, the README's test command) two workers share the cores,
# and each singa starts an OpenMP team as wide as the machine: an idle team's threads then
# spin on cores the other worker needs. Passive waiting gives those cores back; libgomp
# reads the variable once, when the extension loads it (the import below).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from singa import autograd  # noqa: E402  (after the OpenMP setting above)

SANITIZED = os.environ.get("SINGA_SANITIZED") == "1"
LEFT_OUT_PACKAGES = {"torch": "PyTorch", "onnxruntime": "onnxruntime", "mpi4py": "MPI (mpi4py)"}
MPI_LAUNCHER = re.compile(r"\bmpi(exec|run)\b")
IMPORTING_CALLS = {"importorskip", "import_module", "__import__"}


def _callee_name(func):
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _imported_names(node):
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.level == 0 and node.module else []
    if (isinstance(node, ast.Call) and node.args and _callee_name(node.func) in IMPORTING_CALLS
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def _left_out_loads(path, seen):
    """What a test file, or a tests/ helper it imports, loads of the left-out libraries."""
    if path in seen:
        return set()
    seen.add(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()  # collecting it reports the problem
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    found = set()
    for node in ast.walk(tree):
        for name in _imported_names(node):
            top = name.split(".")[0]
            if top in LEFT_OUT_PACKAGES:
                found.add(LEFT_OUT_PACKAGES[top])
            helper = path.parent / f"{top}.py"
            if helper.is_file():
                found |= _left_out_loads(helper, seen)
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and MPI_LAUNCHER.search(node.value)):
            found.add("MPI (launches mpiexec)")
    return found


class _SkipOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Turns an import of a left-out package into a skip (module-level during collection)."""

    def find_spec(self, name, path=None, target=None):
        if name in LEFT_OUT_PACKAGES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        raise pytest.skip.Exception(
            f"imports {spec.name} ({LEFT_OUT_PACKAGES[spec.name]}), which the sanitized "
            "stage leaves out (SINGA_SANITIZED=1)", allow_module_level=True)

    def exec_module(self, module):
        raise AssertionError("create_module always raises")


def pytest_configure(config):
    if SANITIZED:
        sys.meta_path.insert(0, _SkipOnImport())


class _LeftOutFile(pytest.File):
    """A test file the sanitized stage does not import: it reports as one skip."""

    def collect(self):
        pytest.skip(f"{self.path.name} loads {self.loads}, which the sanitized stage leaves out "
                    "(SINGA_SANITIZED=1)", allow_module_level=True)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if not SANITIZED:
        return None
    loads = _left_out_loads(Path(module_path), set())
    if not loads:
        return None
    left_out = _LeftOutFile.from_parent(parent, path=module_path)
    left_out.loads = ", ".join(sorted(loads))
    return left_out


def pytest_collection_modifyitems(config, items):
    if not SANITIZED:
        return
    marked = [item for item in items if item.get_closest_marker("unsanitized")]
    if marked:
        config.hook.pytest_deselected(items=marked)
        items[:] = [item for item in items if not item.get_closest_marker("unsanitized")]


def pytest_report_header(config):
    if SANITIZED:
        return ["sanitized stage (SINGA_SANITIZED=1): tests loading PyTorch, onnxruntime or "
                "MPI, and those marked unsanitized, are left out"]
    return None



@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(1234)


@pytest.fixture
def recording():
    """Autograd records the graph during the test (``_default_modes`` switches it off
    again); a module that needs it throughout sets
    ``pytestmark = pytest.mark.usefixtures("recording")``."""
    autograd.training = True


@pytest.fixture(autouse=True)
def _default_modes():
    """Every test starts from SINGA's defaults (grad and training mode off, no thread
    override) whatever an earlier test switched, and leaves them so."""
    def reset():
        autograd.training = False
        autograd.mode.reset_thread_overrides()
    reset()
    yield
    reset()
