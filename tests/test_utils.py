"""singa.utils (SINGA's utils module): the progress bar, ONNX padding arithmetic checked
against real convolutions and pooling, odd padding, handle renewal and the post-order
walk of a recorded graph."""

import sys

import numpy as np
import pytest

from singa import autograd, layer, singa_wrap, tensor, utils


def _ct(shape, value=None, seed=0):
    a = np.random.default_rng(seed).normal(size=shape).astype(np.float32) \
        if value is None else np.full(shape, value, np.float32)
    return tensor.from_numpy(a).data


# -------------------------------------------------------------- update_progress

def test_update_progress_draws_the_bar_and_returns_the_cursor(capsys):
    utils.update_progress(0.25, "epoch 1")
    out = capsys.readouterr().out
    status = "epoch 1"
    assert out.startswith("[" + "." * 5 + " " * 15 + "] 25.0% " + status)
    # The cursor goes back over the percentage and the text, so the next call overwrites.
    assert out.endswith("\b" * (9 + 20 + len(status)))


@pytest.mark.parametrize("progress,percent,note", [(1, "] 100.0%", "Done. "),
                                                   (1.7, "] 100.0%", "Done. "),
                                                   (-0.5, "] 0.0%", "Halt. "),
                                                   ("half", "] 0.0%", "error: ")])
def test_update_progress_states(capsys, progress, percent, note):
    utils.update_progress(progress, "x")
    out = capsys.readouterr().out
    assert percent in out and note in out


# ---------------------------------------------------- output and padding shapes

@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("size,kernel,stride", [(5, 3, 2), (6, 3, 2), (7, 2, 3), (4, 4, 1),
                                                (9, 1, 4)])
