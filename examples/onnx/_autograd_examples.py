"""Loads a script of examples/autograd by path, so the ONNX examples reuse its model and
data preparation without that folder being a package."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    """examples/autograd/<name>.py as a module (its models and helpers)."""
    path = os.path.join(HERE, os.pardir, "autograd", name + ".py")
    spec = importlib.util.spec_from_file_location("_autograd_{}_example".format(name), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
