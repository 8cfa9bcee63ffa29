"""fastconv.io: weight files round trip, and bad files fail cleanly (ValueError naming the file)."""
import json
import os
import struct
import sys
import zipfile

import numpy as np
import pytest

from fastconv import io as fio


def _state():
    r = np.random.default_rng(0)
    return {
        "conv.weight": r.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "conv.bias": r.standard_normal(4).astype(np.float32),
        "bn.running_var": r.random(4).astype(np.float64),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),  # 0-d, as torch's
        "empty": np.zeros((0, 5), np.float32),
        "file": np.arange(3, dtype=np.float32),  # would collide with np.savez's own parameter
    }


def _assert_same(a, b):
    assert list(sorted(a)) == list(sorted(b))
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _safetensors_bytes(header, data=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


# ---- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_round_trip(tmp_path, suffix):
    sd = _state()
    path = tmp_path / ("w" + suffix)
    fio.save(sd, path)
    _assert_same(fio.load(path), sd)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_round_trip_non_contiguous_and_str_path(tmp_path, suffix):
    w = np.arange(12, dtype=np.float64).reshape(3, 4).T  # Fortran-ordered view
    path = str(tmp_path / ("w" + suffix))
    fio.save({"w": w}, path)
    np.testing.assert_array_equal(fio.load(path)["w"], w)


def test_safetensors_interoperates_with_the_safetensors_package(tmp_path):
    from safetensors.numpy import load_file, save_file
    sd = _state()
    ours = tmp_path / "ours.safetensors"
    fio.save(sd, ours)
    _assert_same(load_file(str(ours)), sd)
    theirs = tmp_path / "theirs.safetensors"
    save_file(sd, str(theirs))
    _assert_same(fio.load(theirs), sd)


def test_npz_interoperates_with_numpy(tmp_path):
    sd = {k: v for k, v in _state().items() if k != "file"}
    path = tmp_path / "w.npz"
    np.savez(path, **sd)
    _assert_same(fio.load(path), sd)
    fio.save(sd, path)
    with np.load(path, allow_pickle=False) as z:
        _assert_same({k: z[k] for k in z.files}, sd)


def test_half_precision_is_widened_to_float32(tmp_path):
    from safetensors.numpy import save_file
    h = np.array([1.5, -2.25, 65504.0], dtype=np.float16)
    # bfloat16 of 1.0, -2.0, 3.140625: the high 16 bits of the float32 patterns
    bf = (np.array([1.0, -2.0, 3.140625], np.float32).view(np.uint32) >> 16).astype(np.uint16)
    path = tmp_path / "half.safetensors"
    save_file({"h": h}, str(path))
    out = fio.load(path)["h"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, h.astype(np.float32))
    # write a BF16 tensor by hand (NumPy has no bfloat16 type)
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(_safetensors_bytes({"b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}},
                                        bf.astype("<u2").tobytes()))
    out = fio.load(path)["b"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, -2.0, 3.140625])


def test_save_takes_a_model_like_object(tmp_path):
    class Holder:
        def state_dict(self):
            return {"a": np.ones(2, np.float32)}
    fio.save(Holder(), tmp_path / "m.npz")
    np.testing.assert_array_equal(fio.load(tmp_path / "m.npz")["a"], [1, 1])


def test_convert(tmp_path):
    sd = _state()
    fio.save(sd, tmp_path / "a.npz")
    fio.convert(tmp_path / "a.npz", tmp_path / "a.safetensors")
    _assert_same(fio.load(tmp_path / "a.safetensors"), sd)


# ---- atomic saving ----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch, suffix):
    path = tmp_path / ("w" + suffix)
    fio.save({"a": np.ones(3, np.float32)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")
    if suffix == ".npz":
        monkeypatch.setattr(np.lib.format, "write_array", boom)
    else:
        import safetensors.numpy
        monkeypatch.setattr(safetensors.numpy, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        fio.save({"a": np.zeros(1000, np.float32)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="numeric"):
        fio.save({"a": np.array(["x"])}, tmp_path / "w.npz")
    with pytest.raises(TypeError, match="numeric"):
        fio.save({"a": np.array([object()], dtype=object)}, tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match="keys"):
        fio.save({1: np.ones(1)}, tmp_path / "w.npz")
    with pytest.raises(TypeError, match="mapping"):
        fio.save([np.ones(1)], tmp_path / "w.npz")
    with pytest.raises(ValueError, match="never writes pickle"):
        fio.save({"a": np.ones(1)}, tmp_path / "w.pt")
    with pytest.raises(ValueError, match="unknown weights format"):
        fio.save({"a": np.ones(1)}, tmp_path / "w.h5")
    assert list(tmp_path.iterdir()) == []


# ---- bad files --------------------------------------------------------------------------------

def _load_error(path):
    with pytest.raises(ValueError) as info:
        fio.load(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(FileNotFoundError):
        fio.load(tmp_path / "nope.safetensors")
    (tmp_path / "w.txt").write_text("hello")
    with pytest.raises(ValueError, match="unknown weights format"):
        fio.load(tmp_path / "w.txt")


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_every_truncation_is_a_clean_error(tmp_path, suffix):
    good = tmp_path / ("good" + suffix)
    fio.save(_state(), good)
    data = good.read_bytes()
    cuts = sorted({0, 1, 7, 8, 9, 20, len(data) // 2, len(data) - 100, len(data) - 1}
                  | set(range(0, len(data), max(1, len(data) // 40))))
    for cut in cuts:
        bad = tmp_path / ("bad" + suffix)
        bad.write_bytes(data[:cut])
        _load_error(bad)


def test_safetensors_oversized_header(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    assert "limit" in _load_error(path)
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    assert "truncated" in _load_error(path)


@pytest.mark.parametrize("header, data, why", [
    # shape needs 4*4 = 16 bytes but offsets span 8
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, bytes(8), "needs 16 bytes"),
    # offsets point past the end of the file
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8), "truncated"),
    # huge shape whose byte count overflows int64
    ({"a": {"dtype": "F64", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, bytes(8), "needs"),
    # two tensors on the same bytes
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12), "overlap"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), "shape"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, bytes(4), "data_offsets"),
    ({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8), "dtype"),
    ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), "lacks"),
    ([1, 2, 3], b"", "JSON object"),
])
def test_safetensors_lying_headers(tmp_path, header, data, why):
    path = tmp_path / "lie.safetensors"
    path.write_bytes(_safetensors_bytes(header, data))
    assert why in _load_error(path)


def test_safetensors_header_not_json(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 5) + b"\xff{abc")
    assert "JSON" in _load_error(path)


def test_safetensors_gap_in_data_refused(tmp_path):
    # bytes not covered by any tensor: the safetensors library refuses such files
    path = tmp_path / "gap.safetensors"
    path.write_bytes(_safetensors_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
                                        bytes(8)))
    _load_error(path)


def test_pickled_npz_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    path = tmp_path / "evil.npz"
    np.savez(path, a=np.array([Payload()], dtype=object))
    assert "pickle" in _load_error(path)
    assert not marker.exists()


@pytest.mark.parametrize("array", [np.array(["a", "b"]), np.array([1 + 2j]),
                                   np.zeros(2, dtype="datetime64[s]")])
def test_npz_wrong_dtypes(tmp_path, array):
    path = tmp_path / "w.npz"
    np.savez(path, a=array)
    assert "dtype" in _load_error(path)


@pytest.mark.parametrize("shape", [(1000,), (2**40, 2**20)])
def test_npz_member_header_lies_about_shape(tmp_path, shape):
    import io as pyio
    member = pyio.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f4", "fortran_order": False, "shape": shape})
    member.write(np.ones(4, np.float32).tobytes())  # 16 bytes where 4000 are promised
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.npy", member.getvalue())
    assert "promises" in _load_error(path)  # refused before NumPy allocates what it promises


def test_npy_file_named_npz(tmp_path):
    path = tmp_path / "single.npz"
    with open(path, "wb") as f:
        np.save(f, np.ones(3))
    _load_error(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"PK\x03\x04" + os.urandom(64))
    _load_error(path)


# ---- PyTorch files ----------------------------------------------------------------------------

def test_torch_files_without_torch_explain_how_to_convert(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    path.write_bytes(b"not really")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    msg = _load_error(path)
    assert "PyTorch" in msg and "safetensors" in msg


def test_torch_state_dict_and_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    sd = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
          "h": torch.ones(2, dtype=torch.bfloat16),
          "n": torch.tensor(3)}
    torch.save(sd, tmp_path / "w.pth")
    out = fio.load(tmp_path / "w.pth")
    np.testing.assert_array_equal(out["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["h"].dtype == np.float32 and out["n"].shape == ()
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "ckpt.pt")
    assert sorted(fio.load(tmp_path / "ckpt.pt")) == ["h", "n", "w"]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_torch_malicious_pickle_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    path = tmp_path / "evil.pt"
    torch.save({"w": Payload()}, path)
    _load_error(path)
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04junk")
    _load_error(tmp_path / "junk.pt")


# ---- key mapping ------------------------------------------------------------------------------

def test_timm_vgg_names_map_to_torchvision():
    r = np.random.default_rng(1)
    timm = {
        "features.0.weight": r.standard_normal((64, 3, 3, 3)),
        "pre_logits.fc1.weight": r.standard_normal((16, 512, 7, 7)),
        "pre_logits.fc1.bias": r.standard_normal(16),
        "pre_logits.fc2.weight": r.standard_normal((16, 16, 1, 1)),
        "pre_logits.fc2.bias": r.standard_normal(16),
        "head.fc.weight": r.standard_normal((10, 16)),
        "head.fc.bias": r.standard_normal(10),
    }
    tv = fio.timm_vgg_to_torchvision(timm)
    assert list(tv) == ["features.0.weight", "classifier.0.weight", "classifier.0.bias",
                        "classifier.3.weight", "classifier.3.bias", "classifier.6.weight",
                        "classifier.6.bias"]
    assert tv["classifier.0.weight"].shape == (16, 512 * 7 * 7)
    assert tv["classifier.3.weight"].shape == (16, 16)
    # a 7x7 convolution over the 512x7x7 map equals the Linear over its (C, H, W) flattening
    x = r.standard_normal((512, 7, 7))
    conv = np.einsum("ochw,chw->o", timm["pre_logits.fc1.weight"], x)
    np.testing.assert_allclose(tv["classifier.0.weight"] @ x.reshape(-1), conv, rtol=1e-12)
    np.testing.assert_array_equal(tv["classifier.6.weight"], timm["head.fc.weight"])


def test_strip_prefix():
    assert list(fio.strip_prefix({"module.a": 1, "b": 2})) == ["a", "b"]


# ---- loading into a model: all or nothing -------------------------------------------------------

def _small_model():
    from fastconv import nn
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))


def _snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_load_weights_round_trip_and_dtype_cast(tmp_path, suffix):
    src = _small_model()
    for p in src.parameters():
        p.data[...] = np.random.default_rng(0).standard_normal(p.shape)
    fio.save(src, tmp_path / ("m" + suffix))
    dst = _small_model().double()  # float32 file into a float64 model
    assert fio.load_weights(dst, tmp_path / ("m" + suffix)) is dst
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[k], v.astype(dst.state_dict()[k].dtype))


@pytest.mark.parametrize("corrupt, match", [
    (lambda sd: sd.update({"4.weight": np.zeros((3, 4), np.float32)}), "4.weight"),   # wrong shape
    (lambda sd: sd.pop("1.running_var"), "1.running_var"),                            # missing
    (lambda sd: sd.update({"9.weight": np.zeros(1, np.float32)}), "9.weight"),        # unknown key
    (lambda sd: sd.update({"module.x": np.zeros(1, np.float32)}), '"x"'),             # unknown after prefix strip
])
def test_load_weights_failure_leaves_the_model_unchanged(tmp_path, corrupt, match):
    sd = _small_model().state_dict()
    corrupt(sd)
    fio.save(sd, tmp_path / "bad.npz")
    model = _small_model()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=match) as info:
        fio.load_weights(model, tmp_path / "bad.npz")
    assert "bad.npz" in str(info.value)
    after = model.state_dict()
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_load_weights_bad_file_leaves_the_model_unchanged(tmp_path):
    good = tmp_path / "good.safetensors"
    fio.save(_small_model(), good)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(good.read_bytes()[:-10])
    model = _small_model()
    before = _snapshot(model)
    with pytest.raises(ValueError, match="bad.safetensors"):
        fio.load_weights(model, bad)
    assert all(np.array_equal(model.state_dict()[k], before[k]) for k in before)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_mutated_files_load_or_fail_with_a_value_error(tmp_path, suffix):
    # bit flips, overwrites with boundary values, truncations and extensions: every outcome is
    # either arrays or a ValueError naming the file (zipfile alone raises half a dozen types)
    r = np.random.default_rng(0)
    path = tmp_path / ("w" + suffix)
    fio.save({"a.weight": r.standard_normal((3, 4)).astype(np.float32), "b": np.arange(5),
              "c.bias": np.zeros(2)}, path)
    good = path.read_bytes()
    refused = 0
    for i in range(300):
        b = bytearray(good)
        kind = i % 4
        if kind == 0:
            for _ in range(r.integers(1, 4)):
                b[r.integers(0, len(b))] ^= 1 << int(r.integers(0, 8))
        elif kind == 1:
            pos = r.integers(0, len(b) - 8)
            b[pos:pos + 8] = [b"\xff" * 8, b"\x00" * 8, (2**63 - 1).to_bytes(8, "little"),
                              (2**31).to_bytes(8, "little"), b"9999999\x00"][i % 5]
        elif kind == 2:
            b = b[:r.integers(0, len(b))]
        else:
            b += bytes(r.integers(0, 256, size=int(r.integers(1, 64)), dtype=np.uint8))
        path.write_bytes(bytes(b))
        try:
            out = fio.load(path)
        except ValueError as e:
            assert str(path) in str(e)
            refused += 1
            continue
        assert all(isinstance(v, np.ndarray) and v.dtype.kind in "fiub" for v in out.values())
    assert refused > 100