def test_same_padding_makes_a_convolution_give_the_onnx_output_shape(mode, size, kernel,
                                                                     stride):
    out = utils.get_output_shape(mode, [size, size + 1], [kernel, kernel], [stride, stride])
    assert out == [-(-size // stride), -(-(size + 1) // stride)]
    pads, odd = utils.get_padding_shape(mode, [size, size + 1], [kernel, kernel],
                                        [stride, stride])
    x = tensor.from_numpy(np.ones((1, 2, size, size + 1), np.float32))
    padded = utils.handle_odd_pad_fwd(x.data, [odd[0], odd[1], odd[2], odd[3]])
    handle = singa_wrap.ConvHandle(padded, [kernel, kernel], [stride, stride],
                                   [pads[0], pads[2]], 2, 3, False, 1)
    W = tensor.from_numpy(np.ones((3, 2, kernel, kernel), np.float32))
    y = autograd.conv2d(handle, tensor.from_raw_tensor(padded), W)
    assert list(y.shape[2:]) == out


@pytest.mark.parametrize("size,kernel,stride", [(5, 3, 2), (8, 4, 2), (7, 2, 3)])
def test_same_padding_matches_the_conv_layers_pad_mode(size, kernel, stride):
    """utils' SAME padding (symmetric part in the handle, odd part added first) computes
    the same convolution as Conv2d(pad_mode=...) does."""
    x = tensor.from_numpy(np.random.default_rng(1).normal(size=(2, 3, size, size))
                          .astype(np.float32))
    for mode in ("SAME_UPPER", "SAME_LOWER"):
        conv = layer.Conv2d(4, kernel, stride=stride, pad_mode=mode, bias=False)
        want = tensor.to_numpy(conv(x))
        pads, odd = utils.get_padding_shape(mode, [size, size], [kernel, kernel],
                                            [stride, stride])
        padded = tensor.from_raw_tensor(utils.handle_odd_pad_fwd(x.data, odd))
        handle = singa_wrap.ConvHandle(padded.data, [kernel, kernel], [stride, stride],
                                       [pads[0], pads[2]], 3, 4, False, 1)
        got = tensor.to_numpy(autograd.conv2d(handle, padded, conv.W))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_valid_output_shape_and_no_padding():
    assert utils.get_output_shape("VALID", [7, 8], [3, 2], [2, 3]) == [3, 3]
    assert utils.get_padding_shape("VALID", [7, 8], [3, 2], [2, 3]) == ([0, 0, 0, 0],
                                                                       [0, 0, 0, 0])


def test_odd_padding_goes_after_for_upper_and_before_for_lower():
    # size 6, kernel 3, stride 2: output 3, total padding 1 -> all of it odd.
    assert utils.get_padding_shape("SAME_UPPER", [6], [3], [2]) == ([0, 0], [0, 1])
    assert utils.get_padding_shape("SAME_LOWER", [6], [3], [2]) == ([0, 0], [1, 0])
    # size 5, kernel 4, stride 1: total 3 -> 1 on both sides and the odd one.
    assert utils.get_padding_shape("SAME_UPPER", [5], [4], [1]) == ([1, 1], [0, 1])


@pytest.mark.parametrize("call", [
    lambda: utils.get_output_shape("NOTSET", [4], [3], [1]),
    lambda: utils.get_output_shape("VALID", [2], [3], [1]),
    lambda: utils.get_output_shape("SAME_UPPER", [4, 4], [3], [1, 1]),
    lambda: utils.get_output_shape("SAME_UPPER", [4], [3], [0]),
], ids=["mode", "kernel-too-big", "lengths", "stride"])
def test_output_shape_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------- odd padding

def test_handle_odd_pad_fwd_adds_zeros_on_the_named_sides():
    a = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype(np.float32)
    x = tensor.from_numpy(a).data
    y = singa_wrap.to_numpy(utils.handle_odd_pad_fwd(x, (1, 0, 0, 2)))
    np.testing.assert_array_equal(y, np.pad(a, ((0, 0), (0, 0), (1, 0), (0, 2))))


def test_handle_odd_pad_bwd_crops_what_fwd_added():
    a = np.random.default_rng(3).normal(size=(1, 2, 3, 3)).astype(np.float32)
    for odd in [(0, 1, 1, 0), (1, 1, 1, 1), (0, 0, 0, 0), (2, 0, 0, 3)]:
        padded = utils.handle_odd_pad_fwd(tensor.from_numpy(a).data, odd)
        back = singa_wrap.to_numpy(singa_wrap.Contiguous(utils.handle_odd_pad_bwd(padded, odd)))
        np.testing.assert_array_equal(back, a)


def test_odd_padding_rejects_bad_arguments():
    with pytest.raises(ValueError, match="odd_padding"):
        utils.handle_odd_pad_fwd(_ct((1, 1, 2, 2)), (1, 0, 0))
    with pytest.raises(ValueError, match="NCHW"):
        utils.handle_odd_pad_fwd(_ct((2, 2)), (1, 0, 0, 0))
    with pytest.raises(ValueError, match="crop"):
        utils.handle_odd_pad_bwd(_ct((1, 1, 2, 2)), (3, 0, 0, 0))


# ------------------------------------------------------------------- handles

def test_same_pad_shape_check_accepts_the_right_padding_and_returns_the_split():
    x = _ct((1, 3, 8, 8))
    handle = singa_wrap.ConvHandle(x, [3, 3], [1, 1], [1, 1], 3, 4, True, 1)
    assert utils.same_pad_shape_check(handle, "SAME_UPPER", x) == ([1, 1, 1, 1],
                                                                   [0, 0, 0, 0])
    pool = singa_wrap.PoolingHandle(x, [2, 2], [2, 2], [0, 0], True)
    assert utils.same_pad_shape_check(pool, "SAME_LOWER", tensor.from_raw_tensor(x)) == \
        ([0, 0, 0, 0], [0, 0, 0, 0])


def test_same_pad_shape_check_wrong_padding_is_a_value_and_assertion_error():
    x = _ct((1, 3, 8, 8))
    handle = singa_wrap.ConvHandle(x, [3, 3], [1, 1], [0, 0], 3, 4, True, 1)
    with pytest.raises(ValueError, match=r"should be \[1, 1\]"):
        utils.same_pad_shape_check(handle, "SAME_UPPER", x)
    with pytest.raises(AssertionError):
        utils.same_pad_shape_check(handle, "SAME_UPPER", x)
    with pytest.raises(ValueError, match="pad_mode"):
        utils.same_pad_shape_check(handle, "VALID", x)


def test_re_new_handle_keeps_the_conv_geometry_for_a_new_batch():
    x = _ct((2, 4, 9, 9))
    old = singa_wrap.ConvHandle(x, [3, 2], [2, 1], [0, 1, 1, 0], 4, 6, True, 2, [1, 2])
    new_x = _ct((5, 4, 9, 9), seed=1)
    new = utils.re_new_handle(old, new_x)
    assert type(new) is singa_wrap.ConvHandle and new.batchsize == 5
    for attr in ("kernel_h", "kernel_w", "stride_h", "stride_w", "pad_top", "pad_bottom",
                 "pad_left", "pad_right", "channels", "num_filters", "bias_term", "group",
                 "dilation_h", "dilation_w"):
        assert getattr(new, attr) == getattr(old, attr), attr
    W = tensor.from_numpy(np.ones((6, 2, 3, 2), np.float32))
    b = tensor.from_numpy(np.zeros((6,), np.float32))
    y = autograd.conv2d(new, tensor.from_raw_tensor(new_x), W, b)
    assert y.shape[0] == 5


def test_re_new_handle_pooling():
    x = _ct((2, 3, 8, 8))
    old = singa_wrap.PoolingHandle(x, [3, 3], [2, 2], [1, 1], False, False)
    new = utils.re_new_handle(old, _ct((7, 3, 10, 10)), is_pool=True)
    assert type(new) is singa_wrap.PoolingHandle
    assert (new.batchsize, new.height, new.is_max_pooling, new.count_include_pad) == \
        (7, 10, False, False)
    assert (new.kernel_h, new.stride_h, new.pad_h) == (3, 2, 1)


def test_re_new_handle_rejects_the_wrong_kind():
    conv = singa_wrap.ConvHandle(_ct((1, 1, 4, 4)), [3, 3], [1, 1], [1, 1], 1, 1, False, 1)
    with pytest.raises(TypeError, match="pooling"):
        utils.re_new_handle(conv, _ct((1, 1, 4, 4)), is_pool=True)


def test_force_unicode():
    assert utils.force_unicode(b"caf\xc3\xa9") == "caf\u00e9"
    assert utils.force_unicode("plain") == "plain"
    assert utils.force_unicode(None) is None


# ------------------------------------------------------------ post-order walk

def _param(a, name):
    t = tensor.from_numpy(np.asarray(a, np.float32))
    t.requires_grad = t.stores_grad = True
    t.name = name
    return t


def test_post_order_lists_ops_after_their_inputs_and_sorts_leaves():
    autograd.training = True
    x = tensor.from_numpy(np.ones((2, 3), np.float32))
    W, b = _param(np.ones((3, 4)), "W"), _param(np.ones(4), "b")
    h = autograd.add_bias(autograd.matmul(x, W), b)
    y = autograd.add(autograd.relu(h), autograd.sigmoid(h))  # h feeds two ops
    nodes, weights, inputs = utils.post_order_recursive(y.creator, None)
    kinds = [type(op).__name__ for op in nodes.values()]
    assert kinds[:2] == ["Matmul", "AddBias"] and kinds[-1] == "Add"
    assert sorted(kinds[2:4]) == ["ReLU", "Sigmoid"] and len(kinds) == 5
    assert list(weights) == ["W", "b"] and weights["W"] is W and weights["b"] is b
    assert len(inputs) == 1 and list(inputs.values()) == [None]
    assert all(isinstance(k, str) for k in nodes)


def test_post_order_keeps_unnamed_leaves_apart():
    autograd.training = True
    a, b = (tensor.from_numpy(np.ones(3, np.float32)) for _ in range(2))
    y = autograd.mul(a, b)
    _, _, inputs = utils.post_order_recursive(y.creator, None)
    assert len(inputs) == 2


def test_post_order_of_a_leaf_is_a_weight_or_an_input():
    W = _param(np.ones(2), "W")
    assert utils.post_order_recursive(W.creator, W) == ({}, {"W": W}, {})
    x = tensor.from_numpy(np.ones(2, np.float32))
    nodes, weights, inputs = utils.post_order_recursive(x.creator, None)
    assert (len(nodes), len(weights), len(inputs)) == (0, 0, 1)


def test_post_order_walks_deep_graphs_without_recursion():
    autograd.training = True
    y = _param(np.ones(2), "w")
    depth = sys.getrecursionlimit() + 100
    for _ in range(depth):
        y = autograd.relu(y)
    nodes, weights, _ = utils.post_order_recursive(y.creator, None)
    assert len(nodes) == depth and list(weights) == ["w"]
