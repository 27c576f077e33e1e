"""Atomic checkpoint files in SINGA's format, with verified loading.

A checkpoint is a zip holding ``tensor_dict.npz`` (the arrays) and
``states_attr.json`` (per array: ``state_type``, ``shape``, ``dtype``, plus our
``np_dtype`` and ``sha256``). In the default ``"verified"`` format a third member,
``checkpoint_meta.json``, holds the format version and a checksum over all
arrays, so that any truncation or corruption is detected before anything is
restored. Apache SINGA's ``Model.load_states`` extracts the zip into a temporary
directory and removes exactly its two files before removing the directory, so a
third member makes it fail after loading: ``format="singa"`` writes the two
members only (per array ``state_type``, ``shape`` and ``dtype`` as SINGA writes
them), which SINGA loads; such files, and SINGA's own, load here unverified (they
carry no checksums; the zip's CRC-32 still catches damaged members).

Writing goes to a temporary file in the target directory, which is flushed,
fsync'ed and renamed over the target, and the directory is fsync'ed: a crash
mid-write leaves the previous checkpoint intact.
"""

import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["TENSOR_DICT_FILENAME", "STATES_ATTR_FILENAME", "META_FILENAME", "FORMAT", "VERSION",
           "FORMATS", "CheckpointError", "atomic_write", "save", "load"]

