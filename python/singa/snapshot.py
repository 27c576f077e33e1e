"""SINGA's ``singa.snapshot``: named parameter tensors in SINGA's snapshot files.

A snapshot with prefix ``p`` is two files, the same ones Apache SINGA's C++
``Snapshot`` writes, so either side reads the other's:

- ``p.bin``: one record per parameter, ``b"sg"``, a byte that is 1 when a key follows
  (0 otherwise), a zero byte, then the key and the value, each preceded by its length
  as a little-endian 8-byte integer. The value is a serialised ``singa.TensorProto``
  (protobuf 2): shape (1, repeated uint32), data_type (2, SINGA's DataType enum),
  stride (3, repeated int32), float_data (4), double_data (5) and int_data (6), the
  data fields packed.
- ``p.desc``: a text line with the version, then one line per parameter giving its
  name, data type and shape (for people; reading ignores it).

SINGA reads ``p.model`` when there is no ``p.bin`` (files of SINGA 1.0.0); so does this.

Example::

    from singa import snapshot

    sn = snapshot.Snapshot('params', True)       # write
    for name, value in model.get_params().items():
        sn.write(name, value)
    sn.close()                                    # or `with`, or let it be collected
    params = snapshot.Snapshot('params', False).read()
"""

import os
import struct
import weakref

import numpy as np

from . import singa_wrap as singa
from . import tensor as tensor_mod

__all__ = ["Snapshot", "SnapshotError"]

_MAGIC = b"sg"
_LEN = struct.Struct("<Q")
# Written as the first line of .desc: SINGA's version number (major*1000 + minor*100 +
# patch) of the file format this module follows.
_FORMAT_VERSION = 5100

# SINGA's DataType enum (core.proto) -> NumPy type of the values, and the TensorProto
# field that holds them. float16 is not serialised by SINGA itself; here it travels
# in float_data under its own data_type code.
_KFLOAT32, _KFLOAT16, _KINT, _KCHAR, _KDOUBLE, _KUCHAR = 0, 1, 2, 3, 4, 5
_DTYPE_FIELD = {_KFLOAT32: 4, _KFLOAT16: 4, _KDOUBLE: 5, _KINT: 6}
_DTYPE_NUMPY = {_KFLOAT32: np.float32, _KFLOAT16: np.float16, _KDOUBLE: np.float64,
                _KINT: np.int32}
_DTYPE_NAMES = {_KFLOAT32: "kFloat32", _KFLOAT16: "kFloat16", _KINT: "kInt",
                _KCHAR: "kChar", _KDOUBLE: "kDouble", _KUCHAR: "kUChar"}

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class SnapshotError(ValueError):
    """A snapshot file that does not follow the format (named with the offset)."""


# ------------------------------------------------------------- protobuf wire format

