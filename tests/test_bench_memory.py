"""`fastconv bench --memory` (fastconv.bench_memory): the subprocess measurements report what they
claim, and a convolution's workspace does not grow with the image (checked with a wide margin)."""
import os
import sys

import pytest

from fastconv import bench_memory as bm

MB = 1 << 20
needs_hwm = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists("/proc/self/clear_refs"),
                               reason="needs Linux's resettable RSS high-water mark")


def _conv(size, algo="im2col"):
    return bm.measure_in_subprocess({"kind": "conv", "algo": algo, "size": size, "threads": 2,
                                     "C": 16, "K": 16, "R": 3, "pad": 1})


@needs_hwm
def test_im2col_workspace_does_not_grow_with_the_image():
    # 9x more pixels; both sizes past the point where the tiles (and the GEMM's packing panels)
    # reach their fixed size, which for 16 channels is a few MB per thread
    small, large = _conv(256), _conv(768)
    for r in (small, large):
        assert r["method"] == "hwm"
        assert r["extra"] == r["peak"] - r["baseline"]
        assert r["workspace"] == r["extra"] - r["output"]
    assert large["output"] == 16 * 768 * 768 * 4                   # 36 MB
    assert large["extra"] > 0.9 * large["output"]   # the measurement sees the output being written
    assert large["workspace"] < bm.full_im2col_bytes(768, C=16) / 8   # a whole-image im2col: 340 MB
    assert large["workspace"] < small["workspace"] + 8 * MB          # proportional growth: +8x


@needs_hwm
@pytest.mark.parametrize("impl", ["fastconv", "torch"])
def test_model_worker_reports_import_model_and_inference_memory(impl):
    if impl == "torch":
        pytest.importorskip("torch")
    r = bm.measure_in_subprocess({"kind": "model", "impl": impl, "arch": "resnet18", "size": 64, "threads": 1,
                                  "repeats": 2})
    assert r["method"] == "hwm"
    assert r["weights"] > 11_689_512 * 4     # the parameters, float32, plus BatchNorm buffers
    assert r["rss_import"] > 0 and r["baseline"] > r["rss_import"] + 0.9 * r["weights"]
    assert r["extra"] == r["peak"] - r["baseline"] == max(r["first_extra"], r["steady_extra"])
    assert r["first_extra"] > 0


def test_table_shows_every_measurement():
    model = {"impl": "fastconv", "arch": "resnet50", "size": 224, "repeats": 2, "rss_import": 31 * MB,
             "baseline": 135 * MB, "weights": 98 * MB, "peak": 160 * MB, "extra": 25 * MB,
             "first_extra": 22 * MB, "steady_extra": 25 * MB, "method": "hwm"}
    conv = {"algo": "im2col", "size": 896, "C": 64, "K": 64, "input": 196 * MB, "output": 196 * MB,
            "extra": 205 * MB, "workspace": 9 * MB, "full_im2col": bm.full_im2col_bytes(896)}
    table = bm.format_table({"threads": 2, "models": [model, dict(model, impl="torch", steady_extra=None)],
                             "convs": [conv]})
    lines = table.splitlines()
    assert lines[2].split() == ["fastconv", "31", "135", "98", "160", "22.0", "25.0", "hwm"]
    assert lines[3].split() == ["torch", "31", "135", "98", "160", "22.0", "-", "hwm"]
    conv_line = next(line for line in lines if line.startswith("im2col"))
    assert conv_line.split() == ["im2col", "896", "196.0", "196.0", "205.0", "9.0", f"{bm.full_im2col_bytes(896) / MB:.1f}"]


def test_full_im2col_bytes():
    assert bm.full_im2col_bytes(224) == 64 * 9 * 224 * 224 * 4
    assert bm.full_im2col_bytes(8, C=2, R=3, pad=0) == 2 * 9 * 6 * 6 * 4
