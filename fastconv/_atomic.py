"""Atomic file writes: a crash or an error mid-save never destroys the previous file.

The new content goes to a temporary file in the *same directory* (so the final rename never crosses a
file system), is flushed and fsync'ed, then ``os.replace`` swaps it in (atomic on POSIX and Windows),
and finally the directory itself is fsync'ed so the rename survives a power cut. If anything fails
before the rename, the temporary file is removed and the old file is left exactly as it was.

Used by ``fastconv.io`` (weights) and ``fastconv.train`` (checkpoints)::

    with atomic_open("model.npz") as f:
        np.savez(f, **arrays)

    atomic_write_bytes("model.safetensors", data)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import BinaryIO, Iterator

__all__ = ["atomic_open", "atomic_write_bytes", "fsync_directory"]

_TEMP_ATTEMPTS = 100


def fsync_directory(directory: str | os.PathLike) -> None:
    """fsync a directory so that a rename inside it is durable (no-op where unsupported, e.g. Windows)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return  # Windows cannot open a directory; its rename is already journaled by NTFS.
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (e.g. certain network mounts) refuse fsync on a directory
    finally:
        os.close(fd)


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the permissions, as a plain open() would;
    # tempfile.mkstemp would force 0o600 on the saved file. O_EXCL makes the name ours alone.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_ATTEMPTS):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.partial")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {os.path.join(directory, base)!r}")


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing, atomically.

    Yields a binary file object on a temporary file beside ``path``. When the ``with`` block ends
    normally, the data is fsync'ed and the temporary file replaces ``path``; when it raises, the
    temporary file is deleted, ``path`` is untouched and the exception propagates.
    """
    path = os.fspath(path)
    # Write through a symlink to its target, as open(path, "wb") would, instead of replacing the link.
    target = os.path.realpath(path)
    directory, base = os.path.split(target)
    if not base:
        raise ValueError(f"path must name a file, got {path!r}")
    directory = directory or "."
    if os.path.isdir(target):
        raise IsADirectoryError(f"path must name a file, got the directory {path!r}")
    fd, tmp = _create_temp(directory, base)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)
