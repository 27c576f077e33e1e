"""SINGA's ``data.ImageBatchIter``: mini-batches of images named in a list file,
augmented and batched ahead of the training loop by a background thread."""

import os
import queue
import random
import threading

import numpy as np

__all__ = ["ImageBatchIter"]

_POLL_S = 0.05


class _Failure(object):
    """An exception raised in the worker, handed to the consumer through the queue."""

    def __init__(self, error):
        self.error = error


def _read_list(path, delimiter):
    """[(image path, meta or None)] from the list file, and whether every meta is a
    label index (a non-negative integer)."""
    items = []
    is_label_index = True
    with open(path, "r") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split(delimiter, 1)
            img_path = parts[0].strip()
            meta = parts[1].strip() if len(parts) > 1 else None
            if meta is None or not meta.isdigit():
                is_label_index = False
            items.append((img_path, meta))
    if not items:
        raise ValueError("ImageBatchIter: {} lists no image".format(path))
    return items, is_label_index


def _as_chw(img, path):
    """One augmented image as a float32 array: a PIL image becomes RGB (3, H, W); an
    array is taken as it is (already in the layout the model reads)."""
    if isinstance(img, np.ndarray):
        return img.astype(np.float32, copy=False)
    if not hasattr(img, "convert"):
        raise TypeError("ImageBatchIter: image_transform({!r}) returned a {}, expected a list "
                        "of PIL images or NumPy arrays".format(path, type(img).__name__))
    return np.asarray(img.convert("RGB"), dtype=np.float32).transpose(2, 0, 1)


class ImageBatchIter(object):
    """Iterates over an image data set in mini-batches, endlessly (epoch after epoch).

    Args:
        img_list_file: a text file, one image per line: ``path<delimiter>meta``. When
            every meta is a label index, labels come as an int32 array; otherwise as a
            list of the meta strings (None for lines without one).
        batch_size: images per mini-batch.
        image_transform: ``f(path) -> list`` of augmented images (PIL images or NumPy
            arrays) for the image at ``path``; all of them go into the same batch.
        shuffle: reshuffle the list at the start of every epoch.
        delimiter: the separator between path and meta (``delimeter``, the spelling of
            older SINGA releases, is accepted too).
        image_folder: prepended to every path (None: the paths are used as they are).
        capacity: the most mini-batches prepared ahead and kept in the queue.

    ``start()`` starts the worker, ``next()`` (or ``next(it)``) returns ``(x, y)`` with x
    of shape (batch_size, 3, H, W), ``end()`` stops it. An error in the worker (an
    unreadable image, a transform that fails) is raised by the next ``next()``.
    """

    def __init__(self, img_list_file, batch_size, image_transform, shuffle=True,
                 delimiter=' ', image_folder=None, capacity=10, delimeter=None):
        if delimeter is not None:
            if delimiter not in (' ', delimeter):
                raise ValueError("ImageBatchIter: delimiter={!r} and delimeter={!r} differ"
                                 .format(delimiter, delimeter))
            delimiter = delimeter
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("ImageBatchIter: batch_size must be a positive int, got {!r}"
                             .format(batch_size))
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError("ImageBatchIter: capacity must be a positive int, got {!r}"
                             .format(capacity))
        if not callable(image_transform):
            raise TypeError("ImageBatchIter: image_transform must be callable, got {}"
                            .format(type(image_transform).__name__))
        if not isinstance(delimiter, str) or not delimiter:
            raise ValueError("ImageBatchIter: delimiter must be a non-empty str, got {!r}"
                             .format(delimiter))
        self.img_list_file = img_list_file
        self.batch_size = batch_size
        self.image_transform = image_transform
        self.shuffle = shuffle
        self.delimiter = delimiter
        self.image_folder = image_folder
        self.capacity = capacity
        self.queue = queue.Queue(capacity)
        self._items, self._is_label_index = _read_list(img_list_file, delimiter)
        self.num_samples = len(self._items)
        self._stop = threading.Event()
        self.p = None  # the worker thread (SINGA's attribute name for its process)

    @property
    def stop(self):
        """Whether ``end()`` was called."""
        return self._stop.is_set()

    def start(self):
        """Starts preparing mini-batches in a background thread."""
        if self.p is not None:
            raise RuntimeError("ImageBatchIter: start() was already called")
        self.p = threading.Thread(target=self.run, name="ImageBatchIter", daemon=True)
        self.p.start()

    def next(self):
        """The next mini-batch ``(x, y)``; waits until the worker has one ready."""
        if self.p is None:
            raise RuntimeError("ImageBatchIter: call start() before next()")
        while True:
            try:
                item = self.queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self.p.is_alive() and self.queue.empty():
                    raise RuntimeError("ImageBatchIter: the worker has stopped ({})".format(
                        "end() was called" if self.stop else "it ended unexpectedly"))
        if isinstance(item, _Failure):
            raise item.error
        return item

    __next__ = next

    def __iter__(self):
        return self

    def end(self):
        """Stops the worker and drops the batches it prepared."""
        self._stop.set()
        if self.p is None:
            return
        while self.p.is_alive():
            self._drain()
            self.p.join(timeout=_POLL_S)
        self._drain()

    def _drain(self):
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.end()
        return False

    def _put(self, item):
        """Blocks while the queue is full; False once end() was called."""
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                pass
        return False

    def run(self):
        """The worker's loop (runs in the thread ``start()`` makes)."""
        try:
            self._produce()
        except BaseException as e:  # handed to the consumer, which raises it
            self._put(_Failure(e))

    def _produce(self):
        items = list(self._items)
        index = 0
        empty_in_a_row = 0
        if self.shuffle:
            random.shuffle(items)
        while not self._stop.is_set():
            xs, ys = [], []
            while len(xs) < self.batch_size:
                if self._stop.is_set():
                    return
                img_path, meta = items[index]
                path = img_path if self.image_folder is None else \
                    os.path.join(self.image_folder, img_path)
                augmented = list(self.image_transform(path))
                if len(xs) + len(augmented) > self.batch_size:
                    raise ValueError("ImageBatchIter: image_transform({!r}) gave {} images; "
                                     "with the {} already in the batch that is more than "
                                     "batch_size={}".format(path, len(augmented), len(xs),
                                                            self.batch_size))
                empty_in_a_row = 0 if augmented else empty_in_a_row + 1
                if empty_in_a_row == len(items):
                    raise ValueError("ImageBatchIter: image_transform returned no image for "
                                     "any of the {} images listed".format(len(items)))
                for img in augmented:
                    xs.append(_as_chw(img, path))
                    ys.append(int(meta) if self._is_label_index else meta)
                index += 1
                if index == len(items):
                    index = 0
                    if self.shuffle:
                        random.shuffle(items)
            shapes = {a.shape for a in xs}
            if len(shapes) > 1:
                raise ValueError("ImageBatchIter: images of one batch differ in shape {}; "
                                 "image_transform must make them the same size"
                                 .format(sorted(shapes)))
            x = np.stack(xs)
            y = np.asarray(ys, dtype=np.int32) if self._is_label_index else ys
            if not self._put((x, y)):
                return
