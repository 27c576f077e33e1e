"""data.ImageBatchIter (SINGA's threaded image iterator) over small PNGs the tests
write: batches, labels, epochs, shuffling, the queue's capacity and worker errors."""

import threading
import time

import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from singa import data, image_tool  # noqa: E402


def _write_images(folder, n, size=(6, 4)):
    """n RGB PNGs; image i is filled with the value 10 * i (so pixels name the image)."""
    names = []
    for i in range(n):
        name = "img{}.png".format(i)
        Image.fromarray(np.full((size[1], size[0], 3), 10 * i, np.uint8), "RGB") \
            .save(str(folder / name))
        names.append(name)
    return names


def _list_file(folder, lines, name="list.txt"):
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def _load(path):
    return [Image.open(path)]


@pytest.fixture
def images(tmp_path):
    names = _write_images(tmp_path, 6)
    lst = _list_file(tmp_path, ["{} {}".format(n, i) for i, n in enumerate(names)])
    return tmp_path, lst


def _run(it, n):
    it.start()
    try:
        return [it.next() for _ in range(n)]
    finally:
        it.end()


def test_batches_are_nchw_float32_with_int32_labels(images):
    folder, lst = images
    it = data.ImageBatchIter(lst, 4, _load, shuffle=False, image_folder=str(folder))
    assert it.num_samples == 6
    (x, y), = _run(it, 1)
    assert x.shape == (4, 3, 4, 6) and x.dtype == np.float32
    assert y.dtype == np.int32 and y.tolist() == [0, 1, 2, 3]
    # Pixels belong to the image the label names.
    assert all((x[k] == 10 * y[k]).all() for k in range(4))


def test_without_shuffle_batches_follow_the_list_and_wrap_around(images):
    folder, lst = images
    it = data.ImageBatchIter(lst, 4, _load, shuffle=False, image_folder=str(folder))
    labels = [y.tolist() for _, y in _run(it, 3)]
    assert labels == [[0, 1, 2, 3], [4, 5, 0, 1], [2, 3, 4, 5]]


def test_shuffle_gives_every_image_once_per_epoch(images):
    folder, lst = images
    it = data.ImageBatchIter(lst, 3, _load, shuffle=True, image_folder=str(folder))
    batches = [y.tolist() for _, y in _run(it, 8)]
    epochs = [batches[i] + batches[i + 1] for i in range(0, 8, 2)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled between epochs


def test_all_augmentations_of_an_image_go_into_the_batch(images):
    folder, lst = images
    tool = image_tool.ImageTool()

    def transform(path):  # as in SINGA's docstring: crop and keep both flips
        return tool.load(path).random_crop((4, 4)).flip(2).get()
    it = data.ImageBatchIter(lst, 4, transform, shuffle=False, image_folder=str(folder))
    (x, y), = _run(it, 1)
    assert x.shape == (4, 3, 4, 4) and y.tolist() == [0, 0, 1, 1]


def test_meta_that_is_not_a_label_index_comes_as_a_list(tmp_path):
    names = _write_images(tmp_path, 3)
    lst = _list_file(tmp_path, ["{},{}".format(names[0], "cat"), "{},{}".format(names[1], "7"),
                                names[2]])
    it = data.ImageBatchIter(lst, 3, _load, shuffle=False, delimiter=",",
                             image_folder=str(tmp_path))
    (_, y), = _run(it, 1)
    assert y == ["cat", "7", None]


def test_paths_without_image_folder_are_used_as_they_are(tmp_path):
    names = _write_images(tmp_path, 2)
    lst = _list_file(tmp_path, ["{};{}".format(tmp_path / n, i) for i, n in enumerate(names)])
    it = data.ImageBatchIter(lst, 2, _load, shuffle=False, delimeter=";")
    assert it.delimiter == ";"
    (_, y), = _run(it, 1)
    assert y.tolist() == [0, 1]


def test_the_queue_holds_at_most_capacity_batches(images):
    folder, lst = images
    calls = []

    def counting(path):
        calls.append(path)
        return _load(path)
    it = data.ImageBatchIter(lst, 2, counting, shuffle=False, image_folder=str(folder),
                             capacity=3)
    it.start()
    try:
        deadline = time.time() + 10
        while it.queue.qsize() < 3 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert it.queue.qsize() == 3
        # Three batches queued and at most one more being built.
        assert len(calls) <= 4 * 2
        it.next()
        deadline = time.time() + 10
        while len(calls) < 8 and time.time() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 8  # the freed slot is filled again
    finally:
        it.end()


def test_iterator_protocol_and_end_stops_the_worker(images):
    folder, lst = images
    it = data.ImageBatchIter(lst, 2, _load, image_folder=str(folder))
    it.start()
    x, _ = next(it)
    assert x.shape[0] == 2 and iter(it) is it
    it.end()
    assert it.stop and not it.p.is_alive()
    with pytest.raises(RuntimeError, match="stopped"):
        it.next()


def test_worker_errors_are_raised_by_next(images):
    folder, lst = images

    def broken(path):
        raise OSError("cannot decode " + path)
    it = data.ImageBatchIter(lst, 2, broken, image_folder=str(folder))
    it.start()
    with pytest.raises(OSError, match="cannot decode"):
        it.next()
    it.end()


def test_too_many_augmentations_for_the_batch_raise(images):
    folder, lst = images
    it = data.ImageBatchIter(lst, 2, lambda p: _load(p) * 3, image_folder=str(folder))
    it.start()
    with pytest.raises(ValueError, match="batch_size=2"):
        it.next()
    it.end()


def test_images_of_different_sizes_in_a_batch_raise(tmp_path):
    _write_images(tmp_path, 1, size=(4, 4))
    big = tmp_path / "big.png"
    Image.new("RGB", (5, 5)).save(str(big))
    lst = _list_file(tmp_path, ["img0.png 0", "big.png 1"])
    it = data.ImageBatchIter(lst, 2, _load, shuffle=False, image_folder=str(tmp_path))
    it.start()
    with pytest.raises(ValueError, match="differ in shape"):
        it.next()
    it.end()


def test_argument_errors(images):
    folder, lst = images
    with pytest.raises(RuntimeError, match="start"):
        data.ImageBatchIter(lst, 2, _load).next()
    with pytest.raises(ValueError, match="batch_size"):
        data.ImageBatchIter(lst, 0, _load)
    with pytest.raises(ValueError, match="capacity"):
        data.ImageBatchIter(lst, 2, _load, capacity=0)
    with pytest.raises(TypeError, match="callable"):
        data.ImageBatchIter(lst, 2, None)
    with pytest.raises(FileNotFoundError):
        data.ImageBatchIter(str(folder / "missing.txt"), 2, _load)
    empty = _list_file(folder, [], "empty.txt")
    with pytest.raises(ValueError, match="no image"):
        data.ImageBatchIter(empty, 2, _load)
    it = data.ImageBatchIter(lst, 2, _load, image_folder=str(folder))
    it.start()
    with pytest.raises(RuntimeError, match="already"):
        it.start()
    it.end()


def test_end_without_start_and_as_a_context_manager(images):
    folder, lst = images
    data.ImageBatchIter(lst, 2, _load).end()
    with data.ImageBatchIter(lst, 2, _load, image_folder=str(folder)) as it:
        it.start()
        it.next()
    assert not it.p.is_alive()
    assert not any(t.name == "ImageBatchIter" and t is it.p for t in threading.enumerate())
