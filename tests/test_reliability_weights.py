"""Weight files and checkpoints: nothing is ever unpickled, a process killed mid-save never
destroys the previous file, load_state_dict is all-or-nothing, and damaged files of every kind
give a clean error (never a crash, a hang or an unrelated exception).

tests/test_io.py and tests/test_train_atomic.py check the individual error messages; this file
checks the guarantees end to end, with real SIGKILLs and mutation fuzzing in child processes.
"""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import fastconv
from fastconv import io as fio
from fastconv import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))


def _run(code, timeout=120, expect_rc=0):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if expect_rc is not None:
        assert proc.returncode == expect_rc, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc


def _state(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return {f"layer{i}.weight": rng.standard_normal((64, 64, 3, 3)).astype(np.float32) for i in range(n)}


# ---- a crash mid-save never destroys the previous file -------------------------------------------

@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".ckpt.npz"])
@pytest.mark.parametrize("kill_after_bytes", [0, 1, 4096, 200_000])
def test_sigkill_mid_save_keeps_the_previous_file(tmp_path, suffix, kill_after_bytes):
    path = tmp_path / f"w{suffix}"
    old = _state(0)
    if suffix == ".ckpt.npz":
        from fastconv._checkpoint import save_state
        save_state(path, {"model": old, "epoch": 1})
    else:
        fio.save(old, path)
    before = path.read_bytes()
    # the child writes a different state and SIGKILLs itself after `kill_after_bytes` bytes
    # reached the file system (every write/os.write path is intercepted)
    proc = _run(f"""
        import os, signal, builtins, io as _io
        import numpy as np
        written = [0]
        def maybe_die(n):
            written[0] += n
            if written[0] > {kill_after_bytes}:
                os.kill(os.getpid(), signal.SIGKILL)
        real_os_write = os.write
        def os_write(fd, data):
            maybe_die(len(data))
            return real_os_write(fd, data)
        os.write = os_write
        for cls in (_io.FileIO, _io.BufferedWriter):
            real = cls.write
            def write(self, data, real=real):
                maybe_die(len(memoryview(data).cast("B")))
                return real(self, data)
            try:
                cls.write = write
            except TypeError:
                pass
        real_open = builtins.open
        class Spy:
            def __init__(self, f): self._f = f
            def write(self, data):
                maybe_die(len(memoryview(data).cast("B")) if not isinstance(data, str) else len(data))
                return self._f.write(data)
            def __getattr__(self, k): return getattr(self._f, k)
            def __enter__(self): self._f.__enter__(); return self
            def __exit__(self, *a): return self._f.__exit__(*a)
            def __iter__(self): return iter(self._f)
        def spy_open(*a, **k):
            f = real_open(*a, **k)
            mode = a[1] if len(a) > 1 else k.get("mode", "r")
            return Spy(f) if any(c in mode for c in "wax+") else f
        builtins.open = spy_open
        _io.open = spy_open
        os.fdopen = lambda fd, *a, **k: spy_open(fd, *a, **k)
        rng = np.random.default_rng(1)
        new = {{f"layer{{i}}.weight": rng.standard_normal((64, 64, 3, 3)).astype(np.float32) for i in range(4)}}
        if "{suffix}" == ".ckpt.npz":
            from fastconv._checkpoint import save_state
            save_state({str(path)!r}, {{"model": new, "epoch": 2}})
        else:
            from fastconv import io
            io.save(new, {str(path)!r})
        print("saved without dying")
    """, expect_rc=None)
    assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr[-3000:]
    if proc.returncode == 0:
        # the whole save fit below the threshold (only possible for tiny thresholds never here)
        pytest.fail(f"the child was not killed mid-save: {proc.stdout}")
    assert path.read_bytes() == before, "the previous file was modified by a killed save"
    if suffix == ".ckpt.npz":
        from fastconv._checkpoint import load_state
        assert load_state(path)["epoch"] == 1
    else:
        got = fio.load(path)
        assert set(got) == set(old) and all(np.array_equal(got[k], old[k]) for k in old)


def test_a_completed_save_replaces_the_file_whole(tmp_path):
    path = tmp_path / "w.safetensors"
    fio.save(_state(0), path)
    new = _state(1)
    fio.save(new, path)
    got = fio.load(path)
    assert all(np.array_equal(got[k], new[k]) for k in new)


# ---- loading never unpickles ---------------------------------------------------------------------

