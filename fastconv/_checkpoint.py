"""Checkpoint files: a nested state (dicts, lists, tuples, scalars, NumPy arrays) in one ``.npz``.

Never pickle: arrays are stored as plain ``.npy`` members (numeric dtypes only) and everything else
as one JSON document (member ``__checkpoint__``, UTF-8 bytes) that refers to the arrays by name.
Loading uses ``np.load(allow_pickle=False)`` and rebuilds exactly what was saved: dict keys keep their
type (e.g. an optimizer's integer parameter ids), tuples stay tuples, NumPy scalars keep their dtype,
floats round-trip bit for bit (JSON keeps ``repr`` precision, and nan/inf are allowed).
Writes are atomic (``fastconv._atomic``): a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from typing import Any

import numpy as np

from ._atomic import atomic_open

__all__ = ["save_state", "load_state", "CheckpointError"]

FORMAT = "fastconv-checkpoint"
VERSION = 1
_META = "__checkpoint__"
_MAX_META_BYTES = 64 << 20  # refuse absurd headers instead of parsing them


class CheckpointError(ValueError):
    """A checkpoint file is damaged, not a fastconv checkpoint, or holds something unexpected."""


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array_name(self, path: str) -> str:
        name = path or "root"
        k = 1
        while name in self.arrays or name == _META:
            k += 1
            name = f"{path}~{k}"
        return name

    def encode(self, obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and not isinstance(obj, np.generic):
            return obj
        if isinstance(obj, (np.ndarray, np.generic)):
            arr = np.asarray(obj)
            if arr.dtype.hasobject or arr.dtype.kind not in "biufc":
                raise TypeError(f"cannot store {path or 'value'} of dtype {arr.dtype} in a checkpoint "
                                "(numeric arrays only, never pickled objects)")
            name = self._array_name(path)
            # not np.ascontiguousarray: it turns 0-d arrays (NumPy scalars) into 1-d ones
            self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
            return {"__scalar__" if isinstance(obj, np.generic) else "__ndarray__": name}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, bool)) and k is not None:
                    raise TypeError(f"cannot store a dict key of type {type(k).__name__} at {path or 'root'}")
                items.append([k, self.encode(v, f"{path}/{k}" if path else str(k))])
            return {"__dict__": items}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{path}/{i}") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{path}/{i}") for i, v in enumerate(obj)]
        raise TypeError(f"cannot store {path or 'value'} of type {type(obj).__name__} in a checkpoint")


def _decode(obj: Any, arrays: Any, used: set) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays, used) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) != 1:
        raise CheckpointError(f"unexpected JSON object with keys {sorted(obj)[:5]}")
    (tag, value), = obj.items()
    if tag in ("__ndarray__", "__scalar__"):
        if not isinstance(value, str) or value not in arrays:
            raise CheckpointError(f"the checkpoint refers to an array {value!r} that it does not contain")
        used.add(value)
        arr = arrays[value]
        return arr[()] if tag == "__scalar__" else arr
    if tag == "__dict__":
        if not isinstance(value, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in value):
            raise CheckpointError("malformed dict entry in the checkpoint")
        return {k: _decode(v, arrays, used) for k, v in value}
    if tag == "__tuple__":
        if not isinstance(value, list):
            raise CheckpointError("malformed tuple entry in the checkpoint")
        return tuple(_decode(v, arrays, used) for v in value)
    raise CheckpointError(f"unknown entry type {tag!r} in the checkpoint")


def save_state(path: str | os.PathLike, state: Any) -> None:
    """Write ``state`` to ``path`` atomically as a pickle-free ``.npz`` (the path is used as given)."""
    enc = _Encoder()
    tree = enc.encode(state, "")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "state": tree}, allow_nan=True).encode("utf-8")
    with atomic_open(path) as f:
        np.savez(f, **enc.arrays, **{_META: np.frombuffer(meta, dtype=np.uint8)})


def load_state(path: str | os.PathLike) -> Any:
    """Read a state written by :func:`save_state`. Raises :class:`CheckpointError` for a bad file."""
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path!r} is not a readable checkpoint (.npz): {exc}") from exc
    if not hasattr(npz, "files"):
        raise CheckpointError(f"{path!r} is a single .npy array, not a fastconv checkpoint")
    with npz:
        if _META not in npz.files:
            raise CheckpointError(f"{path!r} is an .npz but not a fastconv checkpoint (no {_META} member)")
        try:
            raw = npz[_META]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _MAX_META_BYTES:
                raise CheckpointError(f"{path!r}: malformed checkpoint header")
            meta = json.loads(raw.tobytes().decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{path!r} is not a fastconv checkpoint")
            if meta.get("version") != VERSION:
                raise CheckpointError(f"{path!r}: checkpoint format version {meta.get('version')!r} is not "
                                      f"supported (this fastconv reads version {VERSION})")
            arrays = {name: npz[name] for name in npz.files if name != _META}
        except CheckpointError:
            raise
        except (OSError, ValueError, EOFError, UnicodeDecodeError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise CheckpointError(f"{path!r}: damaged checkpoint: {exc}") from exc
    used: set = set()
    try:
        return _decode(meta.get("state"), arrays, used)
    except CheckpointError as exc:
        raise CheckpointError(f"{path!r}: {exc}") from None
    except (TypeError, ValueError) as exc:  # e.g. an unhashable dict key in a forged header
        raise CheckpointError(f"{path!r}: malformed checkpoint: {exc}") from exc
