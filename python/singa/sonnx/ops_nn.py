"""Handlers for ONNX's convolution, pooling, normalisation and dropout operators."""


from .. import autograd
from .. import singa_wrap as singa
from .. import tensor as tensor_mod
from ..autograd import Operation
from ..autograd.mode import is_train_mode
from .ops_math import ReduceExtremum, affine
from .ops_window import window_pool
from .registry import register

__all__ = ["ConvTranspose2d"]


def _spatial(node, ins, x, kernel):
    """(strides, dilations, [top, bottom, left, right]) for a 2-D window over x (NCHW)
    under the node's pads/auto_pad attributes."""
    nd = len(kernel)
    strides = list(node.getattr("strides", [1] * nd))
    dilations = list(node.getattr("dilations", [1] * nd))
    auto_pad = node.getattr("auto_pad", "NOTSET")
    size = list(x.shape[2:])
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for n, k, s, d in zip(size, kernel, strides, dilations):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            small = total // 2
            big = total - small
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
    else:
        pads = list(node.getattr("pads", [0] * (2 * nd)))
        begin, end = pads[:nd], pads[nd:]
    return strides, dilations, begin, end


def _as_2d(node, x, what):
    """x with one spatial axis becomes (N, C, 1, L); 2-D stays; others are refused."""
    if x.ndim() == 3:
        return autograd.reshape(x, [x.shape[0], x.shape[1], 1, x.shape[2]]), True
    if x.ndim() != 4:
        raise node.error("{} over {} spatial axes is not supported (1-D and 2-D are)".format(
            what, x.ndim() - 2))
    return x, False


def _cached(node, key, build):
    cache = node.__dict__.setdefault("_handles", {})
    if key not in cache:
        cache[key] = build()
    return cache[key]


@register("Conv")
def _conv(node, ins):
    x, w, b = ins.t(0), ins.t(1), ins.t(2)
    kernel = list(node.getattr("kernel_shape", w.shape[2:]))
    strides, dilations, begin, end = _spatial(node, ins, x, kernel)
    x, one_d = _as_2d(node, x, "Conv")
    if one_d:
        w = autograd.reshape(w, [w.shape[0], w.shape[1], 1, w.shape[2]])
        kernel, strides, dilations = [1] + kernel, [1] + strides, [1] + dilations
        begin, end = [0] + begin, [0] + end
    group = node.getattr("group", 1)
    pads = [begin[0], end[0], begin[1], end[1]]
    key = (tuple(x.shape), tuple(w.shape), b is not None)
    handle = _cached(node, key, lambda: singa.ConvHandle(
        x.data, kernel, strides, pads, x.shape[1], w.shape[0], b is not None, group,
        dilations))
    op = autograd._Conv2d(handle)
    y = op(x, w)[0] if b is None else op(x, w, b)[0]
    if one_d:
        y = autograd.reshape(y, [y.shape[0], y.shape[1], y.shape[3]])
    return y