TENSOR_DICT_FILENAME = "tensor_dict.npz"
STATES_ATTR_FILENAME = "states_attr.json"
META_FILENAME = "checkpoint_meta.json"
FORMAT = "singa-checkpoint"
VERSION = 1
FORMATS = ("verified", "singa")  # save(format=...): ours (checksummed), Apache SINGA's
_SINGA_ATTRS = ("state_type", "shape", "dtype")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or does not match."""


def _digest(arr):
    h = hashlib.sha256()
    h.update("{}|{}|".format(arr.dtype.str, arr.shape).encode())
    h.update(arr.tobytes(order="C"))
    return h.hexdigest()


def atomic_write(fpath, write):
    """Calls ``write(fileobj)`` on a temp file next to ``fpath``, then atomically
    replaces ``fpath`` with it (fsync'ing the file and its directory)."""
    fpath = os.fspath(fpath)
    d = os.path.dirname(os.path.abspath(fpath))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(fpath) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, fpath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(d, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is done anyway
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save(fpath, arrays, attrs, meta=None, format="verified"):
    """Writes a checkpoint atomically.

    Args:
        fpath: the target path (replaced if it exists).
        arrays: {name: NumPy array}.
        attrs: {name: dict of JSON attributes} (e.g. ``state_type``), one per array.
        meta: optional extra JSON-serialisable information stored in the meta member.
        format: ``"verified"`` (ours: checksums and ``meta``) or ``"singa"`` (Apache
            SINGA's two members and attributes only; ``meta`` is not stored).
    """
    if format not in FORMATS:
        raise ValueError("checkpoint: format must be one of {}, got {!r}".format(FORMATS, format))
    # np.asarray keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
    arrays = {k: np.asarray(v, order="C") for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise TypeError("checkpoint: array {!r} has dtype object; only numeric arrays "
                            "can be saved".format(k))
    full_attrs = {}
    total = hashlib.sha256()
    for k in sorted(arrays):
        a = arrays[k]
        digest = _digest(a)
        total.update(k.encode() + b"\0" + digest.encode())
        at = dict(attrs.get(k, {}))
        at.update({"shape": list(a.shape), "np_dtype": a.dtype.str, "sha256": digest})
        full_attrs[k] = at
    header = {"format": FORMAT, "version": VERSION, "num_arrays": len(arrays),
              "sha256": total.hexdigest(), "meta": meta or {}}

    if format == "singa":
        full_attrs = {k: {a: v for a, v in at.items() if a in _SINGA_ATTRS}
                      for k, at in full_attrs.items()}
    npz = io.BytesIO()
    np.savez(npz, **arrays)

    def write(f):
        # Deflate level 1: most of the size gain at a fraction of the time.
        with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=1) as zf:
            zf.writestr(TENSOR_DICT_FILENAME, npz.getvalue())
            zf.writestr(STATES_ATTR_FILENAME, json.dumps(full_attrs))
            if format == "verified":
                zf.writestr(META_FILENAME, json.dumps(header))

    atomic_write(fpath, write)


def load(fpath):
    """Reads and verifies a checkpoint.

    Returns:
        (arrays, attrs, meta): {name: ndarray}, {name: attribute dict}, the meta dict
        (empty for files written by Apache SINGA, which carry no checksums).
    Raises:
        CheckpointError naming the problem (missing, truncated, corrupt, tampered).
    """
    fpath = os.fspath(fpath)
    if not os.path.isfile(fpath):
        raise CheckpointError("checkpoint {!r} does not exist".format(fpath))
    try:
        with zipfile.ZipFile(fpath, mode="r") as zf:
            names = set(zf.namelist())
            for need in (TENSOR_DICT_FILENAME, STATES_ATTR_FILENAME):
                if need not in names:
                    raise CheckpointError("checkpoint {!r} has no {} member (not a SINGA "
                                          "checkpoint?)".format(fpath, need))
            npz_bytes = zf.read(TENSOR_DICT_FILENAME)  # checks the member's CRC-32
            attrs_bytes = zf.read(STATES_ATTR_FILENAME)
            header_bytes = zf.read(META_FILENAME) if META_FILENAME in names else None
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as e:
        raise CheckpointError("checkpoint {!r} is truncated or corrupted: {}".format(fpath, e))
    except Exception as e:  # zlib.error and friends from a damaged deflate stream
        raise CheckpointError("checkpoint {!r} is corrupted: {}: {}".format(
            fpath, type(e).__name__, e))
    try:
        attrs = json.loads(attrs_bytes.decode("utf-8"))
        header = json.loads(header_bytes.decode("utf-8")) if header_bytes is not None else None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError("checkpoint {!r}: unreadable JSON attributes: {}".format(fpath, e))
    if not isinstance(attrs, dict):
        raise CheckpointError("checkpoint {!r}: {} is not a JSON object".format(
            fpath, STATES_ATTR_FILENAME))
    if header is not None:
        if header.get("format") != FORMAT:
            raise CheckpointError("checkpoint {!r}: unknown format {!r}".format(
                fpath, header.get("format")))
        if int(header.get("version", 0)) > VERSION:
            raise CheckpointError("checkpoint {!r}: format version {} is newer than this "
                                  "singa reads ({})".format(fpath, header.get("version"), VERSION))
    try:
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:
        raise CheckpointError("checkpoint {!r}: the array archive is unreadable: {}: {}".format(
            fpath, type(e).__name__, e))
    if set(arrays) != set(attrs):
        raise CheckpointError("checkpoint {!r}: arrays {} have no attributes and attributes {} "
                              "have no arrays".format(fpath, sorted(set(arrays) - set(attrs)),
                                                      sorted(set(attrs) - set(arrays))))
    total = hashlib.sha256()
    for k in sorted(arrays):
        a, at = arrays[k], attrs[k]
        if "shape" in at and tuple(at["shape"]) != tuple(a.shape):
            raise CheckpointError("checkpoint {!r}: array {!r} has shape {}, its attributes say {}"
                                  .format(fpath, k, a.shape, tuple(at["shape"])))
        if header is not None:
            digest = _digest(a)
            if at.get("sha256") != digest:
                raise CheckpointError("checkpoint {!r}: checksum mismatch for array {!r} "
                                      "(corrupted or modified)".format(fpath, k))
            total.update(k.encode() + b"\0" + digest.encode())
    if header is not None:
        if header.get("num_arrays") != len(arrays) or header.get("sha256") != total.hexdigest():
            raise CheckpointError("checkpoint {!r}: the overall checksum does not match (arrays "
                                  "missing, added or modified)".format(fpath))
    return arrays, attrs, (header or {}).get("meta", {})
