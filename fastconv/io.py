"""Weight files: ``load(path) -> {name: ndarray}`` and ``save(state_dict, path)``.

Formats, chosen by the file's suffix:

- ``.safetensors`` (the ``safetensors`` package): the recommended format, safe by construction.
- ``.npz`` (NumPy): read with ``allow_pickle=False``, so a file can never run code when loaded.
- ``.pt`` / ``.pth`` / ``.bin`` (PyTorch, read only): only when PyTorch is installed, through
  ``torch.load(weights_only=True)``, which refuses arbitrary pickles. Without PyTorch the error says
  how to convert the file once on a machine that has it.

Loading never trusts the file: the safetensors header is checked (size, dtypes, shapes against byte
offsets, offsets inside the file) before any tensor is read, and every failure is a ``ValueError``
naming the file. Saving is atomic (temporary file, fsync, rename): a crash mid-save leaves the
previous file intact. Half-precision tensors (float16, bfloat16) are widened to float32 on load,
as fastconv computes in float32/float64.

``load_weights(model, path)`` loads a file into a model in one step, also accepting the layouts
other libraries save (timm's VGG, ``module.``-prefixed DataParallel checkpoints, wrapped
``{"state_dict": ...}`` checkpoints).
"""
from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections.abc import Mapping

import numpy as np

from ._atomic import atomic_open, atomic_write_bytes

__all__ = ["load", "save", "load_weights", "convert", "to_torchvision_names",
           "timm_vgg_to_torchvision", "strip_prefix", "SUFFIXES"]

SUFFIXES = (".safetensors", ".npz", ".pt", ".pth", ".bin")

# The safetensors library's own limit: a larger header is refused before it is read.
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024

# safetensors dtype tags fastconv reads; half precisions are widened to float32 after reading.
_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}

_TORCH_CONVERT_HINT = (
    "convert it once where PyTorch is installed:\n"
    "    python -c \"import torch, safetensors.torch as s; "
    "sd = torch.load('{path}', weights_only=True, map_location='cpu'); "
    "s.save_file({{k: v.contiguous() for k, v in sd.items()}}, '{stem}.safetensors')\"\n"
    "then load the .safetensors file"
)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

def load(path) -> dict[str, np.ndarray]:
    """Read a weight file into ``{name: ndarray}`` (see the module docstring for the formats)."""
    path = os.fspath(path)
    kind = _kind(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path!r}")
    if kind == ".safetensors":
        arrays = _load_safetensors(path)
    elif kind == ".npz":
        arrays = _load_npz(path)
    else:
        arrays = _load_torch(path)
    return {name: _widen(_check_array(path, name, a)) for name, a in arrays.items()}


def save(state_dict, path) -> None:
    """Write ``{name: array}`` (or a model, whose ``state_dict()`` is taken) to ``path`` atomically.

    ``.safetensors`` or ``.npz``; arrays must be numeric (no object arrays). The previous file at
    ``path``, if any, is replaced only once the new one is completely written.
    """
    path = os.fspath(path)
    kind = _kind(path)
    if kind not in (".safetensors", ".npz"):
        raise ValueError(f"save: path must end with .safetensors or .npz, got {path!r} "
                         "(fastconv never writes pickle-based .pt/.pth files)")
    arrays = _as_arrays(state_dict)
    if kind == ".safetensors":
        from safetensors.numpy import save as st_save
        # metadata "format": "pt" lets safetensors.torch.load_file read fastconv files too
        atomic_write_bytes(path, st_save(arrays, metadata={"format": "pt"}))
    else:
        with atomic_open(path) as f:
            _write_npz(f, arrays)


def convert(src, dst) -> None:
    """Convert a weight file between formats, e.g. ``convert("resnet50.pth", "resnet50.safetensors")``."""
    save(load(src), dst)


