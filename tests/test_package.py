"""The package's shape: every module declares its public API, imports point down,
files stay small."""

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

import singa

PKG = pathlib.Path(singa.__file__).parent
ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULES = sorted(p for p in PKG.rglob("*.py"))

# Imports inside functions, each with its reason. Anything else importing singa code
# inside a function is an upward import in disguise (or a needless lazy one).
LAZY_IMPORTS = {
    ("autograd/__init__.py", "__getattr__", "layer"): "SINGA's autograd.Linear-style aliases",
    ("data/shards.py", "__getattr__", "_shard_writer"): "the writer moved to write_shards.py",
    ("data/write_shards.py", "main", "mnist"): "the CLI's optional data sets",
    ("data/write_shards.py", "main", "cifar10"): "the CLI's optional data sets",
    ("classic/cluster.py", "num_samples", "data"): "shards only when a job uses them",
    ("classic/cluster.py", "_store_batches", "data"): "shards only when a job uses them",
    ("fit.py", "_as_batches", "data.loader"): "arrays given to fit are batched on demand",
    ("config.py", "core_knobs", "singa_wrap"): "the core's knobs, read after the extension loads",
    ("opt.py", "__getattr__", "dist.distopt"): "DistOpt builds on opt (SINGA's opt.DistOpt)",
}


def _rel(p):
    return p.relative_to(PKG).as_posix()


def _module_name(p):
    parts = ["singa"] + list(p.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_every_module_declares_all_and_it_holds(path):
    tree = ast.parse(path.read_text())
    declared = [n for n in tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in n.targets)]
    assert declared, "{} has no __all__".format(_rel(path))
    mod = importlib.import_module(_module_name(path))
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, missing


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_function_level_imports_are_the_listed_lazy_ones(path):
    found = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (
                    node.level > 0 or (node.module or "").startswith("singa")):
                what = node.module or ",".join(a.name for a in node.names)
                key = (_rel(path), fn.name, what)
                if key not in LAZY_IMPORTS:
                    found.append(key)
    assert not found, "imports inside functions (import at module level, or list the " \
                      "reason in LAZY_IMPORTS): {}".format(found)


def test_tensor_does_not_pull_in_autograd():
    code = ("import sys, singa.tensor as t; x = t.Tensor((2,)); "
            "assert 'singa.autograd' not in sys.modules, 'tensor imported autograd'; "
            "assert x.creator is None  # no factory registered without autograd")
    subprocess.run([sys.executable, "-c", code], check=True)


def _sources(patterns):
    for pattern in patterns:
        yield from sorted(ROOT.glob(pattern))


def test_no_python_file_over_800_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in _sources(["python/**/*.py"])
            if (n := len(p.read_text().splitlines())) > 800}
    assert not long, long


def test_no_cpp_file_over_600_lines():
    files = list(_sources(["src/**/*.cc", "src/**/*.h", "src/**/*.cu", "src/**/*.cuh"]))
    assert files, "no C++ sources found under src/"
    long = {p.relative_to(ROOT).as_posix(): n for p in files
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long
