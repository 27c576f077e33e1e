"""singa.snapshot: SINGA's Snapshot(f, mode, buffer_size) over SINGA's own .bin/.desc
files. The fixture records below are built byte by byte from the format (magic word,
8-byte lengths, a protobuf-2 TensorProto), independently of the module's writer."""

import gc
import os
import struct

import numpy as np
import pytest

from singa import layer, snapshot, tensor


def _t(a):
    return tensor.from_numpy(np.asarray(a))


def _u64(n):
    return struct.pack("<Q", n)


def _record(key, value):
    return b"sg\x01\x00" + _u64(len(key)) + key + _u64(len(value)) + value


def _f32s(*vals):
    return struct.pack("<{}f".format(len(vals)), *vals)


# TensorProto of a float32 tensor of shape (2,) holding [1.5, -2]: shape (field 1,
# varint), data_type (2) = kFloat32, stride (3) = 1, float_data (4, packed, 8 bytes).
_W_PROTO = b"\x08\x02" + b"\x10\x00" + b"\x18\x01" + b"\x22\x08" + _f32s(1.5, -2.0)


@pytest.fixture
def prefix(tmp_path):
    return str(tmp_path / "params")


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.float16])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 1, 4), (1,), (0, 3)], ids=str)
def test_written_tensors_read_back_equal(prefix, dtype, shape):
    a = (np.arange(int(np.prod(shape))) - 3).reshape(shape).astype(dtype)
    sn = snapshot.Snapshot(prefix, True)
    sn.write("p", _t(a))
    sn.close()
    got = snapshot.Snapshot(prefix, False).read()["p"]
    assert got.dtype == tensor.from_numpy(a).dtype and got.shape == shape
    np.testing.assert_array_equal(tensor.to_numpy(got), a)


def test_read_returns_every_parameter_by_name_in_write_order(prefix):
    values = {"conv1.W": np.ones((2, 1, 3, 3), np.float32), "conv1.b": np.zeros(2, np.float32),
              "fc.W": np.full((4, 5), 0.25, np.float32)}
    with snapshot.Snapshot(prefix, True) as sn:
        for name, a in values.items():
            sn.write(name, _t(a))
    params = snapshot.Snapshot(prefix, False).read()
    assert list(params) == list(values)
    for name, a in values.items():
        assert isinstance(params[name], tensor.Tensor)
        np.testing.assert_array_equal(tensor.to_numpy(params[name]), a)


def test_a_non_contiguous_tensor_is_written_by_its_values(prefix):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    with snapshot.Snapshot(prefix, True) as sn:
        sn.write("t", tensor.transpose(_t(a)))
    np.testing.assert_array_equal(
        tensor.to_numpy(snapshot.Snapshot(prefix, False).read()["t"]), a.T)


def test_model_parameters_survive_a_snapshot(prefix):
    x = _t(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32))
    fc = layer.Linear(5)
    want = tensor.to_numpy(fc(x))
    with snapshot.Snapshot(prefix, True) as sn:
        for name, p in fc.get_params().items():
            sn.write(name, p)
    other = layer.Linear(5)
    other(x)
    other.set_params(snapshot.Snapshot(prefix, False).read())
    np.testing.assert_allclose(tensor.to_numpy(other(x)), want, rtol=1e-6)


def test_each_read_gives_new_tensors(prefix):
    with snapshot.Snapshot(prefix, True) as sn:
        sn.write("w", _t(np.ones(2, np.float32)))
    sn = snapshot.Snapshot(prefix, False)
    first = sn.read()["w"]
    first += 1.0
    np.testing.assert_array_equal(tensor.to_numpy(sn.read()["w"]), [1.0, 1.0])


# ------------------------------------------------------------ SINGA's format

def test_writer_produces_singas_record_bytes(prefix):
    with snapshot.Snapshot(prefix, True) as sn:
        sn.write("w", _t(np.array([1.5, -2.0], np.float32)))
    with open(prefix + ".bin", "rb") as fh:
        assert fh.read() == _record(b"w", _W_PROTO)


def test_desc_file_describes_each_parameter(prefix):
    with snapshot.Snapshot(prefix, True) as sn:
        sn.write("fc.W", _t(np.zeros((4, 3), np.float64)))
        sn.write("step", _t(np.zeros(1, np.int32)))
    lines = open(prefix + ".desc").read().splitlines()
    assert lines[0].isdigit()  # SINGA's version line
    assert lines[1:] == ["parameter name: fc.W\tdata type: 4\tdim: 2\tshape: 4 3",
                         "parameter name: step\tdata type: 2\tdim: 1\tshape: 1"]


