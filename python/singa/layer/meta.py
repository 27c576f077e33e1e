"""SINGA's ``LayerMeta``, for scripts that name it.

Our :class:`~singa.layer.Layer` has no metaclass: ``Layer.__call__`` runs ``initialize``
with the first inputs and then ``forward`` (design guide, "A layer"). ``LayerMeta`` gives
a class that asks for it (``class L(Layer, metaclass=LayerMeta)``) SINGA's wrapped
methods as well: ``initialize`` runs only when it is given inputs and marks the layer
initialized, and ``forward`` called directly on a fresh layer initializes it first. Both
keep the ``_initialized`` flag that ``Layer.__call__`` reads, so the two paths agree and
nothing runs twice.
"""

import functools

from ..tensor import Tensor

__all__ = ["LayerMeta"]


def _first_tensor(args):
    first = args[0][0] if isinstance(args[0], (list, tuple)) and args[0] else args[0]
    if not isinstance(first, Tensor):
        raise TypeError("initialize expects Tensors (or a list of Tensors) as inputs, got {}"
                        .format(type(first).__name__))
    return first


class LayerMeta(type):
    """A metaclass that wraps a class's own ``initialize`` and ``forward`` (see the
    module docstring)."""

    def __new__(mcs, name, bases, attrs):
        if "initialize" in attrs:
            attrs["initialize"] = mcs.init_wrapper(attrs["initialize"])
        if "forward" in attrs:
            attrs["forward"] = mcs.forward_wrapper(attrs["forward"])
        return super(LayerMeta, mcs).__new__(mcs, name, bases, attrs)

    @staticmethod
    def init_wrapper(func):
        """``initialize`` that does nothing without inputs, checks that its first input
        is a Tensor (or a list of them), and marks the layer initialized."""
        @functools.wraps(func)
        def initialize(self, *args, **kwargs):
            if not args:
                return None
            _first_tensor(args)
            out = func(self, *args, **kwargs)
            self._initialized = True
            return out
        return initialize

    @staticmethod
    def forward_wrapper(func):
        """``forward`` that first initializes a layer not yet initialized, with the
        same inputs."""
        @functools.wraps(func)
        def forward(self, *args, **kwargs):
            if not getattr(self, "_initialized", False):
                self.initialize(*args, **kwargs)
                self._initialized = True
            return func(self, *args, **kwargs)
        return forward
