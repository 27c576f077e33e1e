"""Checkpoints under damage: byte flips, truncations and zeroed blocks anywhere in the
file (zip headers, member data, the zip's directory and end record) and inside its
members (the JSON, the .npz, each .npy, re-zipped so that the zip's CRC-32 passes)
give a CheckpointError or, where the damaged bytes are ones a reader never uses, the
identical checkpoint; never another exception, a hang or a silently different model.
Version-1 files written before the format changed keep loading.

The suite runs a fixed-seed sample of positions in every region; the exhaustive sweep
over every byte is marked slow and runs with SINGA_SLOW_TESTS=1.
"""
import contextlib
import io
import json
import os
import signal
import struct
import zipfile

import numpy as np
import pytest

from singa import checkpoint, tensor
from singa.checkpoint import CheckpointError

from _examples import DATA, load_data_script

V1_FIXTURE = os.path.join(DATA, "ckpt_v1.zip")
SLOW = pytest.mark.skipif(os.environ.get("SINGA_SLOW_TESTS") != "1",
                          reason="exhaustive sweep: set SINGA_SLOW_TESTS=1")
MASKS = (0xFF, 0x01, 0x80)  # every bit, the lowest, the highest
HANG_SECONDS = 10  # one load takes about a millisecond


fx = load_data_script("make_checkpoint_v1")


def _filled_net():
    m = fx.tiny_net()
    model_states, opt_states, _ = fx.expected_states()
    m.set_states(model_states)
    m.optimizer.set_states(opt_states, params=m.get_params())
    return m


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    """{kind: (path, bytes, checkpoint.load's result)} for a checkpoint in each format
    this singa writes and the committed version-1 file."""
    d = tmp_path_factory.mktemp("damage")
    _, _, aux = fx.expected_states()
    m = _filled_net()
    paths = {"v1": V1_FIXTURE}
    for fmt in checkpoint.FORMATS:
        paths[fmt] = str(d / (fmt + ".zip"))
        m.save_states(paths[fmt], aux_states={"epoch": aux["epoch"],
                                              "best": tensor.from_numpy(aux["best"])},
                      format=fmt)
    return {k: (p, open(p, "rb").read(), checkpoint.load(p)) for k, p in paths.items()}


@pytest.fixture
def scratch(tmp_path):
    return str(tmp_path / "damaged.zip")


# ---- the oracle ----
@contextlib.contextmanager
def _deadline(what):
    """Fails (instead of hanging the suite) if the body runs past HANG_SECONDS."""
    def expire(signum, frame):
        raise AssertionError("loading hung (> {} s): {}".format(HANG_SECONDS, what))
    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _identical(got, ref):
    (arrays, attrs, meta), (ref_arrays, ref_attrs, ref_meta) = got, ref
    if set(arrays) != set(ref_arrays) or attrs != ref_attrs or meta != ref_meta:
        return False
    return all(arrays[k].dtype == ref_arrays[k].dtype and arrays[k].shape == ref_arrays[k].shape
               and arrays[k].tobytes() == ref_arrays[k].tobytes() for k in arrays)


def _outcome(scratch, damaged, ref, what, verified=True):
    """Loads ``damaged``: "error" for a CheckpointError, "same" for the identical
    checkpoint, "differs" for another (allowed only where ``verified`` is False:
    damage the zip's CRC-32 cannot see in a format without checksums). Any other
    exception propagates with ``what`` named."""
    with open(scratch, "wb") as f:
        f.write(damaged)
    with _deadline(what):
        try:
            got = checkpoint.load(scratch)
        except CheckpointError as e:
            assert scratch in str(e), (what, e)  # the message names the file
            return "error"
        except Exception as e:
            raise AssertionError("{}: {}: {}".format(what, type(e).__name__, e)) from e
    if _identical(got, ref):
        return "same"
    assert not verified, "{}: loaded a different checkpoint without an error".format(what)
    return "differs"


# ---- damage ----
def _flip(data, pos, mask):
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


