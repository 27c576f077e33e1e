"""The shard writer: plan shards from an image tree or arrays, resume, write, index;
and its command line, ``python -m singa.data.write_shards``.

Examples::

    python -m singa.data.write_shards --image-dir /data/imagenet/train \\
        --out /data/shards/train --size 256 --shard-size 1024 --workers 8
    python -m singa.data.write_shards --cifar10 examples/data/cifar-10 --out shards/cifar10

Each shard is planned as a job with a fingerprint of its inputs; a shard whose sidecar
record matches its job and whose data verify is kept, so re-running the same command
resumes. The file format (shard files, sidecar records, ``index.json``) is described in
:mod:`singa.data.shards`.

The package exports the functions: ``from singa.data import write_shards,
write_shards_from_arrays``. ``singa.data.write_shards`` stays the function even once
this module is loaded; the module itself is
``importlib.import_module("singa.data.write_shards")``.
"""

import concurrent.futures
import glob
import hashlib
import json
import os
import sys
import warnings

import numpy as np

from ..errors import named_entry
from ._common import DataError
from .shards import (FORMAT_VERSION, INDEX_NAME, RESIZE_MODES, BadImageWarning, _atomic_write,
                     _pil, load_image, read_shard, read_shard_header, scan_image_tree,
                     write_shard)

__all__ = ["write_shards", "write_shards_from_arrays", "main"]


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


def _write_json(path, obj):
    _atomic_write(path, [json.dumps(obj, indent=1).encode("utf-8")])


# ---------------------------------------------------------------------------
# Plan, resume, write, index


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


@named_entry("write_shards")
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


@named_entry("write_shards_from_arrays")
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
# Command line


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


if __name__ == "__main__":
    sys.exit(main())
