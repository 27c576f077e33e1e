"""Macrobatch shards: a dataset written once to disk and streamed in training.

Large image sets (ImageNet is ~300 GB) do not fit in memory, so, as neon's
``batch_writer.py`` does, the images are decoded and resized once, packed into
"macrobatch" shard files of a fixed number of images, and read back one shard
at a time by :class:`singa.data.stream.ShardLoader`.

Shard file (``shard-00000.bin``), all integers little-endian::

    offset size  field
    0      8     magic b"SINGASHD"
    8      2     format version (1)
    10     2     header size (64)
    12     1     dtype code of the images (1 = uint8)
    13     1     layout code (0 = NHWC)
    14     2     reserved (0)
    16     8     count N
    24     4     height H
    28     4     width W
    32     4     channels C
    36     4     reserved (0)
    40     8     byte offset of the images (64 + labels padded to 64 bytes)
    48     8     payload size (file size - 64)
    56     4     CRC32 of the payload (every byte after the header)
    60     4     CRC32 of header bytes 0..59
    64     4N    labels, int32
    ...          zero padding up to the images offset
    off    NHWC  images, uint8, N x H x W x C (row-major, channels last)

Each shard is written to a temporary file, fsynced and renamed, so a shard
file is either absent or complete. Beside it, ``shard-00000.json`` records
how it was made (a fingerprint of the planned inputs, its checksum, a
per-channel histogram of its pixels and the inputs it skipped); a re-run of
the writer (:mod:`singa.data.write_shards`) keeps every shard whose record
matches the plan and whose data verify, and writes only the rest.
``index.json`` is written last and describes the whole set::

    {"format": "singa-shards", "version": 1, "layout": "NHWC", "dtype": "uint8",
     "height": H, "width": W, "channels": C, "num_samples": total,
     "classes": [...], "class_to_label": {...}, "class_counts": [...],
     "mean": [per channel, 0..255 units], "std": [...],
     "shards": [{"file", "count", "crc32", "bytes"}, ...],
     "skipped": [{"path", "error"}, ...], "source": {...}}

This module holds the format: the header, reading and writing one shard, the
index, and listing and decoding images. Images from a folder tree are converted
to RGB and either resized so the shorter side is ``size`` and centre-cropped to
``size x size`` (``resize="crop"``, the default, which keeps the aspect ratio)
or resized straight to ``size x size`` (``resize="squash"``).
"""

import json
import os
import struct
import zlib

import numpy as np

from ..checkpoint import atomic_write
from ..errors import named_entry
from ._common import DataError

__all__ = [
    "ShardError", "BadImageWarning", "MAGIC", "FORMAT_VERSION", "INDEX_NAME",
    "IMAGE_EXTENSIONS", "RESIZE_MODES", "ShardHeader", "write_shard", "read_shard_header",
    "read_shard", "load_index", "scan_image_tree", "load_image",
]

MAGIC = b"SINGASHD"
FORMAT_VERSION = 1
INDEX_NAME = "index.json"
_HEADER = struct.Struct("<8sHHBB2xQIII4xQQII")
HEADER_SIZE = _HEADER.size  # 64
_DTYPES = {1: np.dtype(np.uint8)}
_LAYOUTS = {0: "NHWC"}
_ALIGN = 64

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp",
                              ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                              ".pbm", ".pnm"})
RESIZE_MODES = ("crop", "squash")


class ShardError(DataError):
    """A shard file or shard index is missing, malformed, truncated or corrupted."""


class BadImageWarning(UserWarning):
    """An input image could not be decoded and was skipped."""


def _images_offset(count):
    return HEADER_SIZE + -(-4 * count // _ALIGN) * _ALIGN


class ShardHeader:
    """The parsed fixed-size header of one shard file."""

    __slots__ = ("count", "height", "width", "channels", "dtype", "layout",
                 "images_offset", "payload_bytes", "crc32")

    def __init__(self, count, height, width, channels, dtype, layout,
                 images_offset, payload_bytes, crc32):
        self.count, self.height, self.width = count, height, width
        self.channels, self.dtype, self.layout = channels, dtype, layout
        self.images_offset, self.payload_bytes, self.crc32 = (
            images_offset, payload_bytes, crc32)

    @property
    def shape(self):
        """Shape of the images array, (N, H, W, C)."""
        return (self.count, self.height, self.width, self.channels)

    @property
    def file_bytes(self):
        return HEADER_SIZE + self.payload_bytes


def _pack_header(count, height, width, channels, payload_bytes, crc):
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE, 1, 0, count, height,
                        width, channels, _images_offset(count), payload_bytes,
                        crc, 0)
    return head[:60] + struct.pack("<I", zlib.crc32(head[:60]))


