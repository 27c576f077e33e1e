"""Atomic checkpoint files in SINGA's format, with verified loading.

A checkpoint is a zip holding ``tensor_dict.npz`` (the arrays) and
``states_attr.json`` (per array: ``state_type``, ``shape``, ``dtype``, plus our
``np_dtype`` and ``sha256``). In the default ``"verified"`` format a third member,
``checkpoint_meta.json``, holds the format version and one checksum over
everything else that is stored: every array's digest (its dtype, shape and bytes)
and every attribute (``state_type``, ``dtype``, ...), the array count and ``meta``.
Any truncation or corruption is therefore detected before anything is restored.
Version 1 files (whose overall checksum covered the arrays only) still load, with
the checks they carry.

Apache SINGA's ``Model.load_states`` extracts the zip into a temporary
directory and removes exactly its two files before removing the directory, so a
third member makes it fail after loading: ``format="singa"`` writes the two
members only (per array ``state_type``, ``shape`` and ``dtype`` as SINGA writes
them), which SINGA loads; such files, and SINGA's own, load here unverified (they
carry no checksums; the zip's CRC-32 still catches damaged members, and damage that
leaves the structure unreadable gives a CheckpointError). A file whose attributes
carry our checksums but whose verification member is gone is refused rather than
loaded as unverified.

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
VERSION = 2  # 1: the overall checksum covers the arrays only; 2: everything stored
FORMATS = ("verified", "singa")  # save(format=...): ours (checksummed), Apache SINGA's
_SINGA_ATTRS = ("state_type", "shape", "dtype")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or does not match."""


def _digest(arr):
    h = hashlib.sha256()
    h.update("{}|{}|".format(arr.dtype.str, arr.shape).encode())
    h.update(arr.tobytes(order="C"))
    return h.hexdigest()


def _overall_digest(header, attrs):
    """Version 2's overall checksum: every header field but the checksum itself, and
    every array's attributes (which hold its digest), in one canonical JSON text."""
    covered = [{k: v for k, v in header.items() if k != "sha256"}, attrs]
    text = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _arrays_digest_v1(digests):
    """Version 1's overall checksum: the array names and digests, {name: digest}."""
    total = hashlib.sha256()
    for k in sorted(digests):
        total.update(k.encode() + b"\0" + digests[k].encode())
    return total.hexdigest()


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
    for k in sorted(arrays):
        a = arrays[k]
        at = dict(attrs.get(k, {}))
        at.update({"shape": list(a.shape), "np_dtype": a.dtype.str, "sha256": _digest(a)})
        full_attrs[k] = at
    # hashed as it reads back (JSON turns tuples into lists, keys into strings)
    full_attrs = json.loads(json.dumps(full_attrs))
    header = json.loads(json.dumps({"format": FORMAT, "version": VERSION,
                                    "num_arrays": len(arrays), "meta": meta or {}}))
    header["sha256"] = _overall_digest(header, full_attrs)

    if format == "singa":
        full_attrs = {k: {a: v for a, v in at.items() if a in _SINGA_ATTRS}
                      for k, at in full_attrs.items()}
    npz = io.BytesIO()
    np.savez(npz, **arrays)

    def write(f):
        # Stored, not deflated: float weights hardly compress (deflate level 1 took 7.8 s
        # to save 7% of a 168 MB npz, storing it 0.19 s). Readers take either.
        with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(TENSOR_DICT_FILENAME, npz.getvalue())
            zf.writestr(STATES_ATTR_FILENAME, json.dumps(full_attrs))
            if format == "verified":
                zf.writestr(META_FILENAME, json.dumps(header))

    atomic_write(fpath, write)