def _varint(value):
    """Protobuf base-128 varint; negative int32/enum values take ten bytes (their 64-bit
    two's complement), as protobuf writes them."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _tag(field, wire):
    return _varint(field << 3 | wire)


def _encode_tensor(shape, dtype_code, values):
    """A serialised TensorProto of a C-contiguous array ``values``."""
    out = bytearray()
    for s in shape:
        out += _tag(1, _VARINT) + _varint(int(s))
    out += _tag(2, _VARINT) + _varint(dtype_code)
    stride = 1
    strides = []
    for s in reversed(shape):
        strides.append(stride)
        stride *= int(s)
    for s in reversed(strides):
        out += _tag(3, _VARINT) + _varint(s)
    if values.size:
        field = _DTYPE_FIELD[dtype_code]
        if field == 6:
            payload = b"".join(_varint(int(v)) for v in values.reshape(-1))
        elif field == 5:
            payload = values.astype("<f8").tobytes()
        else:
            payload = values.astype("<f4").tobytes()
        out += _tag(field, _BYTES) + _varint(len(payload)) + payload
    return bytes(out)


class _Cursor(object):
    """Reads protobuf fields from ``buf``; errors name ``where`` and the offset."""

    def __init__(self, buf, where):
        self.buf, self.pos, self.where = buf, 0, where

    def fail(self, what):
        raise SnapshotError("{}: {} at byte {} of the tensor record".format(
            self.where, what, self.pos))

    def varint(self):
        value, shift = 0, 0
        while True:
            if self.pos >= len(self.buf):
                self.fail("truncated varint")
            b = self.buf[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift >= 70:
                self.fail("varint longer than ten bytes")

    def take(self, n):
        if self.pos + n > len(self.buf):
            self.fail("field of {} bytes runs past the end".format(n))
        chunk = self.buf[self.pos:self.pos + n]
        self.pos += n
        return chunk


def _int32(v):
    v &= (1 << 64) - 1
    if v >= 1 << 63:
        v -= 1 << 64
    return v


def _decode_tensor(buf, where):
    """(shape, data_type, strides, values) of a serialised TensorProto; accepts both the
    packed and the one-per-field encodings of repeated numbers (protobuf readers must)."""
    cur = _Cursor(buf, where)
    shape, strides, dtype_code = [], [], _KFLOAT32
    chunks = {4: [], 5: [], 6: []}
    while cur.pos < len(buf):
        key = cur.varint()
        field, wire = key >> 3, key & 7
        if field in (1, 3) and wire == _VARINT:
            (shape if field == 1 else strides).append(_int32(cur.varint()))
        elif field in (1, 3) and wire == _BYTES:
            sub = _Cursor(cur.take(cur.varint()), where)
            while sub.pos < len(sub.buf):
                (shape if field == 1 else strides).append(_int32(sub.varint()))
        elif field == 2 and wire == _VARINT:
            dtype_code = _int32(cur.varint())
        elif field == 4 and wire in (_FIXED32, _BYTES):
            n = 4 if wire == _FIXED32 else cur.varint()
            chunks[4].append(np.frombuffer(cur.take(n), dtype="<f4"))
        elif field == 5 and wire in (_FIXED64, _BYTES):
            n = 8 if wire == _FIXED64 else cur.varint()
            chunks[5].append(np.frombuffer(cur.take(n), dtype="<f8"))
        elif field == 6 and wire in (_VARINT, _BYTES):
            if wire == _VARINT:
                chunks[6].append(np.array([_int32(cur.varint())], dtype=np.int64))
            else:
                sub = _Cursor(cur.take(cur.varint()), where)
                vals = []
                while sub.pos < len(sub.buf):
                    vals.append(_int32(sub.varint()))
                chunks[6].append(np.array(vals, dtype=np.int64))
        elif wire == _VARINT:
            cur.varint()
        elif wire == _FIXED64:
            cur.take(8)
        elif wire == _BYTES:
            cur.take(cur.varint())
        elif wire == _FIXED32:
            cur.take(4)
        else:
            cur.fail("unsupported protobuf wire type {} (field {})".format(wire, field))
    if dtype_code not in _DTYPE_FIELD:
        raise SnapshotError("{}: data type {} is not supported (float32, float16, int and "
                            "double are)".format(where, _DTYPE_NAMES.get(dtype_code,
                                                                         dtype_code)))
    parts = chunks[_DTYPE_FIELD[dtype_code]]
    values = np.concatenate(parts) if parts else np.zeros(0)
    return shape, dtype_code, strides, values


def _assemble(shape, dtype_code, strides, values, where):
    """The array the record describes. SINGA stores a tensor's memory with its strides
    (a transposed tensor keeps its layout), so values are laid out by ``strides``."""
    if any(s < 0 for s in shape):
        raise SnapshotError("{}: negative dimension in shape {}".format(where, shape))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    flat = values.astype(_DTYPE_NUMPY[dtype_code])
    contiguous = []
    step = 1
    for s in reversed(shape):
        contiguous.insert(0, step)
        step *= s
    if not strides or list(strides) == contiguous or count == 0:
        if flat.size != count:
            raise SnapshotError("{}: shape {} needs {} values, the record holds {}"
                                .format(where, tuple(shape), count, flat.size))
        return flat.reshape(shape).copy()
    if len(strides) != len(shape) or any(s < 0 for s in strides):
        raise SnapshotError("{}: strides {} do not fit shape {}".format(
            where, tuple(strides), tuple(shape)))
    last = sum((n - 1) * s for n, s in zip(shape, strides))
    if last >= flat.size:
        raise SnapshotError("{}: shape {} with strides {} reads past the {} values stored"
                            .format(where, tuple(shape), tuple(strides), flat.size))
    view = np.lib.stride_tricks.as_strided(
        flat, shape=shape, strides=[s * flat.itemsize for s in strides], writeable=False)
    return np.ascontiguousarray(view)


# --------------------------------------------------------------------- the files

def _prefix(f):
    f = os.fsdecode(f) if isinstance(f, (bytes, os.PathLike)) else f
    if not isinstance(f, str) or not f:
        raise TypeError("Snapshot: f must be a file name prefix (str), got {!r}".format(f))
    return f


def _mode(mode):
    if mode in (True, False, 0, 1) and not isinstance(mode, float):
        return bool(mode)
    raise ValueError("Snapshot: mode must be True (write) or False (read), got {!r}"
                     .format(mode))


def _close_files(files):
    for fh in files:
        if not fh.closed:
            fh.close()


class Snapshot(object):
    """Writes or reads the parameters of a model under a file-name prefix.

    Args:
        f: the prefix; the files are ``f + '.bin'`` and ``f + '.desc'``.
        mode: True to write (the files are created or truncated), False to read.
        buffer_size: the write buffer in MB: records are collected in memory and written
            when it fills. SINGA's reader uses a buffer of the same size and cannot read
            a record larger than it, so writing one raises (pass a larger buffer_size).
            Reading takes the whole file at once, with no limit on record size.
    """

    def __init__(self, f, mode, buffer_size=10):
        self.prefix = _prefix(f)
        self.mode = _mode(mode)
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) \
                or buffer_size <= 0:
            raise ValueError("Snapshot: buffer_size must be a positive int (MB), got {!r}"
                             .format(buffer_size))
        self.buffer_size = buffer_size
        self._capacity = buffer_size << 20
        self._names = set()
        self._params = {}
        self._pending = []
        self._pending_bytes = 0
        self._closed = False
        if self.mode:
            self._bin = open(self.prefix + ".bin", "wb")
            self._desc = open(self.prefix + ".desc", "w")
            self._desc.write("{}\n".format(_FORMAT_VERSION))
            # Flushes what is buffered when the snapshot is collected without close()
            # (SINGA's scripts never close theirs; its C++ destructor flushes).
            self._finalizer = weakref.finalize(self, Snapshot._flush_and_close,
                                               self._bin, self._desc, self._pending)
        else:
            self._load()

    # ------------------------------------------------------------------ writing
    def write(self, param_name, param_val):
        """Adds one parameter.

        Args:
            param_name: its name (str), unique within the snapshot.
            param_val: a Tensor (or core tensor) of float32, float16, int32 or float64.
        """
        if not self.mode:
            raise RuntimeError("Snapshot {!r}: write on a snapshot opened for reading "
                               "(mode=False)".format(self.prefix))
        if self._closed:
            raise RuntimeError("Snapshot {!r}: write after close".format(self.prefix))
        if isinstance(param_name, bytes):
            param_name = param_name.decode("utf-8")
        if not isinstance(param_name, str):
            raise TypeError("Snapshot.write: param_name must be a str, got {}"
                            .format(type(param_name).__name__))
        if param_name in self._names:
            raise ValueError("Snapshot.write: parameter {!r} is already in snapshot {!r}"
                             .format(param_name, self.prefix))
        data = param_val.data if isinstance(param_val, tensor_mod.Tensor) else param_val
        if not isinstance(data, singa.Tensor):
            raise TypeError("Snapshot.write: param_val of {!r} must be a Tensor, got {}"
                            .format(param_name, type(param_val).__name__))
        code = data.data_type()
        if code not in _DTYPE_FIELD:
            raise TypeError("Snapshot.write: parameter {!r} has data type {}, which "
                            "snapshots do not store".format(param_name, code))
        values = np.ascontiguousarray(tensor_mod.to_numpy(tensor_mod.from_raw_tensor(data)))
        shape = tuple(values.shape)
        record = self._record(param_name.encode("utf-8"), _encode_tensor(shape, code, values))
        if len(record) > self._capacity:
            raise ValueError("Snapshot.write: parameter {!r} of shape {} takes {} bytes, more "
                             "than buffer_size={} MB; SINGA could not read it back: pass a "
                             "larger buffer_size".format(param_name, shape, len(record),
                                                         self.buffer_size))
        if self._pending_bytes + len(record) > self._capacity:
            self._flush_pending()
        self._pending.append(record)
        self._pending_bytes += len(record)
        self._names.add(param_name)
        self._desc.write("parameter name: {}\tdata type: {}\tdim: {}\tshape:{}\n".format(
            param_name, code, len(shape), "".join(" {}".format(s) for s in shape)))

    @staticmethod
    def _record(key, value):
        has_key = 1 if key else 0
        head = _MAGIC + bytes([has_key, 0])
        body = (_LEN.pack(len(key)) + key) if has_key else b""
        return head + body + _LEN.pack(len(value)) + value

    def _flush_pending(self):
        self._bin.write(b"".join(self._pending))
        del self._pending[:]
        self._pending_bytes = 0

    @staticmethod
    def _flush_and_close(bin_file, desc_file, pending):
        if not bin_file.closed:
            bin_file.write(b"".join(pending))
            del pending[:]
        _close_files((bin_file, desc_file))

    def flush(self):
        """Writes the buffered records to disk."""
        if self.mode and not self._closed:
            self._flush_pending()
            self._bin.flush()
            self._desc.flush()

    def close(self):
        """Writes what is buffered and closes the files (a no-op when reading)."""
        if self.mode and not self._closed:
            self._finalizer()
            self._pending_bytes = 0
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ reading
    def _load(self):
        path = self.prefix + ".bin"
        if not os.path.exists(path):
            legacy = self.prefix + ".model"
            if not os.path.exists(legacy):
                raise FileNotFoundError("Snapshot: neither {} nor {} (SINGA 1.0.0) exists"
                                        .format(path, legacy))
            path = legacy
        with open(path, "rb") as fh:
            buf = fh.read()
        pos = 0
        while pos < len(buf):
            start = pos
            if len(buf) - pos < 4:
                raise SnapshotError("{}: truncated record header at byte {}".format(path, pos))
            if buf[pos:pos + 2] != _MAGIC or buf[pos + 2] not in (0, 1):
                raise SnapshotError("{}: not a SINGA snapshot record at byte {} (magic word "
                                    "{!r})".format(path, pos, bytes(buf[pos:pos + 4])))
            has_key = buf[pos + 2] == 1
            pos += 4
            key = b""
            if has_key:
                key, pos = self._field(buf, pos, path, start)
            value, pos = self._field(buf, pos, path, start)
            name = key.decode("utf-8")
            if name == "SINGA_VERSION":
                continue
            if name in self._params:
                raise SnapshotError("{}: parameter {!r} appears twice".format(path, name))
            where = "{} ({!r})".format(path, name)
            self._params[name] = _assemble(*_decode_tensor(value, where), where)

    @staticmethod
    def _field(buf, pos, path, start):
        if pos + 8 > len(buf):
            raise SnapshotError("{}: record at byte {} is truncated".format(path, start))
        (n,) = _LEN.unpack_from(buf, pos)
        pos += 8
        if pos + n > len(buf):
            raise SnapshotError("{}: record at byte {} is truncated (a field of {} bytes "
                                "runs past the end)".format(path, start, n))
        return bytes(buf[pos:pos + n]), pos + n

    def read(self):
        """All parameters, ``{name: Tensor}`` (on the default CPU device), in the order
        they were written; each call returns new Tensors."""
        if self.mode:
            raise RuntimeError("Snapshot {!r}: read on a snapshot opened for writing "
                               "(mode=True)".format(self.prefix))
        return {name: tensor_mod.from_numpy(a.copy()) for name, a in self._params.items()}