def _parse_header(path, raw, file_size):
    if len(raw) < HEADER_SIZE:
        raise ShardError(f"{path}: truncated shard ({len(raw)} bytes, shorter "
                         f"than the {HEADER_SIZE}-byte header)")
    (magic, version, hsize, dcode, lcode, count, h, w, c, img_off, payload,
     crc, hcrc) = _HEADER.unpack(bytes(raw[:HEADER_SIZE]))
    if magic != MAGIC:
        raise ShardError(f"{path}: not a singa shard (bad magic {magic!r}, "
                         f"expected {MAGIC!r})")
    if version != FORMAT_VERSION or hsize != HEADER_SIZE:
        raise ShardError(f"{path}: unsupported shard version {version} "
                         f"(header size {hsize})")
    if zlib.crc32(bytes(raw[:60])) != hcrc:
        raise ShardError(f"{path}: shard header checksum mismatch (corrupted header)")
    if dcode not in _DTYPES or lcode not in _LAYOUTS:
        raise ShardError(f"{path}: unknown dtype code {dcode} or layout code {lcode}")
    want_payload = img_off - HEADER_SIZE + count * h * w * c * _DTYPES[dcode].itemsize
    if img_off != _images_offset(count) or payload != want_payload:
        raise ShardError(f"{path}: inconsistent shard header (count {count}, "
                         f"shape {h}x{w}x{c}, payload {payload} bytes)")
    if file_size != HEADER_SIZE + payload:
        raise ShardError(f"{path}: shard size is {file_size} bytes, the header says "
                         f"{HEADER_SIZE + payload} (truncated or padded file)")
    return ShardHeader(count, h, w, c, _DTYPES[dcode], _LAYOUTS[lcode], img_off,
                       payload, crc)


def read_shard_header(path):
    """Read and check the header of a shard file (not its payload checksum).

    Raises:
        ShardError: naming the file, if it is missing, truncated or malformed.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(HEADER_SIZE)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise ShardError(f"{path}: cannot read shard: {e}") from e
    return _parse_header(path, raw, size)


def read_shard(path, verify=True, buffer=None):
    """Read a whole shard into memory.

    Args:
        path: the shard file.
        verify: check the payload CRC32.
        buffer: optional 1-D uint8 array to read into (reused by the loader so
            that streaming allocates nothing per shard); a new one is made
            when it is None or too small.

    Returns:
        ``(images, labels, header)``: uint8 images (N, H, W, C) and int32 labels
        (N,), both views of a single buffer holding the file.

    Raises:
        ShardError: naming the file, on a bad magic, truncation or a checksum
            mismatch.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if buffer is not None and buffer.dtype == np.uint8 and buffer.ndim == 1 \
                    and buffer.size >= size:
                buf = buffer[:size]
            else:
                buf = np.empty(size, np.uint8)
            got = f.readinto(memoryview(buf))
    except OSError as e:
        raise ShardError(f"{path}: cannot read shard: {e}") from e
    if got != size:
        raise ShardError(f"{path}: short read ({got} of {size} bytes)")
    head = _parse_header(path, buf[:HEADER_SIZE], size)
    if verify and zlib.crc32(buf[HEADER_SIZE:]) != head.crc32:
        raise ShardError(f"{path}: shard checksum mismatch (CRC32 of the payload "
                         f"differs from the header's {head.crc32:08x}); the file "
                         "is corrupted")
    labels = buf[HEADER_SIZE:HEADER_SIZE + 4 * head.count].view("<i4")
    images = buf[head.images_offset:].reshape(head.shape)
    return images, labels, head


def _atomic_write(path, chunks):
    """Write byte chunks to ``path`` via a temporary file, fsync and rename."""
    def write(f):
        for c in chunks:
            f.write(c)
    atomic_write(path, write)


