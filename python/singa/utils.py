"""SINGA's ``singa.utils``: a console progress bar, the ONNX padding arithmetic of
convolution and pooling (output shapes, SAME padding split into a symmetric part and
the odd remainder), rebuilding a conv/pool handle for a new input shape, and the
post-order walk of a recorded graph that ONNX export uses."""

import sys
from collections import OrderedDict

from . import singa_wrap as singa
from .autograd.engine import Dummy

__all__ = ["update_progress", "handle_odd_pad_fwd", "handle_odd_pad_bwd",
           "same_pad_shape_check", "re_new_handle", "get_padding_shape",
           "get_output_shape", "force_unicode", "post_order_recursive"]

_BAR_LENGTH = 20
_SAME_MODES = ("SAME_UPPER", "SAME_LOWER")
# Odd padding is (top, bottom, left, right) on an NCHW tensor: (axis, before?) per entry.
_ODD_PAD_SIDES = ((2, True), (2, False), (3, True), (3, False))


class _PaddingMismatch(ValueError, AssertionError):
    """A handle's padding disagrees with its pad mode. SINGA checks this with ``assert``,
    so scripts may catch AssertionError; the rest of singa raises ValueError."""


def update_progress(progress, info):
    """Draws ``[.....     ]  25.0% info`` on stdout and moves the cursor back over it,
    so the next call overwrites the bar in place.

    Args:
        progress: a fraction in [0, 1]; negative prints "Halt.", 1 or more "Done.";
            anything but an int or float draws 0% with an error note.
        info: text shown after the percentage.
    """
    status = ""
    if isinstance(progress, bool) or not isinstance(progress, (int, float)):
        progress, status = 0.0, "error: progress var must be float. "
    progress = float(progress)
    if progress < 0:
        progress, status = 0.0, "Halt. "
    elif progress >= 1:
        progress, status = 1.0, "Done. "
    status += str(info)
    filled = int(round(_BAR_LENGTH * progress))
    bar = "." * filled + " " * (_BAR_LENGTH - filled)
    sys.stdout.write("[{}] {:3.1f}% {}".format(bar, progress * 100, status))
    # Back over everything after the bar's opening bracket (as SINGA does), so that a
    # following call redraws the same line.
    sys.stdout.write("\b" * (9 + _BAR_LENGTH + len(status)))
    sys.stdout.flush()


def _check_odd_padding(where, t, odd_padding):
    pads = [int(p) for p in odd_padding]
    if len(pads) != 4 or any(p < 0 for p in pads):
        raise ValueError("{}: odd_padding must be 4 non-negative ints (top, bottom, left, "
                         "right), got {}".format(where, list(odd_padding)))
    if t.nDim() != 4:
        raise ValueError("{}: expects an NCHW (4-D) tensor, got shape {}"
                         .format(where, tuple(t.shape())))
    return pads


def handle_odd_pad_fwd(x, odd_padding):
    """Zero-pads the core tensor ``x`` (NCHW) by ``odd_padding`` = (top, bottom, left,
    right): the part of an asymmetric padding a symmetric handle cannot express.

    Returns:
        a new core tensor.
    """
    top, bottom, left, right = _check_odd_padding("handle_odd_pad_fwd", x, odd_padding)
    if top == bottom == left == right == 0:
        return x
    return singa.Pad(x, [(0, 0), (0, 0), (top, bottom), (left, right)], 0, 0.0)


def handle_odd_pad_bwd(dx, odd_padding):
    """The gradient of :func:`handle_odd_pad_fwd`: crops ``odd_padding`` off the core
    tensor ``dx`` again.

    Returns:
        a core tensor (a view of ``dx`` where nothing is cropped on an axis).
    """
    pads = _check_odd_padding("handle_odd_pad_bwd", dx, odd_padding)
    for (axis, before), pad in zip(_ODD_PAD_SIDES, pads):
        if pad == 0:
            continue
        size = dx.shape()[axis]
        if pad > size:
            raise ValueError("handle_odd_pad_bwd: cannot crop {} from axis {} of size {}"
                             .format(pad, axis, size))
        dx = singa.SliceOn(dx, pad, size, axis) if before else \
            singa.SliceOn(dx, 0, size - pad, axis)
    return dx


def _ints(name, values):
    try:
        out = [int(v) for v in values]
    except TypeError:
        raise TypeError("{} must be a sequence of ints, got {!r}".format(name, values)) from None
    return out