def _pool(node, ins, is_max):
    x = ins.t(0)
    kernel = list(node.getattr("kernel_shape"))
    strides, dilations, begin, end = _spatial(node, ins, x, kernel)
    if node.uses_output(1):
        raise node.error("the Indices output is not supported")
    if any(d != 1 for d in dilations) or x.ndim() not in (3, 4) or \
            (not is_max and node.getattr("ceil_mode", 0)):
        return window_pool(node, x, "max" if is_max else "avg")
    x, one_d = _as_2d(node, x, node.op_type)
    if one_d:
        kernel, strides, begin, end = [1] + kernel, [1] + strides, [0] + begin, [0] + end
    if node.getattr("ceil_mode", 0):
        # Extra end padding makes the floor-rounded output size the ceil-rounded one.
        if not is_max:
            raise node.error("ceil_mode is supported for MaxPool only")
        for i, n in enumerate(x.shape[2:]):
            span = n + begin[i] + end[i] - kernel[i]
            out = -(-span // strides[i]) + 1
            if (out - 1) * strides[i] >= n + begin[i]:
                out -= 1
            end[i] += max((out - 1) * strides[i] + kernel[i] - (n + begin[i] + end[i]), 0)
    pads = [begin[0], end[0], begin[1], end[1]]
    include_pad = bool(node.getattr("count_include_pad", 0))
    key = tuple(x.shape)
    handle = _cached(node, key, lambda: singa.PoolingHandle(
        x.data, kernel, strides, pads, is_max, include_pad))
    y = autograd._Pooling2d(handle)(x)[0]
    if one_d:
        y = autograd.reshape(y, [y.shape[0], y.shape[1], y.shape[3]])
    return y


@register("MaxPool")
def _maxpool(node, ins):
    return _pool(node, ins, True)


@register("AveragePool")
def _avgpool(node, ins):
    return _pool(node, ins, False)


@register("GlobalAveragePool")
def _global_avgpool(node, ins):
    x = ins.t(0)
    return autograd.reduce_mean(x, list(range(2, x.ndim())), 1)


@register("GlobalMaxPool")
def _global_maxpool(node, ins):
    x = ins.t(0)
    return ReduceExtremum(list(range(2, x.ndim())), True)(x)[0]


@register("BatchNormalization")
def _batchnorm(node, ins):
    x, scale, bias, mean, var = (ins.t(i) for i in range(5))
    if node.getattr("training_mode", 0) or node.uses_output(1) or node.uses_output(2):
        raise node.error("training_mode outputs (running mean/var) are not supported; "
                         "singa updates the running statistics in place when training")
    shape = list(x.shape)
    if x.ndim() != 4:
        if x.ndim() < 2:
            raise node.error("input of rank {} (need N, C, ...)".format(x.ndim()))
        rest = 1
        for s in shape[2:-1]:
            rest *= s
        tail = shape[-1] if x.ndim() > 2 else 1
        x = autograd.reshape(x, [shape[0], shape[1], rest, tail])
    momentum = node.getattr("momentum", 0.9)
    eps = node.getattr("epsilon", 1e-5)

    def build():
        h = singa.BatchNormHandle(momentum, x.data)
        h.eps = eps
        return h
    handle = _cached(node, tuple(x.shape), build)
    y = autograd.batchnorm_2d(handle, x, scale, bias, mean, var)
    return y if y.ndim() == len(shape) and list(y.shape) == shape else autograd.reshape(y, shape)


@register("LRN")
def _lrn(node, ins):
    return autograd.lrn(ins.t(0), node.getattr("size"), node.getattr("alpha", 1e-4),
                        node.getattr("beta", 0.75), node.getattr("bias", 1.0))


@register("Dropout")
def _dropout(node, ins):
    if node.opset is not None and node.opset >= 12:
        ratio = float(ins.host(1, "ratio")) if ins.has(1) else 0.5
        training = bool(ins.host(2, "training_mode")) if ins.has(2) else False
    else:
        ratio, training = node.getattr("ratio", 0.5), False
    x = ins.t(0)
    if node.uses_output(1):
        if ratio > 0 and (training or is_train_mode()):
            raise node.error("the mask output of a dropout that drops is not supported")
        # Nothing is dropped: the output is x and the mask keeps every element.
        keep = tensor_mod.Tensor(tuple(x.shape), x.device, tensor_mod.bool_,
                                 requires_grad=False)
        keep.set_value(1)
        return autograd.identity(x), keep
    # The graph's own training_mode input asks for dropout even at inference.
    if training:
        with autograd.train(True):
            return autograd.dropout(x, ratio=ratio)
    return autograd.dropout(x, ratio=ratio)


def _normalise(x, axes, eps):
    mean = autograd.reduce_mean(x, axes, 1)
    centred = autograd.sub(x, mean)
    var = autograd.reduce_mean(autograd.mul(centred, centred), axes, 1)
    inv_std = autograd.reciprocal(autograd.sqrt(affine(var, 1.0, eps)))
    return autograd.mul(centred, inv_std), mean, inv_std


@register("InstanceNormalization")
def _instancenorm(node, ins):
    x, scale, bias = ins.t(0), ins.t(1), ins.t(2)
    y, _, _ = _normalise(x, list(range(2, x.ndim())), node.getattr("epsilon", 1e-5))
    shape = [1, x.shape[1]] + [1] * (x.ndim() - 2)
    return autograd.add(autograd.mul(y, autograd.reshape(scale, shape)),
                        autograd.reshape(bias, shape))


@register("LayerNormalization")
def _layernorm(node, ins):
    x, scale, bias = ins.t(0), ins.t(1), ins.t(2)
    axis = node.getattr("axis", -1) % x.ndim()
    y, mean, inv_std = _normalise(x, list(range(axis, x.ndim())), node.getattr("epsilon", 1e-5))
    y = autograd.mul(y, scale)
    if bias is not None:
        y = autograd.add(y, bias)
    return y, mean, inv_std


@register("Flatten")
def _flatten(node, ins):
    x = ins.t(0)
    axis = node.getattr("axis", 1)
    return autograd.flatten(x, axis % x.ndim() if axis < 0 else axis)




class ConvTranspose2d(Operation):
    """Transposed 2-D convolution: the input-gradient of the convolution ``handle``
    describes (whose input has the transposed convolution's output shape)."""

    def __init__(self, handle, out_shape):
        super().__init__()
        self.handle, self.out_shape = handle, list(out_shape)

    def forward(self, x, W):
        x, W = singa.Contiguous(x), singa.Contiguous(W)
        like = singa.Tensor(self.out_shape, x.device(), x.data_type())
        self.save(x=x, W=W, like=like)
        return singa.CpuConvBackwardx(x, W, like, self.handle)

    def backward(self, dy):
        dy = singa.Contiguous(dy)
        dx = singa.CpuConvForward(dy, self.W, None, self.handle) if self.needs_grad(0) else None
        dW = singa.CpuConvBackwardW(self.x, dy, self.W, self.handle) if self.needs_grad(1) \
            else None
        return dx, dW


@register("ConvTranspose")
def _conv_transpose(node, ins):
    x, w, b = ins.t(0), ins.t(1), ins.t(2)
    x, one_d = _as_2d(node, x, "ConvTranspose")
    if one_d:
        w = autograd.reshape(w, [w.shape[0], w.shape[1], 1, w.shape[2]])
    nd = 2
    lift = (lambda v, pad: [pad] + list(v)) if one_d else (lambda v, pad: list(v))
    kernel = lift(node.getattr("kernel_shape", w.shape[2 + one_d:]), 1)
    strides = lift(node.getattr("strides", [1] * (nd - one_d)), 1)
    dilations = lift(node.getattr("dilations", [1] * (nd - one_d)), 1)
    out_pad = lift(node.getattr("output_padding", [0] * (nd - one_d)), 0)
    group = node.getattr("group", 1)
    size = list(x.shape[2:])
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [s * (n - 1) + o + e for s, n, o, e in zip(strides, size, out_pad, span)]
    auto_pad = node.getattr("auto_pad", "NOTSET")
    wanted = node.getattr("output_shape")
    if wanted is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = lift(wanted, 1) if wanted is not None else \
            [n * s for n, s in zip(size, strides)]
        total = [f - t for f, t in zip(full, target)]
        if any(t < 0 for t in total):
            raise node.error("output_shape {} is larger than the kernel covers".format(wanted))
        if auto_pad == "SAME_UPPER":
            begin = [t // 2 for t in total]
        else:
            begin = [t - t // 2 for t in total]
        end = [t - bg for t, bg in zip(total, begin)]
    elif auto_pad == "VALID":
        begin = end = [0, 0]
    else:
        pads = list(node.getattr("pads", [0] * (2 * (nd - one_d))))
        half = len(pads) // 2
        begin, end = lift(pads[:half], 0), lift(pads[half:], 0)
    out_hw = [f - bg - e for f, bg, e in zip(full, begin, end)]
    c_out = w.shape[1] * group
    out_shape = [x.shape[0], c_out] + out_hw
    key = (tuple(x.shape), tuple(w.shape))
    handle = _cached(node, key, lambda: singa.ConvHandle(
        out_shape, kernel, strides, [begin[0], end[0], begin[1], end[1]], c_out,
        w.shape[0], False, group, dilations))
    y = ConvTranspose2d(handle, out_shape)(x, w)[0]
    if b is not None:
        y = autograd.add(y, autograd.reshape(b, [1, c_out, 1, 1]))
    if one_d:
        y = autograd.reshape(y, [y.shape[0], y.shape[1], y.shape[3]])
    return y


@register("RMSNormalization")
def _rmsnorm(node, ins):
    x, scale = ins.t(0), ins.t(1)
    axes = list(range(node.getattr("axis", -1) % x.ndim(), x.ndim()))
    mean_square = autograd.reduce_mean(autograd.mul(x, x), axes, 1)
    inv = autograd.reciprocal(autograd.sqrt(affine(mean_square, 1.0, node.getattr("epsilon",
                                                                                   1e-5))))
    return autograd.mul(autograd.mul(x, inv), scale)


@register("LpNormalization")
def _lpnorm(node, ins):
    x = ins.t(0)
    axis = node.getattr("axis", -1) % x.ndim()
    p = node.getattr("p", 2)
    if p == 1:
        norm = autograd.reduce_sum(autograd.abs(x), [axis], 1)
    elif p == 2:
        norm = autograd.sqrt(autograd.reduce_sum(autograd.mul(x, x), [axis], 1))
    else:
        raise node.error("p must be 1 or 2, got {}".format(p))
    return autograd.div(x, norm)


@register("GroupNormalization")
def _groupnorm(node, ins):
    x, scale, bias = ins.t(0), ins.t(1), ins.t(2)
    groups = node.getattr("num_groups")
    n, c = x.shape[0], x.shape[1]
    grouped = autograd.reshape(x, [n, groups, x.size() // (n * groups)])
    y, _, _ = _normalise(grouped, [2], node.getattr("epsilon", 1e-5))
    y = autograd.reshape(y, list(x.shape))
    shape = [1, c] + [1] * (x.ndim() - 2)
    if (node.opset or 21) < 21:
        # Before opset 21 scale and bias hold one value per group.
        scale = autograd.reshape(autograd.expand(autograd.reshape(scale, [groups, 1]),
                                                 [groups, c // groups]), [c])
        bias = autograd.reshape(autograd.expand(autograd.reshape(bias, [groups, 1]),
                                                [groups, c // groups]), [c])
    return autograd.add(autograd.mul(y, autograd.reshape(scale, shape)),
                        autograd.reshape(bias, shape))


@register("MeanVarianceNormalization")
def _mvn(node, ins):
    x = ins.t(0)
    axes = [a % x.ndim() for a in node.getattr("axes", [0, 2, 3])]
    # ONNX's function divides by sqrt(var) + 1e-9 (not sqrt(var + eps)).
    mean = autograd.reduce_mean(x, axes, 1)
    centred = autograd.sub(x, mean)
    std = autograd.sqrt(autograd.reduce_mean(autograd.mul(centred, centred), axes, 1))
    return autograd.div(centred, affine(std, 1.0, 1e-9))