def strip_prefix(state_dict: Mapping, prefix: str = "module.") -> dict:
    """Drop ``prefix`` from keys that have it (``nn.DataParallel`` saves ``module.conv1.weight``)."""
    n = len(prefix)
    return {(k[n:] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def timm_vgg_to_torchvision(state_dict: Mapping) -> dict:
    """Rename a timm VGG state dict to torchvision's names (a copy; other keys unchanged).

    timm keeps VGG's dense head as convolutions: ``pre_logits.fc1`` is a 7x7 convolution
    (4096, 512, 7, 7), ``pre_logits.fc2`` a 1x1 convolution, ``head.fc`` the last Linear. Their
    weights reshape to torchvision's ``classifier.0/3/6`` Linear weights; the (C, H, W) order of
    the 7x7 kernel is exactly the order in which VGG flattens its 512x7x7 features.
    """
    renames = {"pre_logits.fc1.": "classifier.0.", "pre_logits.fc2.": "classifier.3.",
               "head.fc.": "classifier.6."}
    out = {}
    for key, value in state_dict.items():
        for old, new in renames.items():
            if key.startswith(old):
                key = new + key[len(old):]
                if key.endswith(".weight") and np.ndim(value) == 4:
                    value = np.reshape(value, (np.shape(value)[0], -1))
                break
        out[key] = value
    return out


def to_torchvision_names(state_dict: Mapping) -> dict:
    """Undo the renamings other tools apply to torchvision's keys: ``module.`` prefixes
    (DataParallel) and timm's VGG head (see :func:`timm_vgg_to_torchvision`)."""
    state = strip_prefix(state_dict, "module.")
    if any(k.startswith("pre_logits.fc1.") for k in state):
        state = timm_vgg_to_torchvision(state)
    return state


def load_weights(model, path, *, strict: bool = True):
    """Load a weight file into ``model`` (all or nothing) and return the model.

    Accepts torchvision state dicts as they are, plus checkpoints wrapped as ``{"state_dict":
    ...}`` / ``{"model": ...}`` (PyTorch files), ``module.``-prefixed keys and timm's VGG layout
    (see :func:`to_torchvision_names`). Values are cast to the model's dtypes (a float64 model
    takes float32 files). On any error the model is unchanged.
    """
    state = to_torchvision_names(load(path))
    try:
        model.load_state_dict(state, strict=strict)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path}: weights do not fit {type(model).__name__}: {e}") from e
    return model


# --------------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------------

def _kind(path: str) -> str:
    lower = path.lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix):
            return ".pt" if suffix in (".pth", ".bin") else suffix
    raise ValueError(f"unknown weights format for {path!r}: expected one of {', '.join(SUFFIXES)}")


def _bad(path: str, why: str) -> ValueError:
    return ValueError(f"{path}: not a valid weights file: {why}")


