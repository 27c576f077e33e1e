"""Metrics accumulated over batches (Keras-style ``update / result / reset``).

Every metric works on NumPy: ``update`` takes predictions and labels as NumPy
arrays or singa Tensors (copied to the host), ``result()`` returns a float over
everything seen since the last ``reset()`` (NaN before any update).

Predictions are (N, C) scores: logits or probabilities (the ranking is the same,
so accuracies do not care which). Labels are class ids (N,) or one-hot (N, C).

    acc, top5 = metrics.Accuracy(), metrics.TopKAccuracy(5)
    for x, y in batches:
        logits = net(x)
        acc.update(logits, y); top5.update(logits, y)
    print(acc.result(), top5.result())
"""

import numpy as np

from .tensor import Tensor
from . import tensor as tensor_mod

__all__ = ["Metric", "Accuracy", "TopKAccuracy", "TopKMisclassification", "Misclassification",
           "Mean", "Loss", "CrossEntropy", "get"]


def _np(v):
    if isinstance(v, Tensor):
        return tensor_mod.to_numpy(v)
    return np.asarray(v)


def _scores_labels(name, preds, labels):
    """(N, C) float scores and (N,) int labels, validated."""
    p = _np(preds)
    t = _np(labels)
    if p.ndim != 2:
        raise ValueError("{}: predictions must be (batch, classes) scores, got shape {}"
                         .format(name, p.shape))
    if t.ndim == 2 and t.shape == p.shape:
        t = t.argmax(axis=1)  # one-hot
    t = t.reshape(-1)
    if t.shape[0] != p.shape[0]:
        raise ValueError("{}: {} predictions but {} labels (shapes {} and {})".format(
            name, p.shape[0], t.shape[0], p.shape, _np(labels).shape))
    if t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            raise ValueError("{}: labels must be class ids, got non-integer values".format(name))
    t = t.astype(np.int64)
    if t.size and (t.min() < 0 or t.max() >= p.shape[1]):
        raise ValueError("{}: labels must be in [0, {}), got values in [{}, {}]".format(
            name, p.shape[1], t.min(), t.max()))
    return p, t


def label_ranks(preds, labels):
    """The 0-based rank of each sample's label among its scores (0: the top score).

    Ties are broken by class index, as ``argmax`` does, so rank 0 is exactly
    ``argmax(preds) == label``; a NaN score ranks last.
    """
    p, t = _scores_labels("label_ranks", preds, labels)
    p = np.where(np.isnan(p), -np.inf, p)
    own = p[np.arange(p.shape[0]), t][:, None]
    cls = np.arange(p.shape[1])[None, :]
    ahead = (p > own) | ((p == own) & (cls < t[:, None]))
    return ahead.sum(axis=1)


class Metric(object):
    """Base class: ``update(preds, labels)``, ``result()``, ``reset()``, a ``name``."""

    name = "metric"

    def update(self, preds, labels):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset(self):
        raise NotImplementedError

    def __repr__(self):
        return "{}(name={!r})".format(type(self).__name__, self.name)


class TopKAccuracy(Metric):
    """Fraction of samples whose label is among the ``k`` highest scores.

    Args:
        k: how many of the top scores count (k=1 is plain accuracy).
        name: the key in logs (default ``top{k}_accuracy``).
    """

    def __init__(self, k=5, name=None):
        if int(k) != k or k < 1:
            raise ValueError("TopKAccuracy: k must be a positive int, got {!r}".format(k))
        self.k = int(k)
        self.name = name or "top{}_accuracy".format(self.k)
        self.reset()

    def reset(self):
        self.correct = 0
        self.count = 0

    def update(self, preds, labels):
        ranks = label_ranks(preds, labels)
        self.correct += int((ranks < self.k).sum())
        self.count += int(ranks.size)

    def result(self):
        return self.correct / self.count if self.count else float("nan")


class Accuracy(TopKAccuracy):
    """Fraction of samples whose top score is the label (``argmax == label``)."""

    def __init__(self, name="accuracy"):
        super(Accuracy, self).__init__(1, name)


