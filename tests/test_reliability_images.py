"""Untrusted images: Pillow's protections stay on whatever fastconv imports, real decompression
bombs are refused before decoding, exotic decoders are never reached through a renamed file,
damaged files of every common format give an ImageReadError naming the file (never a crash, a
hang or another exception), and every EXIF orientation is applied.

tests/test_data_folder.py checks the individual behaviours in-process; this file attacks them
with crafted and mutated files, in child processes with a memory cap and a timeout.
"""
import io
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from PIL import Image

import fastconv
from fastconv.data.folder import ImageReadError, load_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))


def _run(code, timeout=180):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_pillow_protections_untouched_by_every_fastconv_module():
    out = _run("""
        from PIL import Image, ImageFile
        limit = Image.MAX_IMAGE_PIXELS
        import importlib, pkgutil, fastconv
        for m in pkgutil.walk_packages(fastconv.__path__, "fastconv."):
            if m.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(m.name)
            except ImportError:
                pass
        assert Image.MAX_IMAGE_PIXELS == limit and limit is not None and limit > 0, Image.MAX_IMAGE_PIXELS
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False
        print("ok", limit)
    """)
    assert out.startswith("ok")


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_bomb(width, height, idat=b""):
    """A PNG whose header claims width x height 8-bit RGB pixels, with little or no real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def test_real_decompression_bombs_are_refused_before_decoding(tmp_path):
    # headers claiming 20000x20000 (400 Mpixels, > 2x Pillow's limit) and a valid, highly
    # compressed 16384x16384 image: refused from the header, in a child capped at 1 GB of memory
    bombs = {"header_only.png": _png_bomb(20000, 20000),
             "max_dims.png": _png_bomb(2**31 - 1, 2**31 - 1)}
    row = b"\0" + b"\0" * (16384 * 3)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(16384)) + comp.flush()
    bombs["real.png"] = _png_bomb(16384, 16384, idat)
    gif = io.BytesIO()
    Image.new("P", (1, 1)).save(gif, format="GIF")
    g = bytearray(gif.getvalue())
    g[6:10] = struct.pack("<HH", 65535, 65535)          # logical screen 65535x65535
    bombs["screen.gif"] = bytes(g)
    for name, data in bombs.items():
        (tmp_path / name).write_bytes(data)
    out = _run(f"""
        import os, resource, time
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        if not os.environ.get("FASTCONV_SANITIZED"):
            resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), vm + (1 << 30)))
        from fastconv.data.folder import load_image, ImageReadError
        for name in sorted(os.listdir({str(tmp_path)!r})):
            path = os.path.join({str(tmp_path)!r}, name)
            t0 = time.perf_counter()
            try:
                img = load_image(path)
            except ImageReadError as exc:
                assert path in str(exc), exc
                print(name, "refused:", exc.reason[:70], f"{{time.perf_counter() - t0:.2f}}s")
            else:
                print(name, "loaded", img.size)
    """)
    for name in ("header_only.png", "max_dims.png", "real.png"):
        assert f"{name} refused:" in out, out
    assert "decompression bomb" in out


EXOTIC = {
    # formats Pillow can decode but fastconv must never hand to a decoder (IMG_FORMATS): some run
    # external programs (EPS -> ghostscript) or have a history of decoder bugs
    "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
    "ico": None, "tga": None, "pcx": None, "sgi": None, "im": None, "dds": None, "xbm": None,
    "icns": None, "psd": b"8BPS\x00\x01" + b"\x00" * 6 + b"\x00\x03\x00\x00\x00\x04\x00\x00\x00\x04\x00\x08\x00\x03"
                         + b"\x00" * 32,
}


@pytest.mark.parametrize("fmt", sorted(EXOTIC))
def test_exotic_formats_refused_whatever_the_extension(tmp_path, fmt):
    data = EXOTIC[fmt]
    if data is None:
        buf = io.BytesIO()
        img = Image.new("RGB" if fmt not in ("xbm",) else "1", (4, 4))
        try:
            img.save(buf, format={"im": "IM", "dds": "DDS", "icns": "ICNS"}.get(fmt, fmt.upper()))
        except (KeyError, OSError, ValueError) as exc:
            pytest.skip(f"Pillow cannot write {fmt}: {exc}")
        data = buf.getvalue()
    for ext in (".png", ".jpg", f".{fmt}"):
        path = tmp_path / f"disguised_{fmt}{ext}"
        path.write_bytes(data)
        with pytest.raises(ImageReadError) as info:
            load_image(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(tmp_path, orientation):
    # a 3x2 image with distinct pixels, stored transformed, tagged with the orientation that
    # undoes the transform: loading must give back the original
    base = np.arange(3 * 2 * 3, dtype=np.uint8).reshape(2, 3, 3) * 12
    img = Image.fromarray(base)
    undo = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}
    # orientation k means "the stored image must be transformed by op_k to display": store inv(op_k)
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    stored = img if orientation == 1 else img.transpose(inverse[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    stored.save(path, exif=exif)
    got = np.asarray(load_image(path))
    assert undo is not None
    assert got.shape == base.shape and np.array_equal(got, base), orientation


def test_mutated_images_fail_cleanly_and_name_the_file():
    # bit flips, overwrites, truncations and garbage tails of valid files in every allowed
    # format: load_image returns an RGB image or raises ImageReadError naming the file
    out = _run("""
        import io, os, tempfile, time
        import numpy as np
        from PIL import Image
        from fastconv.data.folder import load_image, ImageReadError
        rng = np.random.default_rng(0)
        d = tempfile.mkdtemp()
        src = Image.fromarray(rng.integers(0, 256, size=(23, 17, 3), dtype=np.uint8))
        formats = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp",
                   "PPM": ".ppm"}
        tried = loaded = refused = 0
        unclean, slow = {}, 0
        for fmt, ext in formats.items():
            buf = io.BytesIO()
            src.save(buf, format=fmt)
            good = buf.getvalue()
            path = os.path.join(d, "img" + ext)
            for i in range(150):
                b = bytearray(good)
                kind = i % 4
                if kind == 0:
                    for _ in range(rng.integers(1, 6)):
                        pos = rng.integers(0, len(b)); b[pos] ^= 1 << rng.integers(0, 8)
                elif kind == 1:
                    pos = rng.integers(0, max(1, len(b) - 4))
                    b[pos:pos + 4] = rng.choice([b"\\xff\\xff\\xff\\xff", b"\\x00\\x00\\x00\\x00", b"\\x7f\\xff\\xff\\xff"])
                elif kind == 2:
                    b = b[: rng.integers(0, len(b))]
                else:
                    b = b + bytes(rng.integers(0, 256, size=rng.integers(1, 200), dtype=np.uint8))
                with open(path, "wb") as f:
                    f.write(b)
                tried += 1
                t0 = time.perf_counter()
                try:
                    img = load_image(path)
                    assert img.mode == "RGB"
                    loaded += 1
                except ImageReadError as exc:
                    assert path in str(exc), exc
                    refused += 1
                except Exception as exc:
                    key = f"{fmt}: {type(exc).__name__}: {str(exc)[:60]}"
                    unclean[key] = unclean.get(key, 0) + 1
                slow += time.perf_counter() - t0 > 5
        print("tried", tried, "loaded", loaded, "refused", refused, "slow", slow)
        for k, v in sorted(unclean.items()):
            print("UNCLEAN", v, k)
    """, timeout=600)
    assert "tried 1050" in out, out
    assert "UNCLEAN" not in out, out
    assert "slow 0" in out, out
