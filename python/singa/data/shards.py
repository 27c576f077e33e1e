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
per-channel histogram of its pixels and the inputs it skipped); a re-run keeps
every shard whose record matches the plan and whose data verify, and writes
only the rest. ``index.json`` is written last and describes the whole set::

    {"format": "singa-shards", "version": 1, "layout": "NHWC", "dtype": "uint8",
     "height": H, "width": W, "channels": C, "num_samples": total,
     "classes": [...], "class_to_label": {...}, "class_counts": [...],
     "mean": [per channel, 0..255 units], "std": [...],
     "shards": [{"file", "count", "crc32", "bytes"}, ...],
     "skipped": [{"path", "error"}, ...], "source": {...}}

Images from a folder tree are converted to RGB and either resized so the
shorter side is ``size`` and centre-cropped to ``size x size`` (``resize=
"crop"``, the default, which keeps the aspect ratio) or resized straight to
``size x size`` (``resize="squash"``).
"""

import concurrent.futures
import glob
import hashlib
import json
import os
import struct
import warnings
import zlib

import numpy as np

from ..checkpoint import atomic_write
from ._common import DataError

__all__ = [
    "ShardError", "BadImageWarning", "MAGIC", "FORMAT_VERSION", "INDEX_NAME",
    "IMAGE_EXTENSIONS", "ShardHeader", "write_shard", "read_shard_header",
    "read_shard", "load_index", "scan_image_tree", "load_image",
    "write_shards", "write_shards_from_arrays", "main",
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


def _write_json(path, obj):
    _atomic_write(path, [json.dumps(obj, indent=1).encode("utf-8")])


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


def _histogram(img, chunk=1 << 20):
    """Per-channel counts of each byte value, (C, 256) int64, of uint8 (..., C)."""
    c = img.shape[-1]
    flat = np.ascontiguousarray(img).reshape(-1)
    # value + 256 * channel, counted in chunks to bound the intp temporaries
    off = (np.arange(max(chunk // c, 1) * c, dtype=np.intp) % c) * 256
    out = np.zeros(256 * c, np.int64)
    for a in range(0, flat.size, off.size):
        part = flat[a:a + off.size]
        out += np.bincount(part + off[:part.size], minlength=256 * c)
    return out.reshape(c, 256)


# ---------------------------------------------------------------------------
# The writer: plan, resume, write, index


class _Job:
    """One planned shard: a fingerprint of its inputs and a way to build it."""

    def __init__(self, fingerprint, num_inputs, build):
        self.fingerprint, self.num_inputs, self.build = fingerprint, num_inputs, build


def _fingerprint(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _shard_name(prefix, i):
    return f"{prefix}-{i:05d}.bin"


def _existing_record(out_dir, name, job, verify):
    """The sidecar record of a finished shard that matches ``job``, else None."""
    path = os.path.join(out_dir, name)
    meta_path = path[:-4] + ".json"
    try:
        with open(meta_path, "rb") as f:
            rec = json.loads(f.read().decode("utf-8"))
        if rec.get("fingerprint") != job.fingerprint or rec.get("file") != name:
            return None
        if verify:
            _, _, head = read_shard(path, verify=True)
        else:
            head = read_shard_header(path)
    except (OSError, ValueError, KeyError):
        return None
    if head.count != rec["count"] or f"{head.crc32:08x}" != rec["crc32"]:
        return None
    return rec


def _run_jobs(out_dir, jobs, base_index, prefix, stop_after, verify_existing,
              progress):
    """Write the shards that are missing or stale, then the index."""
    from tqdm.auto import tqdm

    os.makedirs(out_dir, exist_ok=True)
    for stale in glob.glob(os.path.join(glob.escape(out_dir), f".{prefix}-*.tmp*")):
        try:  # temporary files left by an interrupted run
            os.unlink(stale)
        except OSError:
            pass
    records, todo = [None] * len(jobs), []
    for i, job in enumerate(jobs):
        records[i] = _existing_record(out_dir, _shard_name(prefix, i), job,
                                      verify_existing)
        if records[i] is None:
            todo.append(i)
    index_path = os.path.join(out_dir, INDEX_NAME)
    if todo and os.path.exists(index_path):
        os.unlink(index_path)  # it describes shards that are about to change
    written = 0
    bar = tqdm(total=sum(jobs[i].num_inputs for i in todo), unit="img",
               desc=f"shards -> {out_dir}", disable=not progress)
    try:
        for i in todo:
            if stop_after is not None and written >= stop_after:
                break
            name = _shard_name(prefix, i)
            images, labels, hist, skipped = jobs[i].build(bar)
            info = write_shard(os.path.join(out_dir, name), images, labels)
            rec = {"file": name, "fingerprint": jobs[i].fingerprint,
                   "count": info["count"], "crc32": info["crc32"],
                   "bytes": info["bytes"], "hist": hist.tolist(),
                   "label_counts": {str(k): int(v) for k, v in
                                    zip(*np.unique(labels, return_counts=True))},
                   "skipped": skipped}
            _write_json(os.path.join(out_dir, name[:-4] + ".json"), rec)
            records[i] = rec
            written += 1
    finally:
        bar.close()
    complete = all(r is not None for r in records)
    index = dict(base_index)
    index.update(complete=complete, shards_written=written,
                 shards_kept=len(jobs) - len(todo))
    if not complete:
        return index
    hist = sum((np.asarray(r["hist"], np.int64) for r in records),
               np.zeros((base_index["channels"], 256), np.int64))
    values = np.arange(256, dtype=np.float64)
    n = hist.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = hist @ values / n
        std = np.sqrt(np.maximum(hist @ values ** 2 / n - mean ** 2, 0.0))
    class_counts = [0] * len(base_index["classes"])
    for r in records:
        for k, v in r["label_counts"].items():
            class_counts[int(k)] += v
    shards = [{"file": r["file"], "count": r["count"], "crc32": r["crc32"],
               "bytes": r["bytes"]} for r in records]
    index.update(
        num_samples=sum(r["count"] for r in records),
        num_shards=len(records), class_counts=class_counts,
        mean=[float(v) for v in np.nan_to_num(mean)],
        std=[float(v) for v in np.nan_to_num(std)],
        shards=shards,
        skipped=[s for r in records for s in r["skipped"]])
    on_disk = {k: v for k, v in index.items()
               if k not in ("complete", "shards_written", "shards_kept")}
    _write_json(index_path, on_disk)
    return index


def _base_index(classes, height, width, channels, shard_size, source):
    return {"format": "singa-shards", "version": FORMAT_VERSION, "layout": "NHWC",
            "dtype": "uint8", "height": height, "width": width, "channels": channels,
            "shard_size": shard_size, "classes": list(classes),
            "class_to_label": {c: i for i, c in enumerate(classes)},
            "source": source}


def _check_common(shard_size, stop_after):
    if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}")
    if stop_after is not None and stop_after < 0:
        raise ValueError(f"stop_after must be >= 0, got {stop_after}")


def write_shards(image_dir, out_dir, size=256, shard_size=1024, workers=None,
                 shuffle=True, seed=0, resize="crop", stop_after=None,
                 verify_existing=True, progress=True, prefix="shard"):
    """Write a class-per-folder image tree into macrobatch shards.

    Files are listed in sorted order (see scan_image_tree) and, when
    ``shuffle``, permuted with ``seed`` so that each shard mixes the classes;
    shard i holds the decodable images among files ``[i*shard_size,
    (i+1)*shard_size)`` of that list, so the assignment is deterministic.
    An undecodable file is skipped with a BadImageWarning and listed in the
    index's ``skipped``. Re-running with the same arguments keeps every shard
    that is complete and verifies, and writes only the rest.

    Args:
        image_dir: ``DIR/<class>/<image>`` tree (ImageNet layout).
        out_dir: output folder (created).
        size: output height and width.
        shard_size: images per shard (planned; skipped files make one smaller).
        workers: decoding threads (default: CPU count).
        shuffle, seed: seeded shuffle of the file list before sharding.
        resize: ``"crop"`` (shorter side to size, centre crop) or ``"squash"``.
        stop_after: write at most this many shards, then stop without an index
            (simulates an interrupted run).
        verify_existing: check the CRC32 of kept shards (else header and size).
        progress: show a tqdm progress bar.
        prefix: shard file name prefix.

    Returns:
        The index dict, plus ``complete`` (False when stopped early),
        ``shards_written`` and ``shards_kept``.
    """
    _check_common(shard_size, stop_after)
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    _pil()
    root = os.path.abspath(os.fspath(image_dir))
    out_dir = os.path.abspath(os.fspath(out_dir))
    classes, items, ignored = scan_image_tree(root)
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(items))
        items = [items[k] for k in order]
    workers = int(workers or os.cpu_count() or 1)
    pool = concurrent.futures.ThreadPoolExecutor(max(workers, 1),
                                                 thread_name_prefix="singa-shards")

    def decode(item):
        try:
            img = load_image(os.path.join(root, item[0]), size, resize)
            return img, _histogram(img), None
        except Exception as e:  # any decoder failure skips the file
            return None, None, f"{type(e).__name__}: {e}"

    def make_build(chunk):
        def build(bar):
            images = np.empty((len(chunk), size, size, 3), np.uint8)
            labels = np.empty(len(chunk), np.int32)
            hist = np.zeros((3, 256), np.int64)
            skipped, n = [], 0
            for (rel, label), (img, h, err) in zip(chunk, pool.map(decode, chunk)):
                bar.update(1)
                if err is not None:
                    warnings.warn(f"skipping {os.path.join(root, rel)}: {err}",
                                  BadImageWarning, stacklevel=4)
                    skipped.append({"path": rel, "error": err})
                    continue
                images[n], labels[n] = img, label
                hist += h
                n += 1
            return images[:n], labels[:n], hist, skipped
        return build

    jobs = []
    for a in range(0, len(items), shard_size):
        chunk = items[a:a + shard_size]
        fp = _fingerprint({"size": size, "resize": resize, "items": chunk})
        jobs.append(_Job(fp, len(chunk), make_build(chunk)))
    source = {"kind": "image_tree", "image_dir": root, "size": size,
              "resize": resize, "shuffle": bool(shuffle), "seed": seed,
              "num_files": len(items), "ignored": ignored}
    try:
        return _run_jobs(out_dir, jobs,
                         _base_index(classes, size, size, 3, shard_size, source),
                         prefix, stop_after, verify_existing, progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def write_shards_from_arrays(images, labels, out_dir, shard_size=1024, classes=None,
                             channels_first=False, shuffle=False, seed=0,
                             stop_after=None, verify_existing=True, progress=True,
                             prefix="shard", source=None):
    """Write in-memory uint8 images (e.g. MNIST or CIFAR-10) into shards.

    Args:
        images: uint8 (N, H, W) grayscale, (N, H, W, C), or (N, C, H, W) with
            ``channels_first=True`` (CIFAR-10's layout).
        labels: int labels (N,) in ``[0, len(classes))``.
        out_dir: output folder.
        shard_size: images per shard.
        classes: class names (default ``"0".."K-1"`` from the largest label).
        channels_first: images are NCHW.
        shuffle, seed: seeded permutation of the samples before sharding.
        stop_after, verify_existing, progress, prefix: as for write_shards.
        source: optional dict stored in the index as ``source``.

    Returns:
        The index dict, as for write_shards.
    """
    _check_common(shard_size, stop_after)
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4 and channels_first:
        images = images.transpose(0, 2, 3, 1)
    elif images.ndim != 4:
        raise ValueError(f"images must be (N, H, W), (N, H, W, C) or (N, C, H, W), "
                         f"got shape {images.shape}")
    n, h, w, c = images.shape
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({n},), got "
                         f"{labels.dtype} {labels.shape}")
    if n and labels.min() < 0:
        raise ValueError("labels must be >= 0")
    if classes is None:
        classes = [str(k) for k in range(int(labels.max()) + 1 if n else 0)]
    classes = [str(k) for k in classes]
    if n and labels.max() >= len(classes):
        raise ValueError(f"label {int(labels.max())} out of range for "
                         f"{len(classes)} classes")
    order = (np.random.default_rng(seed).permutation(n) if shuffle
             else np.arange(n))

    def make_build(idx):
        def build(bar):
            x = np.ascontiguousarray(images[idx])
            y = labels[idx].astype(np.int32)
            bar.update(len(idx))
            return x, y, _histogram(x), []
        return build

    jobs = []
    for a in range(0, n, shard_size):
        idx = order[a:a + shard_size]
        hsh = hashlib.sha256(np.ascontiguousarray(images[idx]).data)
        hsh.update(labels[idx].astype("<i8").tobytes())
        jobs.append(_Job(_fingerprint({"data": hsh.hexdigest(), "shape": [h, w, c]}),
                         len(idx), make_build(idx)))
    src = {"kind": "arrays", "shuffle": bool(shuffle), "seed": seed}
    src.update(source or {})
    return _run_jobs(os.path.abspath(os.fspath(out_dir)), jobs,
                     _base_index(classes, h, w, c, shard_size, src),
                     prefix, stop_after, verify_existing, progress)


# ---------------------------------------------------------------------------
# Command line: python -m singa.data.write_shards


def _parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m singa.data.write_shards",
        description="Write images into macrobatch shard files for streaming "
                    "training (see singa.data.shards for the format).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image-dir", help="class-per-folder tree DIR/<class>/<image>")
    src.add_argument("--mnist", metavar="DIR", help="MNIST IDX files "
                     "(writes OUT/train and OUT/test)")
    src.add_argument("--cifar10", metavar="DIR", help="CIFAR-10 binary batches "
                     "(writes OUT/train and OUT/test)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", type=int, default=256, help="output height/width "
                   "(image trees only; default 256)")
    p.add_argument("--resize", choices=RESIZE_MODES, default="crop",
                   help="crop: shorter side to SIZE then centre crop (default); "
                        "squash: resize to SIZE x SIZE")
    p.add_argument("--shard-size", type=int, default=1024, help="images per shard")
    p.add_argument("--workers", type=int, default=None, help="decoding threads")
    p.add_argument("--seed", type=int, default=0, help="seed of the file shuffle")
    p.add_argument("--no-shuffle", action="store_true",
                   help="keep sorted order (shards then hold one class after another)")
    p.add_argument("--stop-after", type=int, default=None, metavar="K",
                   help="stop after writing K shards (testing interrupted runs)")
    p.add_argument("--no-verify", action="store_true",
                   help="do not re-check the CRC32 of shards kept from a previous run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _summary(index, out):
    if not index["complete"]:
        return (f"{out}: stopped after {index['shards_written']} new shard(s); "
                "run again to finish")
    mean = ", ".join(f"{v:.2f}" for v in index["mean"])
    line = (f"{out}: {index['num_samples']} images in {index['num_shards']} shards "
            f"({index['shards_written']} written, {index['shards_kept']} kept), "
            f"{len(index['classes'])} classes, mean [{mean}]")
    if index["skipped"]:
        line += f", {len(index['skipped'])} skipped:"
        line += "".join(f"\n  {s['path']}: {s['error']}" for s in index["skipped"])
    return line


def main(argv=None):
    """Entry point of ``python -m singa.data.write_shards``; returns an exit code."""
    args = _parser().parse_args(argv)
    common = dict(shard_size=args.shard_size, stop_after=args.stop_after,
                  verify_existing=not args.no_verify, progress=not args.quiet)
    try:
        if args.image_dir:
            results = [(args.out, write_shards(
                args.image_dir, args.out, size=args.size, workers=args.workers,
                shuffle=not args.no_shuffle, seed=args.seed, resize=args.resize,
                **common))]
        else:
            if args.mnist:
                from .mnist import load_mnist
                parts = load_mnist(args.mnist)
                extra = dict(classes=[str(k) for k in range(10)])
                kind = "mnist"
            else:
                from .cifar10 import cifar10_class_names, load_cifar10
                parts = load_cifar10(args.cifar10)
                extra = dict(classes=cifar10_class_names(args.cifar10),
                             channels_first=True)
                kind = "cifar10"
            results = []
            for split, (x, y) in zip(("train", "test"), parts):
                out = os.path.join(args.out, split)
                results.append((out, write_shards_from_arrays(
                    x, y, out, shuffle=not args.no_shuffle, seed=args.seed,
                    source={"dataset": kind, "split": split}, **extra, **common)))
    except DataError as e:
        print(f"error: {e}", flush=True)
        return 1
    for out, index in results:
        print(_summary(index, out), flush=True)
    return 0
