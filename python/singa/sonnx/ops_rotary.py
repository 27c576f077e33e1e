"""Handler for ONNX's RotaryEmbedding (opset 23): each pair of features of a head is
rotated by the angle cached for its position, composed from autograd operations."""

from .. import autograd
from .registry import register

__all__ = []


def _halves(x, dim, interleaved):
    """The two members of each rotated pair along the last axis: even and odd features
    when interleaved, else the first and second half of the first ``dim`` features."""
    last = x.ndim() - 1
    if interleaved:
        return (autograd.slice(x, [0], [dim], [last], [2]),
                autograd.slice(x, [1], [dim], [last], [2]))
    return (autograd.slice(x, [0], [dim // 2], [last]),
            autograd.slice(x, [dim // 2], [dim], [last]))


@register("RotaryEmbedding")
def _rotary_embedding(node, ins):
    x, cos, sin = ins.t(0), ins.t(1), ins.t(2)
    interleaved = bool(node.getattr("interleaved", 0))
    if x.ndim() == 4:  # (B, heads, S, size) -> (B, S, heads, size)
        xs = autograd.transpose(x, [0, 2, 1, 3])
    elif x.ndim() == 3:
        heads = node.getattr("num_heads", 0)
        if not heads or x.shape[2] % heads:
            raise node.error("a 3-D input of shape {} needs num_heads dividing its last axis, "
                             "got num_heads={}".format(x.shape, heads))
        xs = autograd.reshape(x, [x.shape[0], x.shape[1], heads, x.shape[2] // heads])
    else:
        raise node.error("input must be 3-D or 4-D, got shape {}".format(x.shape))
    size = xs.shape[3]
    dim = node.getattr("rotary_embedding_dim", 0) or size
    if dim % 2 or dim > size:
        raise node.error("rotary_embedding_dim {} must be even and at most the head size {}"
                         .format(dim, size))
    if ins.has(3):  # caches indexed by position: (max_pos, dim/2) -> (B, S, dim/2)
        pos = ins.t(3)
        cos, sin = autograd.gather(cos, 0, pos), autograd.gather(sin, 0, pos)
    if cos.shape[-1] != dim // 2 or sin.shape[-1] != dim // 2:
        raise node.error("caches of shapes {} and {} need a last axis of {} (half of "
                         "rotary_embedding_dim)".format(cos.shape, sin.shape, dim // 2))
    # (B, S, dim/2) -> (B, S, 1, dim/2): one angle for every head.
    cos = autograd.reshape(cos, [cos.shape[0], cos.shape[1], 1, dim // 2])
    sin = autograd.reshape(sin, [sin.shape[0], sin.shape[1], 1, dim // 2])
    x1, x2 = _halves(xs, dim, interleaved)
    real = autograd.sub(autograd.mul(cos, x1), autograd.mul(sin, x2))
    imag = autograd.add(autograd.mul(sin, x1), autograd.mul(cos, x2))
    b, s, h = xs.shape[:3]
    if interleaved:
        pairs = [autograd.reshape(t, [b, s, h, dim // 2, 1]) for t in (real, imag)]
        rotated = autograd.reshape(autograd.cat(pairs, 4), [b, s, h, dim])
    else:
        rotated = autograd.cat([real, imag], 3)
    if dim < size:
        rotated = autograd.cat([rotated, autograd.slice(xs, [dim], [size], [3])], 3)
    if x.ndim() == 3:
        return autograd.reshape(rotated, list(x.shape))
    return autograd.transpose(rotated, [0, 2, 1, 3])