def _read_safetensors_header(path: str, f) -> tuple[dict, int, int]:
    """Parse and check the header; return (entries, data_start, data_length)."""
    size = os.fstat(f.fileno()).st_size
    raw = f.read(8)
    if len(raw) < 8:
        raise _bad(path, f"file is {size} bytes, shorter than the 8-byte safetensors header length")
    (n,) = struct.unpack("<Q", raw)
    if n > MAX_SAFETENSORS_HEADER:
        raise _bad(path, f"safetensors header claims {n} bytes, above the "
                         f"{MAX_SAFETENSORS_HEADER}-byte limit")
    if 8 + n > size:
        raise _bad(path, f"truncated: the header claims {n} bytes but the file has {size - 8} "
                         "after the length field")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"safetensors header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _bad(path, "safetensors header is not a JSON object")
    data_len = size - 8 - n
    entries, spans = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= info.keys()):
            raise _bad(path, f"tensor {name!r}: header entry lacks dtype/shape/data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _ST_DTYPES:
            raise _bad(path, f"tensor {name!r}: unsupported dtype {dtype!r} "
                             f"(expected one of {', '.join(_ST_DTYPES)})")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise _bad(path, f"tensor {name!r}: shape must be a list of non-negative ints, got {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1]):
            raise _bad(path, f"tensor {name!r}: bad data_offsets {offsets!r}")
        itemsize = np.dtype(_ST_DTYPES[dtype]).itemsize
        expected = math.prod(shape) * itemsize  # Python ints: exact, no int64 overflow
        begin, end = offsets
        if end - begin != expected:
            raise _bad(path, f"tensor {name!r}: shape {shape} of {dtype} needs {expected} bytes "
                             f"but data_offsets span {end - begin}")
        if end > data_len:
            raise _bad(path, f"truncated: tensor {name!r} ends at byte {end} of a "
                             f"{data_len}-byte data section")
        entries[name] = (dtype, tuple(shape), begin, end)
        spans.append((begin, end, name))
    # Tensors must not overlap (overlap would let one byte range alias two weights).
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise _bad(path, f"tensors {n0!r} and {n1!r} overlap in the data section")
    return entries, 8 + n, data_len


def _load_safetensors(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        entries, data_start, _ = _read_safetensors_header(path, f)
    arrays = {}
    try:
        from safetensors import safe_open
        with safe_open(path, framework="np") as st:
            for name, (dtype, shape, begin, end) in entries.items():
                if dtype == "BF16":  # NumPy has no bfloat16: read raw, widen below
                    arrays[name] = _read_raw(path, data_start + begin, np.uint16, shape)
                    arrays[name] = _bf16_to_f32(arrays[name])
                else:
                    arrays[name] = np.asarray(st.get_tensor(name))
    except ValueError:
        raise
    except Exception as e:  # safetensors' own checks (SafetensorError, OSError, ...)
        raise _bad(path, f"safetensors refused it: {e}") from e
    return arrays


def _read_raw(path: str, offset: int, dtype, shape) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    with open(path, "rb") as f:
        f.seek(offset)
        a = np.fromfile(f, dtype=np.dtype(dtype).newbyteorder("<"), count=count)
    if a.size != count:
        raise _bad(path, "truncated tensor data")
    return a.reshape(shape)


def _bf16_to_f32(a: np.ndarray) -> np.ndarray:
    return (a.astype(np.uint32) << 16).view(np.float32)


def _load_npz(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        raise _bad(path, "a .npz file must be a zip archive of arrays (np.savez), this is "
                         + ("a single .npy array" if magic == b"\x93NUM" else "not a zip archive"))
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise _bad(path, "it contains pickled object arrays, which fastconv never loads "
                             "(allow_pickle=False)") from None
        if str(e).startswith(path):
            raise
        raise _bad(path, str(e)) from e
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile/zlib/numpy raise many types on damaged data
        # (BadZipFile, EOFError, NotImplementedError for unknown compression or zip versions,
        # RuntimeError for "encrypted" members, zlib.error, struct.error, ...): all mean the same
        raise _bad(path, f"{type(e).__name__}: {e}") from e


def _check_npz_members(path: str) -> None:
    """Compare each member's .npy header with the member's real size before NumPy reads it:
    NumPy allocates what the header promises first, so a lying header could ask for terabytes."""
    fmt = np.lib.format
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise _bad(path, f"member {info.filename!r} is not a .npy array")
            with zf.open(info) as fh:
                version = fmt.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = fmt.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = fmt.read_array_header_2_0(fh)
                else:
                    continue  # version 3 (utf-8 names): np.load still checks it
                if dtype.hasobject:
                    raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
                expected = math.prod(shape) * dtype.itemsize
                held = info.file_size - fh.tell()
                if expected != held:
                    raise _bad(path, f"member {info.filename!r}: its header promises shape "
                                     f"{shape} of {dtype} ({expected} bytes) but it holds {held}")


def _load_torch(path: str) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        stem = os.path.splitext(path)[0]
        raise ValueError(f"{path}: reading PyTorch files needs PyTorch, which is not installed; "
                         + _TORCH_CONVERT_HINT.format(path=path, stem=stem)) from None
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # UnpicklingError for non-weights pickles, RuntimeError for bad zips
        raise _bad(path, f"torch.load(weights_only=True) refused it: {type(e).__name__}: {e}") from e
    # training checkpoints wrap the state dict: {"state_dict": {...}, "epoch": ...}
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping):
        raise _bad(path, f"expected a state dict (name -> tensor), got {type(obj).__name__}")
    arrays = {}
    for name, t in obj.items():
        if not isinstance(t, torch.Tensor):
            raise _bad(path, f"entry {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.float()
        arrays[str(name)] = t.contiguous().numpy().copy()
    return arrays


def _write_npz(f, arrays: dict[str, np.ndarray]) -> None:
    # What np.savez does, without its keyword-argument interface (a weight named "file" or
    # "allow_pickle" would collide with np.savez's own parameters).
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)


# --------------------------------------------------------------------------------------------
# checks and conversions
# --------------------------------------------------------------------------------------------

def _check_array(path: str, name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise _bad(path, f"tensor {name!r} has dtype {a.dtype}, expected a float, integer or "
                         "bool type")
    return a


def _widen(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


def _as_arrays(state_dict) -> dict[str, np.ndarray]:
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping name -> array or a model, "
                        f"got {type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"state_dict keys must be non-empty strings, got {name!r}")
        if not isinstance(value, (np.ndarray, np.generic)) and hasattr(value, "data"):
            value = value.data  # a Parameter (or a torch tensor)
        a = np.asarray(value)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"state_dict[{name!r}] must be a numeric array, got dtype {a.dtype}")
        # not np.ascontiguousarray: it turns 0-d arrays (num_batches_tracked) into shape (1,)
        arrays[name] = a if a.flags.c_contiguous else a.copy(order="C")
    return arrays
