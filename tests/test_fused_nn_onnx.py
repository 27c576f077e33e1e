"""ONNX export of the fused Operations (Conv2d / BatchNorm2d with activation='RELU'): the
Conv + Relu and BatchNormalization + Relu pairs, checked in onnxruntime and imported back."""

import numpy as np
import pytest

from singa import autograd, layer, sonnx, tensor

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from _sonnx_export import export_and_compare  # noqa: E402


def _randn(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_onnx_export_round_trip():
    x = _randn((2, 3, 6, 6), 13).astype(np.float32)
    conv = layer.Conv2d(5, 3, padding=1, activation="RELU")
    bn = layer.BatchNorm2d(activation="RELU")
    xt = tensor.from_numpy(x)
    with autograd.train(True):
        bn(conv(xt))  # creates the parameters and moves the running statistics
    bn.scale.copy_from_numpy(np.linspace(0.5, 1.5, 5).astype(np.float32))
    model, worst = export_and_compare(lambda t: bn(conv(t)), [x])
    assert worst < 1e-4
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Relu") == 2 and "Conv" in ops and "BatchNormalization" in ops
    # import (the pairs stay unfused there) gives the same numbers
    rep = sonnx.prepare(model, device="CPU")
    with autograd.train(False):
        want = tensor.to_numpy(bn(conv(xt)))
        got = rep.run([x])[0]
    np.testing.assert_allclose(tensor.to_numpy(got) if isinstance(got, tensor.Tensor) else got,
                               want, rtol=1e-4, atol=1e-4)
