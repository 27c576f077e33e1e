"""examples/autograd/alexnet.py trains from shards written from a small generated image
tree (Model.fit, neon schedules, top-1/top-5 per epoch, checkpoints), at the smallest
crop the network takes (61: conv1 -> 15x15, pool1 -> 7, pool2 -> 3, pool5 -> 1)."""
import os

import numpy as np
import pytest

from singa import callbacks

from _examples import load_example

PIL = pytest.importorskip("PIL.Image")


def _example():
    return load_example("autograd", "alexnet")


def _image_tree(root, classes=7, per_class=4, seed=0):
    rng = np.random.default_rng(seed)
    for c in range(classes):
        d = root / "class{}".format(c)
        d.mkdir(parents=True)
        for i in range(per_class):
            h, w = (int(v) for v in rng.integers(64, 90, 2))
            arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            arr[..., c % 3] //= 2
            PIL.fromarray(arr).save(d / "img{}.png".format(i))
    return root


def test_alexnet_trains_from_shards(tmp_path, capsys):
    from singa.data.shards import write_shards
    tree = _image_tree(tmp_path / "images")
    shards = tmp_path / "shards"
    write_shards(str(tree), str(shards), size=64, shard_size=10, workers=2, progress=False)
    ex = _example()
    ck = tmp_path / "ckpt"
    h = ex.main(["--data", str(shards), "--eval-data", str(shards), "--eval-steps", "1",
                 "--image-size", "64", "--crop", "61", "--batch-size", "4", "--steps", "3",
                 "--epochs", "1", "--checkpoint-dir", str(ck), "--checkpoint-every", "2",
                 "--workers", "1", "--no-progress", "--summary"])
    out = capsys.readouterr().out
    assert "training on {} (28 images, 7 classes)".format(shards) in out
    assert "pool5 (MaxPool2d)" in out and "(4, 256, 1, 1)" in out
    assert "epoch 1/1: loss" in out and "top5_accuracy" in out and "val_top1_accuracy" in out
    for k in ("loss", "top1_accuracy", "top5_accuracy", "val_top1_accuracy",
              "val_top5_accuracy"):
        assert len(h.history[k]) == 1 and 0 <= h.history[k][0] < float("inf"), k
    assert h.history["top1_accuracy"][0] <= h.history["top5_accuracy"][0]
    assert h.history["lr"] == [pytest.approx(0.01)]
    assert h.epoch_steps == [3]
    # a checkpoint at step 2 (mid-epoch, with the loader position) and at the epoch end
    assert [os.path.basename(p) for p in callbacks.list_checkpoints(ck)] == \
        ["ckpt-000000002.zip", "ckpt-000000003.zip"]
