"""Handler for ONNX's Einsum: every operand is laid out along one common list of labels
(the output's, then the summed ones), the operands are multiplied with broadcasting and
the summed labels are reduced away, all through autograd operations."""

import numpy as np

from .. import autograd
from .. import tensor as tensor_mod
from .registry import register

__all__ = []


def _parse(equation, ranks):
    """The labels of each operand and of the output; "..." becomes one label per
    broadcast axis (upper-case-free names that cannot clash with letters)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError("equation {!r} names {} operands, {} were given".format(
            equation, len(terms), len(ranks)))
    n_ellipsis = 0
    operands = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            head, _, tail = term.partition("...")
            n = rank - len(head) - len(tail)
            n_ellipsis = max(n_ellipsis, n)
            labels = list(head) + ["...{}".format(n_ellipsis - n + i) for i in range(n)] + \
                list(tail)
        else:
            labels = list(term)
        if len(labels) != rank:
            raise ValueError("term {!r} has {} labels for an operand of rank {}".format(
                term, len(labels), rank))
        operands.append(labels)
    ellipsis = ["...{}".format(i) for i in range(n_ellipsis)]
    if arrow:
        head, dots, tail = rhs.partition("...")
        out = list(head) + (ellipsis if dots else []) + list(tail)
    else:  # implicit output: the broadcast axes, then the letters used once, sorted
        counts = {}
        for labels in operands:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        out = ellipsis + sorted(k for k, v in counts.items() if v == 1 and len(k) == 1)
    return operands, out


def _take_diagonals(x, labels):
    """x with each label repeated within one operand reduced to its diagonal: the pair
    of axes is multiplied by an identity mask and the second axis summed away."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        seen = {}
        for j, label in enumerate(labels):
            if label in seen:
                i = seen[label]
                break
            seen[label] = j
        n = x.shape[i]
        shape = [1] * x.ndim()
        shape[i], shape[j] = n, n
        eye = np.eye(n, dtype=tensor_mod._DTYPE_TO_NP[x.dtype]).reshape(shape)
        mask = tensor_mod.Tensor(device=x.device, data=eye, dtype=x.dtype,
                                 requires_grad=False)
        x = autograd.reduce_sum(autograd.mul(x, mask), [j], 0)
        del labels[j]
    return x, labels


@register("Einsum")
def _einsum(node, ins):
    xs = ins.tensors()
    try:
        operands, out = _parse(node.getattr("equation"), [x.ndim() for x in xs])
    except ValueError as e:
        raise node.error(str(e)) from None
    summed = []
    for labels in operands:
        summed.extend(k for k in labels if k not in out and k not in summed)
    order = out + summed
    product, out_sizes = None, {}
    for x, labels in zip(xs, operands):
        x, labels = _take_diagonals(x, labels)
        present = [k for k in order if k in labels]
        perm = [labels.index(k) for k in present]
        if perm != list(range(len(perm))):
            x = autograd.transpose(x, perm)
        sizes = dict(zip(present, x.shape))
        for k in out:
            out_sizes[k] = max(out_sizes.get(k, 1), sizes.get(k, 1))
        x = autograd.reshape(x, [sizes.get(k, 1) for k in order])
        product = x if product is None else autograd.mul(product, x)
    if summed:
        product = autograd.reduce_sum(product, list(range(len(out), len(order))), 1)
    # A single operand only relabelled still gets its own output tensor.
    return autograd.reshape(product, [out_sizes[k] for k in out])