class TopKMisclassification(TopKAccuracy):
    """neon's top-k misclassification: 1 - TopKAccuracy(k) (default name
    ``top{k}_misclassification``)."""

    def __init__(self, k=5, name=None):
        super(TopKMisclassification, self).__init__(k, name or "top{}_misclassification"
                                                    .format(int(k)))

    def result(self):
        return 1.0 - super(TopKMisclassification, self).result()


class Misclassification(TopKMisclassification):
    """1 - accuracy (neon's ``Misclassification``)."""

    def __init__(self, name="misclassification"):
        super(Misclassification, self).__init__(1, name)


class Mean(Metric):
    """Weighted mean of values; also keeps an exponential running average.

    ``update(value, weight=1)``: value a number, 0-d/1-element array or Tensor
    (e.g. a batch's mean loss; pass the batch size as weight so that the result
    is the mean per sample). ``running`` is the exponential moving average with
    ``momentum`` (what a progress bar shows); ``last`` the latest value.
    """

    def __init__(self, name="mean", momentum=0.9):
        if not 0.0 <= momentum < 1.0:
            raise ValueError("Mean: momentum must be in [0, 1), got {}".format(momentum))
        self.name = name
        self.momentum = float(momentum)
        self.reset()

    def reset(self):
        self.total = 0.0
        self.weight = 0.0
        self.running = float("nan")
        self.last = float("nan")
        self._steps = 0

    def update(self, value, weight=1):
        v = _np(value)
        if v.size != 1:
            raise ValueError("{}: expected one value, got shape {}".format(self.name, v.shape))
        v = float(v.reshape(-1)[0])
        w = float(weight)
        self.total += v * w
        self.weight += w
        self.last = v
        self._steps += 1
        # started at the first value, so early values are not pulled towards 0
        m = self.momentum
        self.running = v if self._steps == 1 else m * self.running + (1 - m) * v

    def result(self):
        return self.total / self.weight if self.weight else float("nan")


class Loss(Mean):
    """The mean loss per sample (``update(batch_loss, batch_size)``), named ``loss``."""

    def __init__(self, name="loss", momentum=0.9):
        super(Loss, self).__init__(name, momentum)


class CrossEntropy(Metric):
    """Mean softmax cross-entropy of scores against labels (an evaluation loss).

    Args:
        from_logits: scores are logits (softmax applied here), else probabilities.
        name: key in logs (default ``cross_entropy``).
    """

    def __init__(self, from_logits=True, name="cross_entropy", eps=1e-12):
        self.from_logits = bool(from_logits)
        self.name = name
        self.eps = float(eps)
        self.reset()

    def reset(self):
        self.total = 0.0
        self.count = 0

    def update(self, preds, labels):
        p, t = _scores_labels(self.name, preds, labels)
        p = p.astype(np.float64)
        rows = np.arange(p.shape[0])
        if self.from_logits:
            m = p.max(axis=1, keepdims=True)
            logz = np.log(np.exp(p - m).sum(axis=1)) + m[:, 0]
            nll = logz - p[rows, t]
        else:
            nll = -np.log(np.maximum(p[rows, t], self.eps))
        self.total += float(nll.sum())
        self.count += int(p.shape[0])

    def result(self):
        return self.total / self.count if self.count else float("nan")


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "misclassification": Misclassification,
    "cross_entropy": CrossEntropy,
}


def get(metric):
    """A Metric from a Metric (returned as is), a name (``'accuracy'``,
    ``'top5_accuracy'``, ``'top5_misclassification'``, ``'cross_entropy'``) or a class."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if isinstance(metric, str):
        key = metric.lower()
        if key in _BY_NAME:
            return _BY_NAME[key]()
        if key.startswith("top"):
            num, _, kind = key[3:].partition("_")
            if num.isdigit() and kind in ("accuracy", "acc"):
                return TopKAccuracy(int(num))
            if num.isdigit() and kind == "misclassification":
                return TopKMisclassification(int(num))
    raise ValueError("unknown metric {!r}; use a Metric instance or one of 'accuracy', "
                     "'topK_accuracy', 'topK_misclassification', 'cross_entropy'".format(metric))