def test_reads_a_file_made_from_singas_format(prefix):
    # A transposed (3, 2) view stored as SINGA does: its (2, 3) memory with strides (1, 3).
    memory = np.arange(6, dtype=np.float32)
    transposed = (b"\x08\x03\x08\x02" + b"\x10\x00" + b"\x18\x01\x18\x03" +
                  b"\x22\x18" + memory.astype("<f4").tobytes())
    # Doubles written one per field (unpacked), an unknown field 9 that must be skipped.
    unpacked = (b"\x08\x02\x10\x04" + b"\x29" + struct.pack("<d", 0.5) +
                b"\x29" + struct.pack("<d", -1.0) + b"\x48\x07")
    # int_data: packed varints, -3 as a ten-byte varint, as protobuf writes int32.
    neg = b"\xfd" + b"\xff" * 8 + b"\x01"
    ints = b"\x08\x02\x10\x02\x32" + bytes([1 + len(neg)]) + b"\x07" + neg
    blob = (_record(b"SINGA_VERSION", b"5100") + _record(b"w", _W_PROTO) +
            _record(b"t", transposed) + _record(b"d", unpacked) + _record(b"i", ints))
    with open(prefix + ".bin", "wb") as fh:
        fh.write(blob)
    params = snapshot.Snapshot(prefix, False).read()
    assert list(params) == ["w", "t", "d", "i"]
    np.testing.assert_array_equal(tensor.to_numpy(params["w"]), [1.5, -2.0])
    np.testing.assert_array_equal(tensor.to_numpy(params["t"]),
                                  memory.reshape(2, 3).T)
    assert params["d"].dtype == tensor.float64
    np.testing.assert_array_equal(tensor.to_numpy(params["d"]), [0.5, -1.0])
    assert params["i"].dtype == tensor.int32
    np.testing.assert_array_equal(tensor.to_numpy(params["i"]), [7, -3])


def test_reads_singa_1_0_model_files_when_there_is_no_bin(prefix):
    with open(prefix + ".model", "wb") as fh:
        fh.write(_record(b"w", _W_PROTO))
    np.testing.assert_array_equal(
        tensor.to_numpy(snapshot.Snapshot(prefix, False).read()["w"]), [1.5, -2.0])


# ------------------------------------------------------------------ buffering

def test_records_stay_in_the_buffer_until_it_fills_or_closes(prefix):
    sn = snapshot.Snapshot(prefix, True, buffer_size=1)
    sn.write("small", _t(np.ones(10, np.float32)))
    assert os.path.getsize(prefix + ".bin") == 0
    # Three records of ~400 KB: the third no longer fits the 1 MB buffer.
    for i in range(3):
        sn.write("big{}".format(i), _t(np.ones(100_000, np.float32)))
    assert os.path.getsize(prefix + ".bin") > 800_000
    sn.close()
    assert set(snapshot.Snapshot(prefix, False).read()) == {"small", "big0", "big1", "big2"}


def test_a_record_larger_than_the_buffer_is_refused(prefix):
    sn = snapshot.Snapshot(prefix, True, buffer_size=1)
    with pytest.raises(ValueError, match="buffer_size=1 MB"):
        sn.write("huge", _t(np.ones(300_000, np.float32)))
    sn.write("fine", _t(np.ones(3, np.float32)))
    sn.close()
    assert list(snapshot.Snapshot(prefix, False).read()) == ["fine"]


def test_a_dropped_snapshot_is_flushed(prefix):
    sn = snapshot.Snapshot(prefix, True)
    sn.write("w", _t(np.array([1.5, -2.0], np.float32)))
    del sn
    gc.collect()
    np.testing.assert_array_equal(
        tensor.to_numpy(snapshot.Snapshot(prefix, False).read()["w"]), [1.5, -2.0])


# --------------------------------------------------------------------- errors

def test_argument_errors(prefix):
    with pytest.raises(ValueError, match="mode"):
        snapshot.Snapshot(prefix, "w")
    with pytest.raises(ValueError, match="buffer_size"):
        snapshot.Snapshot(prefix, True, buffer_size=0)
    sn = snapshot.Snapshot(prefix, True)
    sn.write("w", _t(np.ones(2, np.float32)))
    with pytest.raises(ValueError, match="already"):
        sn.write("w", _t(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="Tensor"):
        sn.write("x", np.ones(2))
    with pytest.raises(RuntimeError, match="writing"):
        sn.read()
    sn.close()
    with pytest.raises(RuntimeError, match="after close"):
        sn.write("y", _t(np.ones(2, np.float32)))
    with pytest.raises(RuntimeError, match="reading"):
        snapshot.Snapshot(prefix, False).write("z", _t(np.ones(1, np.float32)))


def test_missing_files_name_both_candidates(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.bin.*nothing\.model"):
        snapshot.Snapshot(str(tmp_path / "nothing"), False)


@pytest.mark.parametrize("blob,match", [
    (b"xx\x01\x00" + _u64(1) + b"w" + _u64(len(_W_PROTO)) + _W_PROTO, "magic"),
    (_record(b"w", _W_PROTO)[:-3], "truncated"),
    (_record(b"w", b"\x08\x03\x10\x00\x22\x08" + _f32s(1.0, 2.0)), "needs 3 values"),
    (_record(b"w", b"\x08\x01\x10\x03"), "kChar"),
    (_record(b"w", _W_PROTO) + _record(b"w", _W_PROTO), "twice"),
], ids=["magic", "truncated", "count", "dtype", "duplicate"])
def test_corrupt_files_raise_naming_the_problem(prefix, blob, match):
    with open(prefix + ".bin", "wb") as fh:
        fh.write(blob)
    with pytest.raises(snapshot.SnapshotError, match=match):
        snapshot.Snapshot(prefix, False)
    assert issubclass(snapshot.SnapshotError, ValueError)
