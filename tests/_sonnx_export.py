"""Shared by the export tests (which import it after pytest.importorskip of onnx and
onnxruntime): trace a function of singa Tensors, export it, and compare
onnxruntime's outputs with singa's."""

import numpy as np
import onnx
import onnxruntime as ort

from singa import autograd, sonnx, tensor


def trace(fn, tensors):
    """fn(*tensors) with the graph recorded and inference behaviour; a list of outputs."""
    with autograd.set_grad_enabled(True), autograd.train(False):
        ys = fn(*tensors)
    return list(ys) if isinstance(ys, (list, tuple)) else [ys]


def run_ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def export_and_compare(fn, arrays, atol=1e-4, rtol=1e-4, **export_args):
    """Traces fn on Tensors made from ``arrays``, exports, checks the model with onnx's
    full checker, runs it in onnxruntime and compares every output with singa's.
    Returns (model, largest absolute difference)."""
    xs = [tensor.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    ys = trace(fn, xs)
    model = sonnx.to_onnx(xs, ys, **export_args)
    onnx.checker.check_model(model, full_check=True)
    names = [i.name for i in model.graph.input]
    outs = run_ort(model, {n: a for n, a in zip(names, arrays)})
    assert len(outs) == len(ys)
    worst = 0.0
    for got, y in zip(outs, ys):
        want = tensor.to_numpy(y)
        assert got.shape == want.shape, (got.shape, want.shape)
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol)
        if want.size:
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - want))))
    return model, worst
