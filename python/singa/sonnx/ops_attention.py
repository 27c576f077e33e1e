"""Handler for ONNX's Attention (opset 23+): scaled dot-product attention with an
optional mask, causal or sliding-window bias, key/value cache, grouped heads and
softcap, composed from autograd operations."""

import math

import numpy as np

from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..tensor import Tensor
from .ops_logic import BoolResult
from .ops_math import affine
from .registry import register

__all__ = []


def _heads(t, num_heads):
    """(B, S, heads * size) -> (B, heads, S, size)."""
    b, s, hidden = t.shape
    return autograd.transpose(autograd.reshape(t, [b, s, num_heads, hidden // num_heads]),
                              [0, 2, 1, 3])


def _repeat_heads(t, times):
    b, h, s, d = t.shape
    t = autograd.expand(autograd.reshape(t, [b, h, 1, s, d]), [b, h, times, s, d])
    return autograd.reshape(t, [b, h * times, s, d])


def _geometry_bias(node, q_len, kv_len, offset):
    """The causal and sliding-window bias (0 where attended, -inf where not), or None."""
    causal = bool(node.getattr("is_causal", 0))
    left = node.getattr("left_window_size", -1)
    right = node.getattr("right_window_size", -1)
    if not causal and left < 0 and right < 0:
        return None
    diff = (np.arange(q_len)[:, None] + offset) - np.arange(kv_len)[None, :]
    allowed = np.ones(diff.shape, bool)
    if causal:
        allowed &= diff >= 0
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    return np.where(allowed, 0.0, -np.inf)


def _bias_from_allowed(allowed, dtype):
    """0 where ``allowed`` (a bool tensor) holds, -inf elsewhere, in ``dtype``."""
    np_type = tensor_mod._DTYPE_TO_NP[dtype]
    shape = tuple(allowed.shape)
    zero = Tensor(device=allowed.device, data=np.zeros(shape, np_type), dtype=dtype,
                  requires_grad=False)
    blocked = Tensor(device=allowed.device, data=np.full(shape, -np.inf, np_type), dtype=dtype,
                     requires_grad=False)
    return autograd.where(zero, blocked, allowed)


@register("Attention")
def _attention(node, ins):
    q, k, v = ins.t(0), ins.t(1), ins.t(2)
    mask, past_k, past_v = ins.t(3), ins.t(4), ins.t(5)
    three_d = q.ndim() == 3
    if three_d:
        q = _heads(q, node.getattr("q_num_heads"))
        k = _heads(k, node.getattr("kv_num_heads"))
        v = _heads(v, node.getattr("kv_num_heads"))
    scale = node.getattr("scale")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[3])
    if past_k is not None:
        k = autograd.cat([past_k, k], 2)
        v = autograd.cat([past_v, v], 2)
    present_k, present_v = k, v
    q_len, kv_len = q.shape[2], k.shape[2]
    if q.shape[1] != k.shape[1]:
        k = _repeat_heads(k, q.shape[1] // k.shape[1])
        v = _repeat_heads(v, q.shape[1] // v.shape[1])
    root = math.sqrt(scale)
    qk = autograd.matmul(affine(q, root), autograd.transpose(affine(k, root), [0, 1, 3, 2]))
    softcap = node.getattr("softcap", 0.0)
    if softcap and softcap > 0:
        qk = affine(autograd.tanh(affine(qk, 1.0 / softcap)), softcap)
    scores = qk
    if mask is not None and mask.dtype == tensor_mod.bool_:
        # A bool mask says which keys may be attended: 0 there, -inf elsewhere.
        mask = _bias_from_allowed(mask, q.dtype)
    if ins.has(6):
        # nonpad_kv_seqlen: key j of batch b counts only while j < length[b].
        lengths = autograd.reshape(ins.t(6), [ins.t(6).shape[0], 1, 1, 1])
        positions = Tensor(device=q.device, data=np.arange(kv_len, dtype=np.int64).reshape(
            1, 1, 1, kv_len), dtype=tensor_mod.int64, requires_grad=False)
        allowed = BoolResult(singa.LTBool, "Attention")(positions, lengths)[0]
        scores = autograd.add(scores, _bias_from_allowed(allowed, q.dtype))
    if mask is not None:
        short = kv_len - mask.shape[-1]
        if short > 0:
            pads = [0] * (2 * mask.ndim())
            pads[2 * mask.ndim() - 1] = short
            mask = autograd.pad(mask, "constant", pads, -np.inf)
        scores = autograd.add(scores, mask)
    bias = _geometry_bias(node, q_len, kv_len, past_k.shape[2] if past_k is not None else 0)
    if bias is not None:
        np_type = np.float64 if q.dtype == 4 else np.float32
        scores = autograd.add(scores, Tensor(device=q.device, data=bias.astype(np_type),
                                             dtype=q.dtype, requires_grad=False))
    probs = autograd.softmax(scores, 3)
    if bias is not None and mask is None and np.isneginf(bias.max(axis=1)).any():
        # Rows that may attend nothing give zeros, as the specification says.
        keep = (~np.isneginf(bias.max(axis=1, keepdims=True))).astype(bias.dtype)
        probs = autograd.mul(probs, Tensor(device=q.device, data=keep.astype(
            np.float64 if q.dtype == 4 else np.float32), dtype=q.dtype, requires_grad=False))
    y = autograd.matmul(probs, v)
    if three_d:
        y = autograd.transpose(y, [0, 2, 1, 3])
        y = autograd.reshape(y, [y.shape[0], y.shape[1], y.shape[2] * y.shape[3]])
    mode = node.getattr("qk_matmul_output_mode", 0)
    extra = {2: scores, 3: probs}.get(mode, qk)
    return y, present_k, present_v, extra
