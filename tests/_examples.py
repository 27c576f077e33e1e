"""Loads an example script as a module, so tests can call its main() and classes."""

import importlib.util
import os

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples")


def example_path(group, name):
    """examples/<group>/<name>.py"""
    return os.path.join(EXAMPLES, group, name + ".py")


def load_example(group, name):
    """Imports examples/<group>/<name>.py under a private module name."""
    spec = importlib.util.spec_from_file_location("example_{}_{}".format(group, name),
                                                  example_path(group, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
