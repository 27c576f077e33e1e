"""Shared pieces of the dataset readers: errors, checksums, locating data."""

import gzip
import hashlib
import os
import sys
import zlib

import numpy as np

from .. import config
from ..errors import named_entry

__all__ = ["ENV_VAR", "KNOWN_SHA256", "DataError", "DataNotFoundError", "sha256_bytes",
           "check_sha256", "read_file", "to_float32", "find_data_dir", "find_file"]

ENV_VAR = config.DATA_DIR

# SHA-256 of the official files, keyed by file name. A file is checked only when
# its name is listed here, so renamed or home-made files still load.
KNOWN_SHA256 = {
    # MNIST, as downloaded (gzip).
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    # MNIST, the same files after gunzip.
    "train-images-idx3-ubyte":
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    # The CIFAR-10 subset bundled in examples/data/cifar-10.
    "data_batch_1_first4000.bin":
        "0993cf8b8e43bc207603aef9787006995746513f5e3fa5a52e06d1b069926330",
    "test_batch_first1000.bin":
        "8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5",
    "batches.meta.txt":
        "2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00",
}


class DataError(ValueError):
    """A dataset file is malformed, truncated, inconsistent or corrupted."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A dataset directory or file could not be found."""


def sha256_bytes(data):
    """Hex SHA-256 of a bytes object."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(path, raw, verify=True):
    """Compare the SHA-256 of ``raw`` (the bytes of ``path`` on disk) with the
    known value for the file's name; raise DataError on a mismatch.

    Files whose name is not in KNOWN_SHA256 pass unchecked.
    """
    if not verify:
        return
    want = KNOWN_SHA256.get(os.path.basename(path))
    if want is None:
        return
    got = sha256_bytes(raw)
    if got != want:
        raise DataError(
            f"{path}: SHA-256 checksum mismatch (expected {want}, got {got}); "
            "the file is corrupted or not the official one "
            "(pass verify=False to skip the check)")


def read_file(path, verify=True):
    """Read a file's bytes, checking its known checksum, and gunzip it when it
    starts with the gzip magic bytes."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: file not found") from None
    check_sha256(path, raw, verify)
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


@named_entry("to_float32")
def to_float32(images, scale=1.0 / 255.0):
    """uint8 images -> float32 array scaled to [0, 1] (a new contiguous array)."""
    if isinstance(scale, (str, bytes)):
        raise TypeError("scale must be a number, got {!r}".format(scale))
    out = np.array(images, dtype=np.float32, order="C")
    out *= np.float32(scale)  # in place: one pass and one allocation fewer
    return out


def _upwards(d):
    while True:
        yield d
        parent = os.path.dirname(d)
        if parent == d:
            return
        d = parent


def _package_roots():
    """Directories upwards from the package file (the repository root, in a source
    tree), then from the running script (an installed package run by
    ``python examples/...``), then from the working directory (tests run from a clone)."""
    starts = [os.path.dirname(os.path.abspath(__file__))]
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if script:
        starts.append(os.path.dirname(os.path.abspath(script)))
    starts.append(os.getcwd())
    seen = set()
    for start in starts:
        for d in _upwards(start):
            if d not in seen:
                seen.add(d)
                yield d


def _resolve_in(base, names):
    """``base/<name>`` for the first name that is a directory, else ``base``."""
    for name in names:
        cand = os.path.join(base, name)
        if os.path.isdir(cand):
            return cand
    return base


def find_data_dir(names, data_dir=None):
    """Locate the folder holding one dataset.

    Args:
        names: sub-folder names the dataset may live under (e.g. ``["mnist"]``).
        data_dir: explicit folder; either the dataset folder itself or a parent
            holding one of ``names``. Wins over everything else.

    Search order: ``data_dir``, then ``$SINGA_DATA_DIR`` (same rule), then
    ``examples/data/<name>`` found by walking up from this package, the running
    script or the working directory.

    Returns:
        the absolute path of an existing directory.
    """
    if isinstance(names, str):
        names = [names]
    for given, origin in ((data_dir, "data_dir argument"),
                          (config.data_dir(), f"${ENV_VAR}")):
        if given is None:
            continue
        given = os.path.abspath(os.path.expanduser(os.fspath(given)))
        if not os.path.isdir(given):
            raise DataNotFoundError(f"{given}: directory not found (from {origin})")
        return _resolve_in(given, names)
    for root in _package_roots():
        for name in names:
            cand = os.path.join(root, "examples", "data", name)
            if os.path.isdir(cand):
                return cand
    raise DataNotFoundError(
        f"could not find the {names[0]} data: no examples/data/{names[0]} above "
        f"{os.path.dirname(os.path.abspath(__file__))}; pass data_dir=... or set "
        f"${ENV_VAR}")


def find_file(directory, candidates, what):
    """Return the first existing ``directory/<candidate>``; DataNotFoundError if none."""
    for name in candidates:
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise DataNotFoundError(
        f"{directory}: no {what} file (looked for {', '.join(candidates)})")