def load(fpath):
    """Reads and verifies a checkpoint.

    Returns:
        (arrays, attrs, meta): {name: ndarray}, {name: attribute dict}, the meta dict
        (empty for files in Apache SINGA's format, which carry no checksums).
    Raises:
        CheckpointError naming the file and the problem (missing, truncated, corrupt,
        tampered, of a newer version), whatever bytes the file holds.
    """
    fpath = os.fspath(fpath)
    if not os.path.isfile(fpath):
        raise CheckpointError("checkpoint {!r} does not exist".format(fpath))
    members = _read_members(fpath)
    attrs = _parse_json(fpath, members, STATES_ATTR_FILENAME)
    _check_attrs(fpath, attrs)
    header = None
    if META_FILENAME in members:
        header = _parse_json(fpath, members, META_FILENAME)
        version = _check_header(fpath, header)
        if version >= 2 and header["sha256"] != _overall_digest(header, attrs):
            raise CheckpointError("checkpoint {!r}: the overall checksum does not match (the "
                                  "attributes or the header are corrupted or modified)"
                                  .format(fpath))
    elif any("sha256" in at for at in attrs.values()):
        # only the verified format writes per-array checksums: its meta member was lost
        raise CheckpointError("checkpoint {!r}: its attributes carry checksums but the {} "
                              "member that verifies them is missing (corrupted?)".format(
                                  fpath, META_FILENAME))
    arrays = _read_arrays(fpath, members[TENSOR_DICT_FILENAME], attrs)
    if set(arrays) != set(attrs):
        raise CheckpointError("checkpoint {!r}: arrays {} have no attributes and attributes {} "
                              "have no arrays".format(fpath, sorted(set(arrays) - set(attrs)),
                                                      sorted(set(attrs) - set(arrays))))
    if header is None:
        return arrays, attrs, {}
    digests = {}
    for k in sorted(arrays):
        digests[k] = _digest(arrays[k])
        if attrs[k].get("sha256") != digests[k]:
            raise CheckpointError("checkpoint {!r}: checksum mismatch for array {!r} "
                                  "(corrupted or modified)".format(fpath, k))
    if header["num_arrays"] != len(arrays) or \
            (version == 1 and header["sha256"] != _arrays_digest_v1(digests)):
        raise CheckpointError("checkpoint {!r}: the overall checksum does not match (arrays "
                              "missing, added or modified)".format(fpath))
    return arrays, attrs, header.get("meta", {})


def _read_members(fpath):
    """{member name: bytes} of the checkpoint zip, each member checked against its
    CRC-32; refuses a zip with members a checkpoint does not have."""
    try:
        with zipfile.ZipFile(fpath, mode="r") as zf:
            names = zf.namelist()
            for need in (TENSOR_DICT_FILENAME, STATES_ATTR_FILENAME):
                if need not in names:
                    raise CheckpointError("checkpoint {!r} has no {} member (not a SINGA "
                                          "checkpoint?)".format(fpath, need))
            # a damaged name in the zip's directory would otherwise hide a member
            other = sorted(set(names) - {TENSOR_DICT_FILENAME, STATES_ATTR_FILENAME,
                                         META_FILENAME})
            if other or len(names) != len(set(names)):
                raise CheckpointError("checkpoint {!r} has unexpected members {} (corrupted, "
                                      "or not a SINGA checkpoint)".format(fpath, names))
            return {n: zf.read(n) for n in names}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as e:
        raise CheckpointError("checkpoint {!r} is truncated or corrupted: {}".format(fpath, e))
    except Exception as e:  # zlib.error, NotImplementedError (a damaged method field), ...
        raise CheckpointError("checkpoint {!r} is corrupted: {}: {}".format(
            fpath, type(e).__name__, e))