def _zero(data, start, length):
    b = bytearray(data)
    b[start:start + length] = bytes(len(b[start:start + length]))
    return bytes(b)


def _regions(data):
    """[(label, start, end)] covering the zip byte for byte: each member's local header
    and data, the central directory, the end record."""
    regions = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
    for info in infos:
        start = info.header_offset
        name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
        body = start + 30 + name_len + extra_len
        regions.append(("local header " + info.filename, start, body))
        regions.append(("data " + info.filename, body, body + info.compress_size))
    end_record = data.rfind(b"PK\x05\x06")
    directory = struct.unpack("<I", data[end_record + 16:end_record + 20])[0]
    assert regions[-1][2] == directory, "members and directory are not contiguous"
    regions.append(("central directory", directory, end_record))
    regions.append(("end record", end_record, len(data)))
    return regions


def _sample(regions, per_region, seed):
    """Fixed-seed positions: each region's first and last byte and ``per_region`` more."""
    rng = np.random.default_rng(seed)
    out = []
    for label, start, end in regions:
        picks = {start, end - 1} | set(rng.integers(start, end, per_region).tolist())
        out += [(label, p) for p in sorted(picks)]
    return out


def _rezip(members, compression=zipfile.ZIP_DEFLATED):
    """A zip of {name: bytes}, with fresh (so valid) CRC-32s."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, b in members.items():
            zf.writestr(name, b)
    return buf.getvalue()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


# ---- the file as bytes: fixed-seed sample in every region ----
KINDS = ("verified", "singa", "v1")


def test_regions_cover_the_file(subjects):
    for kind, (_, data, _) in subjects.items():
        regions = _regions(data)
        assert regions[0][1] == 0 and regions[-1][2] == len(data)
        assert all(a[2] == b[1] for a, b in zip(regions, regions[1:]))
        labels = {r[0] for r in regions}
        assert {"data tensor_dict.npz", "data states_attr.json", "central directory",
                "end record"} <= labels, kind


@pytest.mark.parametrize("kind", KINDS)
def test_byte_flips_anywhere(kind, subjects, scratch):
    _, data, ref = subjects[kind]
    seen = {"error": 0, "same": 0}
    for label, pos in _sample(_regions(data), 4, seed=7):
        for mask in MASKS:
            seen[_outcome(scratch, _flip(data, pos, mask), ref,
                          "{} file, {} byte {} ^ {:#x}".format(kind, label, pos, mask))] += 1
    # the zip's CRC-32 covers every member, so each flip in member data is caught
    assert seen["error"] > seen["same"]


@pytest.mark.parametrize("kind", KINDS)
def test_truncations_anywhere(kind, subjects, scratch):
    _, data, ref = subjects[kind]
    cuts = [0, 1, 4] + [pos for _, pos in _sample(_regions(data), 4, seed=8)] \
        + list(range(len(data) - 30, len(data)))
    for cut in cuts:
        assert _outcome(scratch, data[:cut], ref, "{} file cut to {} of {} bytes".format(
            kind, cut, len(data))) == "error"


@pytest.mark.parametrize("kind", KINDS)
def test_zeroed_blocks_anywhere(kind, subjects, scratch):
    """A lost sector reads back as zeros."""
    _, data, ref = subjects[kind]
    for label, pos in _sample(_regions(data), 2, seed=9):
        for length in (4, 64):
            _outcome(scratch, _zero(data, pos, length), ref,
                     "{} file, {} zeroed at {} for {}".format(kind, label, pos, length))


# ---- inside the members, re-zipped so that the CRC-32 passes ----
def _member_damage(members, name, rng, count):
    """Fixed-seed flips and truncations of one member."""
    raw = members[name]
    for pos in sorted(set(rng.integers(0, len(raw), count).tolist()) | {0, len(raw) - 1}):
        for mask in (0x01, 0x20):
            yield "{} byte {} ^ {:#x}".format(name, pos, mask), _flip(raw, pos, mask)
    for cut in sorted(set(rng.integers(0, len(raw), 4).tolist())):
        yield "{} cut to {}".format(name, cut), raw[:cut]


def _npy_damage(members, rng, count):
    """Damage to one .npy inside tensor_dict.npz, the .npz re-zipped as NumPy writes it."""
    npz = _members(members[checkpoint.TENSOR_DICT_FILENAME])
    for name in ("l1.W.npy", "__opt__/step_counter.npy"):
        for what, raw in _member_damage(npz, name, rng, count):
            inner = dict(npz)
            inner[name] = raw
            yield what, _rezip(inner, zipfile.ZIP_STORED)


@pytest.mark.parametrize("kind", ("verified", "v1"))
def test_member_damage_is_detected(kind, subjects, scratch):
    """Where the zip's CRC-32 passes, the checksums catch it: in version 2 every stored
    byte (JSON attributes and header included); in version 1 the arrays (its attributes
    and meta carry no checksum, so only the arrays are held to identical there)."""
    _, data, ref = subjects[kind]
    members = _members(data)
    rng = np.random.default_rng(10)
    cases = []
    for name in members:
        cases += [(what, name, raw) for what, raw in _member_damage(members, name, rng, 12)]
    cases += [(what, checkpoint.TENSOR_DICT_FILENAME, raw)
              for what, raw in _npy_damage(members, rng, 8)]
    for what, name, raw in cases:
        damaged = dict(members)
        damaged[name] = raw
        if kind == "verified" or name == checkpoint.TENSOR_DICT_FILENAME:
            _outcome(scratch, _rezip(damaged), ref, kind + " file, " + what)
        elif _outcome(scratch, _rezip(damaged), ref, kind + " file, " + what,
                      verified=False) == "differs":
            arrays = checkpoint.load(scratch)[0]
            assert all(arrays[k].tobytes() == ref[0][k].tobytes() for k in ref[0]), what


def test_singa_format_member_damage_never_crashes(subjects, scratch):
    """SINGA's format has no checksums: damage the CRC-32 cannot see may load, but
    loading (file and model) only ever returns or raises CheckpointError."""
    _, data, ref = subjects["singa"]
    members = _members(data)
    rng = np.random.default_rng(11)
    cases = [(w, n, r) for n in members for w, r in _member_damage(members, n, rng, 10)]
    cases += [(w, checkpoint.TENSOR_DICT_FILENAME, r) for w, r in _npy_damage(members, rng, 12)]
    differs = 0
    for what, name, raw in cases:
        damaged = dict(members)
        damaged[name] = raw
        if _outcome(scratch, _rezip(damaged), ref, "singa file, " + what,
                    verified=False) == "differs":
            differs += 1
            with _deadline(what):
                try:
                    fx.tiny_net().load_states(scratch)
                except CheckpointError:
                    pass
    assert differs > 0  # the sample does reach what only checksums could catch


# ---- the checksums cover every stored attribute ----
def _tamper_json(data, name, change):
    members = _members(data)
    value = json.loads(members[name])
    change(value)
    members[name] = json.dumps(value).encode()
    return _rezip(members)


@pytest.mark.parametrize("field,value", [("dtype", 4), ("state_type", 1), ("np_dtype", "<f8"),
                                         ("shape", [3, 2]), ("sha256", "0" * 64),
                                         ("added", True)])
def test_checksum_covers_each_attribute(field, value, subjects, scratch):
    _, data, _ = subjects["verified"]

    def change(attrs):
        attrs["l1.W"][field] = value
    with open(scratch, "wb") as f:
        f.write(_tamper_json(data, checkpoint.STATES_ATTR_FILENAME, change))
    with pytest.raises(CheckpointError, match="overall checksum"):
        checkpoint.load(scratch)


@pytest.mark.parametrize("field,value", [("meta", {"model": "Other"}), ("num_arrays", 17),
                                         ("version", 1), ("added", 0)])
def test_checksum_covers_the_header(field, value, subjects, scratch):
    _, data, _ = subjects["verified"]

    def change(header):
        header[field] = value
    with open(scratch, "wb") as f:
        f.write(_tamper_json(data, checkpoint.META_FILENAME, change))
    with pytest.raises(CheckpointError, match="overall checksum"):
        checkpoint.load(scratch)


def test_lost_verification_member_is_refused(subjects, scratch):
    """Dropping checkpoint_meta.json must not turn a verified file into an unverified
    one that loads; nor may a member whose name was damaged be skipped."""
    _, data, _ = subjects["verified"]
    members = _members(data)
    header = members.pop(checkpoint.META_FILENAME)
    with open(scratch, "wb") as f:
        f.write(_rezip(members))
    with pytest.raises(CheckpointError, match="member that verifies them is missing"):
        checkpoint.load(scratch)
    members["checkpoint_meta.jsoN"] = header
    with open(scratch, "wb") as f:
        f.write(_rezip(members))
    with pytest.raises(CheckpointError, match="unexpected members"):
        checkpoint.load(scratch)


def test_huge_declared_shape_refused_before_allocating(subjects, scratch):
    """A damaged .npy header asking for 2**40 floats is refused from the sizes alone."""
    _, data, _ = subjects["singa"]
    members = _members(data)
    npz = _members(members[checkpoint.TENSOR_DICT_FILENAME])
    raw = npz["l1.b.npy"]
    header_end = raw.index(b"\n") + 1
    header = raw[:header_end].replace(b"(3,)", b"(1099511627776,)")
    npz["l1.b.npy"] = header + raw[header_end:]
    members[checkpoint.TENSOR_DICT_FILENAME] = _rezip(npz, zipfile.ZIP_STORED)
    with open(scratch, "wb") as f:
        f.write(_rezip(members))
    with pytest.raises(CheckpointError, match=r"'l1.b'.*needs 4398046511104 bytes"):
        checkpoint.load(scratch)


@pytest.mark.parametrize("version", [3, 0, "2", None, True])
def test_header_version_checked(version, subjects, scratch):
    _, data, _ = subjects["verified"]

    def change(header):
        header["version"] = version
    with open(scratch, "wb") as f:
        f.write(_tamper_json(data, checkpoint.META_FILENAME, change))
    with pytest.raises(CheckpointError, match="newer than|invalid format version"):
        checkpoint.load(scratch)


@pytest.mark.parametrize("attrs", ['[1, 2]', '{"l1.W": 5}', '{"l1.W": {"shape": 3}}',
                                   '{"l1.W": {"shape": [-1]}}', '{"l1.W": {"sha256": 1}}'])
def test_malformed_attributes_refused(attrs, subjects, scratch):
    _, data, _ = subjects["singa"]
    members = _members(data)
    members[checkpoint.STATES_ATTR_FILENAME] = attrs.encode()
    with open(scratch, "wb") as f:
        f.write(_rezip(members))
    with pytest.raises(CheckpointError, match="JSON object|invalid"):
        checkpoint.load(scratch)


# ---- the model is untouched by a damaged file ----
@pytest.mark.parametrize("kind", KINDS)
def test_failed_load_leaves_the_model_as_it_was(kind, subjects, scratch):
    _, data, _ = subjects[kind]
    m = fx.tiny_net()
    for _, pos in _sample(_regions(data), 1, seed=12):
        before = {k: tensor.to_numpy(v).copy() for k, v in m.get_states().items()}
        opt_before = m.optimizer.get_states(names={t: k for k, t in m.get_params().items()})
        with open(scratch, "wb") as f:
            f.write(_flip(data, pos, 0xFF))
        try:
            m.load_states(scratch)
        except CheckpointError:
            for k, v in m.get_states().items():
                np.testing.assert_array_equal(tensor.to_numpy(v), before[k], err_msg=k)
            opt_after = m.optimizer.get_states(names={t: k for k, t in m.get_params().items()})
            assert opt_after.keys() == opt_before.keys(), pos
        else:  # a byte no reader uses: the model holds the saved values
            model_states, _, _ = fx.expected_states()
            for k, v in model_states.items():
                np.testing.assert_array_equal(tensor.to_numpy(m.get_states()[k]), v)


# ---- version 1 keeps loading ----
def test_v1_fixture_is_version_1():
    with zipfile.ZipFile(V1_FIXTURE) as zf:
        header = json.loads(zf.read(checkpoint.META_FILENAME))
    assert header["version"] == 1 and checkpoint.VERSION > 1


def test_v1_fixture_loads_every_value():
    m = fx.tiny_net()
    aux = m.load_states(V1_FIXTURE)
    model_states, opt_states, aux_expected = fx.expected_states()
    for k, v in model_states.items():
        np.testing.assert_array_equal(tensor.to_numpy(m.get_states()[k]), v, err_msg=k)
    saved = m.optimizer.get_states(names={t: k for k, t in m.get_params().items()})
    assert saved.keys() == opt_states.keys()
    for k, v in opt_states.items():
        np.testing.assert_array_equal(saved[k], v, err_msg=k)
    assert set(aux) == set(aux_expected)
    np.testing.assert_array_equal(tensor.to_numpy(aux["best"]), aux_expected["best"])
    assert int(tensor.to_numpy(aux["epoch"]).reshape(-1)[0]) == 2


def test_v1_fixture_still_verifies_its_arrays(scratch):
    with open(V1_FIXTURE, "rb") as f:
        members = _members(f.read())
    npz = np.load(io.BytesIO(members[checkpoint.TENSOR_DICT_FILENAME]))
    arrays = {k: npz[k] for k in npz.files}
    arrays["l2.b"] = arrays["l2.b"] + 1
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    members[checkpoint.TENSOR_DICT_FILENAME] = buf.getvalue()
    with open(scratch, "wb") as f:
        f.write(_rezip(members))
    with pytest.raises(CheckpointError, match="checksum mismatch for array 'l2.b'"):
        checkpoint.load(scratch)


def test_resaving_v1_writes_the_current_version(tmp_path):
    m = fx.tiny_net()
    aux = m.load_states(V1_FIXTURE)
    path = str(tmp_path / "again.zip")
    m.save_states(path, aux_states=aux)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read(checkpoint.META_FILENAME))["version"] == checkpoint.VERSION
    assert checkpoint.load(path)[0].keys() == checkpoint.load(V1_FIXTURE)[0].keys()


# ---- the exhaustive sweep ----
@SLOW
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sweep_every_byte_and_cut(kind, subjects, scratch):
    _, data, ref = subjects[kind]
    for pos in range(len(data)):
        for mask in MASKS:
            _outcome(scratch, _flip(data, pos, mask), ref,
                     "{} file byte {} ^ {:#x}".format(kind, pos, mask))
        _outcome(scratch, _zero(data, pos, 16), ref, "{} file zeroed at {}".format(kind, pos))
    for cut in range(len(data)):
        assert _outcome(scratch, data[:cut], ref, "{} file cut to {}".format(kind, cut)) \
            == "error"


@SLOW
@pytest.mark.slow
def test_sweep_every_member_byte_verified(subjects, scratch):
    _, data, ref = subjects["verified"]
    members = _members(data)
    npz = _members(members[checkpoint.TENSOR_DICT_FILENAME])
    for name, raw in list(members.items()) + [("npy " + n, r) for n, r in npz.items()]:
        for pos in range(len(raw)):
            for mask in (0x01, 0x20, 0x80):
                damaged_raw = _flip(raw, pos, mask)
                damaged = dict(members)
                if name.startswith("npy "):
                    inner = dict(npz)
                    inner[name[4:]] = damaged_raw
                    damaged[checkpoint.TENSOR_DICT_FILENAME] = _rezip(inner, zipfile.ZIP_STORED)
                else:
                    damaged[name] = damaged_raw
                _outcome(scratch, _rezip(damaged), ref,
                         "verified file, {} byte {} ^ {:#x}".format(name, pos, mask))
