"""Metrics: top-k accuracy against a NumPy argsort reference, ties, one-hot labels,
Tensors, misclassification, running means, cross-entropy, errors."""
import numpy as np
import pytest

from singa import metrics, tensor


def _ref_topk(scores, labels, k):
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean())


@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_topk_matches_argsort(rng, k):
    scores = rng.standard_normal((50, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 50)
    m = metrics.TopKAccuracy(k)
    m.update(scores[:20], labels[:20])
    m.update(scores[20:], labels[20:])
    assert m.result() == pytest.approx(_ref_topk(scores, labels, k))
    assert m.name == "top{}_accuracy".format(k)


def test_accuracy_is_argmax_with_ties_broken_by_class_index():
    scores = np.array([[1, 1, 0], [0, 2, 2], [3, 3, 3]], np.float32)
    labels = np.array([1, 1, 2])
    acc = metrics.Accuracy()
    acc.update(scores, labels)
    assert acc.result() == pytest.approx(np.mean(scores.argmax(1) == labels))  # 1/3
    top2 = metrics.TopKAccuracy(2)
    top2.update(scores, labels)
    assert top2.result() == pytest.approx(2 / 3)  # row 2: classes 0 and 1 come first


def test_probabilities_logits_one_hot_and_tensors_agree(rng):
    logits = rng.standard_normal((16, 6)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 6, 16).astype(np.int32)
    one_hot = np.eye(6, dtype=np.float32)[labels]
    results = []
    for p, t in [(logits, labels), (probs, labels), (logits, one_hot),
                 (tensor.from_numpy(logits), tensor.from_numpy(labels)),
                 (logits, labels.astype(np.float32))]:
        m = metrics.TopKAccuracy(3)
        m.update(p, t)
        results.append(m.result())
    assert len(set(results)) == 1


def test_misclassification_and_reset(rng):
    scores = rng.standard_normal((30, 8))
    labels = rng.integers(0, 8, 30)
    acc, mis = metrics.TopKAccuracy(5), metrics.TopKMisclassification(5)
    for m in (acc, mis):
        m.update(scores, labels)
    assert mis.result() == pytest.approx(1 - acc.result())
    assert mis.name == "top5_misclassification"
    one = metrics.Misclassification()
    one.update(scores, labels)
    assert one.result() == pytest.approx(1 - _ref_topk(scores, labels, 1))
    acc.reset()
    assert np.isnan(acc.result())


def test_nan_scores_rank_last():
    m = metrics.Accuracy()
    m.update(np.array([[np.nan, 0.0]]), np.array([0]))
    assert m.result() == 0.0


def test_mean_loss_weighted_and_running():
    m = metrics.Loss()
    m.update(2.0, 10)
    m.update(tensor.from_numpy(np.array([4.0], np.float32)), 30)
    assert m.result() == pytest.approx((20 + 120) / 40)
    assert m.last == 4.0
    assert m.running == pytest.approx(0.9 * 2 + 0.1 * 4)
    m.reset()
    assert np.isnan(m.result())
    with pytest.raises(ValueError):
        m.update(np.ones(3))


def test_cross_entropy_logits_and_probabilities(rng):
    logits = rng.standard_normal((8, 4))
    labels = rng.integers(0, 4, 8)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ref = -np.log(p[np.arange(8), labels]).mean()
    a, b = metrics.CrossEntropy(), metrics.CrossEntropy(from_logits=False)
    a.update(logits, labels)
    b.update(p, labels)
    assert a.result() == pytest.approx(ref)
    assert b.result() == pytest.approx(ref)


def test_get_by_name():
    assert isinstance(metrics.get("accuracy"), metrics.Accuracy)
    t = metrics.get("top5_accuracy")
    assert isinstance(t, metrics.TopKAccuracy) and t.k == 5
    assert metrics.get("top3_misclassification").result is not None
    m = metrics.Accuracy()
    assert metrics.get(m) is m
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.get("f1")


@pytest.mark.parametrize("scores,labels,match", [
    (np.zeros(4), np.zeros(4), "batch, classes"),
    (np.zeros((4, 3)), np.zeros(5), "4 predictions but 5 labels"),
    (np.zeros((2, 3)), np.array([0, 3]), r"\[0, 3\)"),
    (np.zeros((2, 3)), np.array([0.5, 1]), "class ids"),
])
def test_bad_inputs(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        metrics.Accuracy().update(scores, labels)
    with pytest.raises(ValueError):
        metrics.TopKAccuracy(0)