class _Boom:
    """Unpickling this creates a marker file: proof that a loader ran a pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".npz", ".pt", ".pth", ".bin", ".safetensors"])
def test_loading_never_runs_a_pickle(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    payload = pickle.dumps({"weight": _Boom(str(marker))})
    if suffix == ".npz":
        # an object array inside an npz: np.load(allow_pickle=True) would unpickle it
        arr = np.empty(1, dtype=object)
        arr[0] = _Boom(str(marker))
        with zipfile.ZipFile(path, "w") as z:
            with z.open("weight.npy", "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=True)
    elif suffix == ".safetensors":
        path.write_bytes(len(payload).to_bytes(8, "little") + payload)
    else:
        # a bare pickle, and the same inside torch's zip layout
        path.write_bytes(payload)
    with pytest.raises((ValueError, OSError, ImportError)):
        fio.load(path)
    assert not marker.exists(), "loading a weight file executed a pickle"
    if suffix in (".pt", ".pth", ".bin"):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", payload)
            z.writestr("archive/version", "3\n")
        with pytest.raises((ValueError, OSError, ImportError)):
            fio.load(path)
        assert not marker.exists(), "loading a torch-layout file executed a pickle"


def test_checkpoints_never_run_a_pickle(tmp_path):
    from fastconv._checkpoint import CheckpointError, load_state
    marker = tmp_path / "pwned"
    path = tmp_path / "run.ckpt.npz"
    arr = np.empty(1, dtype=object)
    arr[0] = _Boom(str(marker))
    np.savez(path, state=arr, allow_pickle=True)
    with pytest.raises((CheckpointError, ValueError, OSError)):
        load_state(path)
    assert not marker.exists()


# ---- load_state_dict is all-or-nothing -----------------------------------------------------------

def _model():
    nn.init.manual_seed(0) if hasattr(nn.init, "manual_seed") else None
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def _snapshot(model):
    sd = model.state_dict()
    return {k: np.array(v, copy=True) for k, v in sd.items()}


def _bad_state_dicts(good):
    last = sorted(good)[-1]
    yield "shape_of_last_key", {**good, last: np.zeros((1, 2, 3), np.float32)}
    yield "string_value", {**good, last: "not an array"}
    yield "object_array", {**good, last: np.array([object()] * good[last].size, dtype=object).reshape(good[last].shape)}
    yield "complex_value", {**good, last: good[last].astype(np.complex64)}
    yield "unexpected_key", {**good, "zzz.extra": np.zeros(3, np.float32)}
    yield "missing_key", {k: v for k, v in good.items() if k != last}
    yield "none_value", {**good, last: None}
    yield "scalar_for_tensor", {**good, "1.weight": np.float32(1.0)}
    yield "every_value_changed_but_one_bad", {**{k: v + 1 if v.dtype.kind == "f" else v for k, v in good.items()},
                                              last: np.zeros(7, np.float32)}


def test_load_state_dict_is_all_or_nothing():
    model = _model()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    model.train()
    model(x)                    # BatchNorm running stats move away from their initial values
    before = _snapshot(model)
    good = {k: v + 0.5 if v.dtype.kind == "f" else v for k, v in before.items()}
    failures = []
    for name, sd in _bad_state_dicts(good):
        try:
            model.load_state_dict(sd)
        except (ValueError, TypeError, KeyError) as exc:
            assert str(exc), name
        else:
            failures.append(f"{name}: accepted")
            continue
        after = _snapshot(model)
        changed = [k for k in before if not np.array_equal(before[k], after[k])]
        if changed:
            failures.append(f"{name}: model changed at {changed}")
    assert not failures, failures
    model.load_state_dict(good)                          # and a good one still loads whole
    assert all(np.array_equal(v, good[k]) for k, v in _snapshot(model).items())


def test_load_weights_from_damaged_files_leaves_the_model_unchanged(tmp_path):
    model = _model()
    before = _snapshot(model)
    path = tmp_path / "w.safetensors"
    fio.save({k: v + 1 for k, v in before.items() if v.dtype.kind == "f"} | {"extra": np.zeros(1, np.float32)},
             path)
    data = path.read_bytes()
    for cut in (0, 7, 8, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises((ValueError, OSError)):
            fio.load_weights(model, path)
        assert all(np.array_equal(v, before[k]) for k, v in _snapshot(model).items()), f"cut at {cut}"


# ---- mutation fuzzing of weight files, in a child process ---------------------------------------

def test_mutated_weight_files_fail_cleanly():
    # bit flips, byte overwrites with interesting values, truncations and extensions of valid
    # .safetensors and .npz files: load() returns arrays or raises ValueError/OSError; anything
    # else (other exception types, a signal, a hang) fails
    proc = _run("""
        import os, tempfile, numpy as np
        from fastconv import io
        rng = np.random.default_rng(0)
        d = tempfile.mkdtemp()
        sd = {"a.weight": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(5, dtype=np.int64),
              "c.bias": np.zeros(2, np.float64)}
        tried = ok = refused = 0
        unclean = {}
        for suffix in (".safetensors", ".npz"):
            path = os.path.join(d, "w" + suffix)
            io.save(sd, path)
            good = open(path, "rb").read()
            for i in range(600):
                b = bytearray(good)
                kind = i % 4
                if kind == 0:
                    for _ in range(rng.integers(1, 4)):
                        pos = rng.integers(0, len(b)); b[pos] ^= 1 << rng.integers(0, 8)
                elif kind == 1:
                    pos = rng.integers(0, len(b) - 8)
                    b[pos:pos + 8] = rng.choice([b"\\xff" * 8, b"\\x00" * 8, (2**63 - 1).to_bytes(8, "little"),
                                                 (2**31).to_bytes(8, "little"), b"9999999\\x00"])
                elif kind == 2:
                    b = b[: rng.integers(0, len(b))]
                else:
                    b = b + bytes(rng.integers(0, 256, size=rng.integers(1, 64), dtype=np.uint8))
                with open(path, "wb") as f:
                    f.write(b)
                tried += 1
                try:
                    out = io.load(path)
                except (ValueError, OSError):
                    refused += 1
                    continue
                except Exception as exc:
                    key = f"{suffix}: {type(exc).__name__}: {str(exc)[:60]}"
                    unclean[key] = unclean.get(key, 0) + 1
                    continue
                assert isinstance(out, dict) and all(isinstance(v, np.ndarray) for v in out.values())
                ok += 1
        print("tried", tried, "loaded", ok, "refused", refused)
        for k, v in sorted(unclean.items()):
            print("UNCLEAN", v, k)
    """, timeout=300)
    assert "tried 1200" in proc.stdout, proc.stdout
    assert "UNCLEAN" not in proc.stdout, proc.stdout