def get_output_shape(auto_pad, input_spatial_shape, kernel_spatial_shape, strides_spatial):
    """The spatial output shape of a convolution or pooling under an ONNX ``auto_pad``:
    ceil(in / stride) for 'SAME_UPPER'/'SAME_LOWER', ceil((in - kernel + 1) / stride)
    for 'VALID'.

    Returns:
        list of ints, one per spatial axis.
    """
    ins = _ints("input_spatial_shape", input_spatial_shape)
    ks = _ints("kernel_spatial_shape", kernel_spatial_shape)
    ss = _ints("strides_spatial", strides_spatial)
    if not len(ins) == len(ks) == len(ss):
        raise ValueError("get_output_shape: input {}, kernel {} and strides {} differ in "
                         "length".format(ins, ks, ss))
    if any(s <= 0 for s in ss):
        raise ValueError("get_output_shape: strides must be positive, got {}".format(ss))
    if auto_pad in _SAME_MODES:
        return [-(-i // s) for i, s in zip(ins, ss)]
    if auto_pad == "VALID":
        if any(k > i for i, k in zip(ins, ks)):
            raise ValueError("get_output_shape: kernel {} is larger than the input {} "
                             "under VALID padding".format(ks, ins))
        return [-(-(i - k + 1) // s) for i, k, s in zip(ins, ks, ss)]
    raise ValueError("get_output_shape: auto_pad must be 'SAME_UPPER', 'SAME_LOWER' or "
                     "'VALID', got {!r}".format(auto_pad))


def get_padding_shape(pad_mode, input_spatial_shape, kernel_spatial_shape, strides_spatial):
    """Splits the padding ``pad_mode`` needs into a symmetric part and the odd remainder.

    Returns:
        (pad_shape, odd_pad_shape): two lists [begin0, end0, begin1, end1, ...].
        ``pad_shape`` holds half the total padding on both sides of each axis; where the
        total is odd, ``odd_pad_shape`` holds the extra 1 at the end (SAME_UPPER) or the
        beginning (SAME_LOWER, VALID never has any).
    """
    out = get_output_shape(pad_mode, input_spatial_shape, kernel_spatial_shape,
                           strides_spatial)
    ins = _ints("input_spatial_shape", input_spatial_shape)
    ks = _ints("kernel_spatial_shape", kernel_spatial_shape)
    ss = _ints("strides_spatial", strides_spatial)
    pads = [0] * (2 * len(ins))
    odd = [0] * (2 * len(ins))
    for i, (n_in, n_out, k, s) in enumerate(zip(ins, out, ks, ss)):
        total = max((n_out - 1) * s + k - n_in, 0)
        pads[2 * i] = pads[2 * i + 1] = total // 2
        if total % 2:
            odd[2 * i + (1 if pad_mode == "SAME_UPPER" else 0)] = 1
    return pads, odd


def _shape_of(x):
    shape = x.shape() if callable(getattr(x, "shape", None)) else x.shape
    return tuple(int(s) for s in shape)


def same_pad_shape_check(handle, pad_mode, x):
    """Checks that ``handle`` (a ConvHandle or PoolingHandle) pads an NCHW input ``x``
    the way ``pad_mode`` ('SAME_UPPER' or 'SAME_LOWER') requires: its symmetric
    padding (pad_h, pad_w) must be the symmetric part of :func:`get_padding_shape`.

    Returns:
        (pad_shape, odd_pad_shape) from :func:`get_padding_shape`.

    Raises:
        ValueError (also an AssertionError, as SINGA asserts) when the handle's
        padding is not the one the pad mode needs.
    """
    if pad_mode not in _SAME_MODES:
        raise ValueError("same_pad_shape_check: pad_mode must be 'SAME_UPPER' or "
                         "'SAME_LOWER', got {!r}".format(pad_mode))
    shape = _shape_of(x)
    if len(shape) != 4:
        raise ValueError("same_pad_shape_check: expects an NCHW (4-D) input, got shape {}"
                         .format(shape))
    pads, odd = get_padding_shape(pad_mode, shape[2:], [handle.kernel_h, handle.kernel_w],
                                  [handle.stride_h, handle.stride_w])
    given = [handle.pad_h, handle.pad_w]
    wanted = [pads[0], pads[2]]
    if given != wanted:
        raise _PaddingMismatch("same_pad_shape_check: for {} on an input of shape {} the "
                               "handle's padding {} is wrong, it should be {}"
                               .format(pad_mode, shape, given, wanted))
    return pads, odd


def _handle_padding(handle):
    sides = [handle.pad_top, handle.pad_bottom, handle.pad_left, handle.pad_right]
    if sides[0] == sides[1] and sides[2] == sides[3]:
        return [sides[0], sides[2]]
    return sides


def re_new_handle(handle, x, is_pool=False):
    """A handle of the same kind and geometry as ``handle`` (kernel, stride, padding;
    channels, filters, bias, group and dilation for convolution; max/average and
    count_include_pad for pooling) for the input ``x`` (a tensor or its shape), e.g.
    when the batch size changes.

    Args:
        handle: a ConvHandle, or a PoolingHandle with ``is_pool=True``.
        x: the new input (core tensor, Tensor or shape).
        is_pool: whether ``handle`` is a pooling handle.
    """
    kinds = (singa.PoolingHandle,) if is_pool else (singa.ConvHandle,)
    cudnn = getattr(singa, "CudnnPoolingHandle" if is_pool else "CudnnConvHandle", None)
    if cudnn is not None:
        kinds += (cudnn,)
    if not isinstance(handle, kinds):
        raise TypeError("re_new_handle: expected a {} handle (is_pool={}), got {}".format(
            "pooling" if is_pool else "convolution", is_pool, type(handle).__name__))
    shape = list(_shape_of(x)) if not isinstance(x, (list, tuple)) else [int(s) for s in x]
    src = x if isinstance(x, singa.Tensor) else shape
    kernel = [handle.kernel_h, handle.kernel_w]
    stride = [handle.stride_h, handle.stride_w]
    padding = _handle_padding(handle)
    cls = type(handle)
    if is_pool:
        return cls(src, kernel, stride, padding, handle.is_max_pooling,
                   handle.count_include_pad)
    return cls(src, kernel, stride, padding, handle.channels, handle.num_filters,
               handle.bias_term, handle.group, [handle.dilation_h, handle.dilation_w])


def force_unicode(s):
    """``s`` decoded as UTF-8 when it is bytes, else ``s`` itself."""
    if isinstance(s, (bytes, bytearray)):
        return s.decode("utf-8")
    return s


def _unique_key(name, obj, used):
    """``name``, or ``name_1``, ``name_2``... when another object already took it
    (leaves of unnamed tensors all share the name of their class)."""
    owner = used.get(name)
    if owner is None or owner is obj:
        used[name] = obj
        return name
    k = 1
    while used.get("{}_{}".format(name, k)) not in (None, obj):
        k += 1
    key = "{}_{}".format(name, k)
    used[key] = obj
    return key


def post_order_recursive(root, root_t):
    """The operations of the graph that produced a tensor, in topological order
    (post-order of a depth-first walk over ``src``: every op after its inputs).

    Args:
        root: the Operation at the top, usually ``y.creator``.
        root_t: the tensor ``root`` stands for when ``root`` is a leaf (``Dummy``):
            a parameter goes to ``weights``, None to ``inputs``.

    Returns:
        (nodes, weights, inputs), three OrderedDicts keyed by name: the non-leaf
        operations, the leaves whose tensor stores a gradient (parameters: their
        Tensor), and the other leaves (inputs and constants: None).

    The walk is iterative, so deep graphs do not reach Python's recursion limit.
    """
    nodes, weights, inputs = OrderedDict(), OrderedDict(), OrderedDict()
    used = {}
    if root is None:
        return nodes, weights, inputs
    done = set()
    # (op, the tensor it stands for, whether its sources were pushed already)
    stack = [(root, root_t, False)]
    while stack:
        op, t, expanded = stack.pop()
        if id(op) in done:
            continue
        if not expanded:
            stack.append((op, t, True))
            for src_op, _, y, _ in reversed(getattr(op, "src", ())):
                if src_op is not None and id(src_op) not in done:
                    stack.append((src_op, y, False))
            continue
        done.add(id(op))
        if isinstance(op, Dummy):
            key = _unique_key(op.name, op, used)
            if t is not None:
                weights[key] = t
            else:
                inputs[key] = None
        else:
            nodes[_unique_key(op.name, op, used)] = op
    return nodes, weights, inputs