@named_entry("write_shard")
def write_shard(path, images, labels):
    """Write one shard file atomically.

    Args:
        path: destination file.
        images: uint8 array (N, H, W, C).
        labels: int array (N,), stored as int32.

    Returns:
        dict with ``count``, ``crc32`` (8 hex digits) and ``bytes`` (file size).
    """
    images = np.ascontiguousarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, C), got {images.dtype} "
                         f"{images.shape}")
    n, h, w, c = images.shape
    labels = np.ascontiguousarray(labels, dtype="<i4")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    pad = bytes(_images_offset(n) - HEADER_SIZE - 4 * n)
    body = [memoryview(labels).cast("B"), pad, memoryview(images).cast("B")]
    crc = 0
    for b in body:
        crc = zlib.crc32(b, crc)
    payload = sum(len(b) for b in body)
    _atomic_write(os.fspath(path),
                  [_pack_header(n, h, w, c, payload, crc)] + body)
    return {"count": n, "crc32": f"{crc:08x}", "bytes": HEADER_SIZE + payload}


def load_index(shard_dir):
    """Load and check ``index.json`` of a shard directory.

    Raises:
        ShardError: naming the index, if it is missing, incomplete or malformed.
    """
    path = os.path.join(os.fspath(shard_dir), INDEX_NAME)
    try:
        with open(path, "rb") as f:
            index = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError as e:
        raise ShardError(f"{path}: no shard index (write the shards with "
                         "singa.data.write_shards first, or finish an "
                         "interrupted run)") from e
    except (OSError, ValueError) as e:
        raise ShardError(f"{path}: cannot read shard index: {e}") from e
    need = ("format", "version", "height", "width", "channels", "num_samples",
            "shards", "classes", "mean")
    missing = [k for k in need if k not in index]
    if missing or index.get("format") != "singa-shards":
        raise ShardError(f"{path}: not a singa shard index (missing {missing})")
    if index["version"] != FORMAT_VERSION:
        raise ShardError(f"{path}: unsupported index version {index['version']}")
    if sum(s["count"] for s in index["shards"]) != index["num_samples"]:
        raise ShardError(f"{path}: shard counts do not add up to num_samples")
    return index


# ---------------------------------------------------------------------------
# Inputs


def scan_image_tree(image_dir):
    """List a class-per-folder image tree (``DIR/<class>/<image>``).

    Class names are the sub-folder names in sorted order; label ``i`` is the
    i-th class. Images are the files (searched recursively inside each class
    folder, hidden entries skipped) whose extension is in IMAGE_EXTENSIONS.

    Returns:
        ``(classes, items, ignored)``: class names, sorted ``(relpath, label)``
        pairs, and relative paths of files ignored for their extension.
    """
    root = os.fspath(image_dir)
    if not os.path.isdir(root):
        raise DataError(f"{root}: image directory not found")
    classes = sorted(e.name for e in os.scandir(root)
                     if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class sub-folders (expected DIR/<class>/<image>)")
    items, ignored = [], []
    for label, cls in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, cls)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                rel = rel.replace(os.sep, "/")
                if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                    items.append((rel, label))
                else:
                    ignored.append(rel)
    items.sort()
    return classes, items, sorted(ignored)


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("writing shards from image files needs Pillow: "
                          "pip install Pillow (or singa[images])") from e
    return Image


def load_image(path, size, resize="crop"):
    """Decode an image file to a uint8 RGB array (size, size, 3).

    Args:
        path: image file (any format Pillow reads).
        size: output height and width.
        resize: ``"crop"``: scale the shorter side to ``size`` (bilinear, aspect
            kept), then take the centre ``size x size``; ``"squash"``: scale
            straight to ``size x size``.
    """
    Image = _pil()
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    with Image.open(path) as im:
        # JPEG: decode at the smallest 1/2^k scale still >= size on both sides.
        im.draft("RGB", (size, size))
        im = im.convert("RGB")
        w, h = im.size
        if resize == "squash":
            out = im.resize((size, size), Image.BILINEAR)
        else:
            s = size / min(w, h)
            nw, nh = max(size, round(w * s)), max(size, round(h * s))
            left, top = (nw - size) // 2, (nh - size) // 2
            out = im.resize((nw, nh), Image.BILINEAR)
            out = out.crop((left, top, left + size, top + size))
        arr = np.asarray(out, dtype=np.uint8)
    if arr.shape != (size, size, 3):
        raise DataError(f"{path}: decoded to shape {arr.shape}")
    return arr


# The writer and its command line moved to singa.data.write_shards; these names stay
# reachable here for code that imports them from this module.
_MOVED = ("write_shards", "write_shards_from_arrays", "main")


def __getattr__(name):
    if name in _MOVED:
        from . import _shard_writer
        return getattr(_shard_writer(), name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
