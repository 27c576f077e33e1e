"""ONNX export and import (SINGA's ``singa.sonnx``)."""

from .export import to_onnx, register_export, SingaFrontend, save

__all__ = ["to_onnx", "register_export", "SingaFrontend", "save"]