def _parse_json(fpath, members, name):
    try:
        value = json.loads(members[name].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError("checkpoint {!r}: {} is unreadable JSON: {}".format(fpath, name, e))
    if not isinstance(value, dict):
        raise CheckpointError("checkpoint {!r}: {} holds a {}, not a JSON object".format(
            fpath, name, type(value).__name__))
    return value


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_attrs(fpath, attrs):
    """The attribute fields this module reads have the types it reads them as."""
    for k, at in attrs.items():
        if not isinstance(at, dict):
            raise CheckpointError("checkpoint {!r}: the attributes of {!r} are a {}, not a "
                                  "JSON object".format(fpath, k, type(at).__name__))
        shape = at.get("shape", [])
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise CheckpointError("checkpoint {!r}: array {!r} has an invalid shape attribute "
                                  "{!r}".format(fpath, k, shape))
        for field in ("sha256", "np_dtype"):
            if field in at and not isinstance(at[field], str):
                raise CheckpointError("checkpoint {!r}: array {!r} has an invalid {} attribute "
                                      "{!r}".format(fpath, k, field, at[field]))


def _check_header(fpath, header):
    """Checks the verification member's fields; returns the format version."""
    if header.get("format") != FORMAT:
        raise CheckpointError("checkpoint {!r}: unknown format {!r}".format(
            fpath, header.get("format")))
    version = header.get("version")
    if not _is_int(version) or version < 1:
        raise CheckpointError("checkpoint {!r}: invalid format version {!r}".format(
            fpath, version))
    if version > VERSION:
        raise CheckpointError("checkpoint {!r}: format version {} is newer than this singa "
                              "reads ({})".format(fpath, version, VERSION))
    if not _is_int(header.get("num_arrays")) or not isinstance(header.get("sha256"), str) \
            or not isinstance(header.get("meta", {}), dict):
        raise CheckpointError("checkpoint {!r}: {} is damaged (num_arrays {!r}, sha256 {!r}, "
                              "meta of type {})".format(fpath, META_FILENAME,
                                                        header.get("num_arrays"),
                                                        header.get("sha256"),
                                                        type(header.get("meta")).__name__))
    return version


def _read_arrays(fpath, npz_bytes, attrs):
    """{name: array} from the ``.npz`` bytes. Each member is checked against its
    CRC-32 and its header's shape and dtype against its size before any array is
    allocated, so that a damaged header cannot ask for a huge allocation."""
    fmt = np.lib.format
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(npz_bytes)) as npz:
            for info in npz.infolist():
                if not info.filename.endswith(".npy"):
                    raise CheckpointError("checkpoint {!r}: {} holds {!r}, which is not an "
                                          "array".format(fpath, TENSOR_DICT_FILENAME,
                                                         info.filename))
                name = info.filename[:-len(".npy")]
                if name in arrays:
                    raise CheckpointError("checkpoint {!r}: array {!r} is stored twice".format(
                        fpath, name))
                raw = io.BytesIO(npz.read(info))
                version = fmt.read_magic(raw)
                if version == (1, 0):
                    shape, _, dtype = fmt.read_array_header_1_0(raw)
                elif version == (2, 0):
                    shape, _, dtype = fmt.read_array_header_2_0(raw)
                else:
                    raise CheckpointError("checkpoint {!r}: array {!r} has .npy format "
                                          "version {}, which NumPy's savez does not write for "
                                          "numeric arrays".format(fpath, name, version))
                if dtype.hasobject:
                    raise CheckpointError("checkpoint {!r}: array {!r} is unreadable: it holds "
                                          "Python objects (pickles), which are never loaded "
                                          "since they could run code".format(fpath, name))
                nbytes = dtype.itemsize * int(np.prod(shape, dtype=object))
                if nbytes != len(raw.getvalue()) - raw.tell():
                    raise CheckpointError("checkpoint {!r}: array {!r} of shape {} and dtype {} "
                                          "needs {} bytes, the file holds {}".format(
                                              fpath, name, shape, dtype, nbytes,
                                              len(raw.getvalue()) - raw.tell()))
                want = attrs.get(name, {}).get("shape")
                if want is not None and tuple(want) != tuple(shape):
                    raise CheckpointError("checkpoint {!r}: array {!r} has shape {}, its "
                                          "attributes say {}".format(fpath, name, tuple(shape),
                                                                     tuple(want)))
                raw.seek(0)
                arrays[name] = fmt.read_array(raw, allow_pickle=False)
    except CheckpointError:
        raise
    except Exception as e:  # BadZipFile, a damaged .npy header (ValueError), ...
        raise CheckpointError("checkpoint {!r}: the array archive is unreadable: {}: {}".format(
            fpath, type(e).__name__, e))
    return arrays
