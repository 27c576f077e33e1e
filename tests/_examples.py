"""Loads a script as a module (an example, or a fixture builder in tests/data), so tests
can call its functions and classes."""

import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, os.pardir, "examples")
DATA = os.path.join(HERE, "data")


def example_path(group, name):
    """examples/<group>/<name>.py"""
    return os.path.join(EXAMPLES, group, name + ".py")


def _load(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_example(group, name):
    """Imports examples/<group>/<name>.py under a private module name."""
    return _load(example_path(group, name), "example_{}_{}".format(group, name))


def load_data_script(name):
    """Imports tests/data/<name>.py (the scripts that build the committed fixtures)."""
    return _load(os.path.join(DATA, name + ".py"), name)
