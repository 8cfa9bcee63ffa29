"""Element counts above 2**31: the kernels index with int64, or the call is refused before any
allocation.

Inputs with more than 2**31 elements cost nothing here: np.zeros maps untouched zero pages, and
the calls below (1x1 windows with a stride that jumps from the first to the last column) read
only a handful of them, so each test touches a few pages of an 8 GB array. Every scenario runs in
a child process with a cap on its address space, so a kernel that computed a 32-bit offset
crashes the child (reported as a failure), not the machine.
"""
import os
import subprocess
import sys
import textwrap

import pytest

SANITIZED = bool(os.environ.get("FASTCONV_SANITIZED"))

PRELUDE = textwrap.dedent("""
    import os, resource, sys
    import numpy as np
    import fastconv, fastconv.functional as F
    from fastconv import _ext
    from fastconv._config import state

    def cap(extra_bytes):
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, vm + extra_bytes))

    BIG = 2**31 + 64          # elements: past int32, and past 2**32 bytes for any dtype
""")


def run_child(body, timeout=180):
    import fastconv
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"child failed (rc={proc.returncode}, a negative rc is a signal)\n"
                                  f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}")
    return proc.stdout


def _have_room_for_8gb_mapping():
    # overcommit heuristic refuses a mapping larger than RAM + swap; never try on small machines
    try:
        with open("/proc/meminfo") as f:
            info = {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in f}
        return info["MemTotal"] + info.get("SwapTotal", 0) > 12 * 2**30
    except (OSError, KeyError, ValueError):
        return False


big_input = pytest.mark.skipif(SANITIZED or not _have_room_for_8gb_mapping(),
                               reason="needs an 8 GB lazily-mapped array (not under ASan)")


@big_input
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_offsets_past_2_31_within_one_row(dtype):
    # one image row of 2**31 + 64 elements: the last column's offset does not fit in int32
    out = run_child(f"""
        cap(BIG * np.dtype("{dtype}").itemsize + (2 << 30))
        x = np.zeros((1, 1, 1, BIG), "{dtype}")
        x[0, 0, 0, -1] = 7.0
        x[0, 0, 0, 0] = -1.0
        stride = (1, BIG - 1)
        y, idx = F.max_pool2d(x, 1, stride, return_indices=True)
        assert y.tolist() == [[[[-1.0, 7.0]]]], y
        assert idx.tolist() == [[[[0, BIG - 1]]]], idx
        assert F.avg_pool2d(x, 1, stride).tolist() == [[[[-1.0, 7.0]]]]
        w = np.full((1, 1, 1, 1), 2.0, "{dtype}")
        for algo in ("direct", "im2col"):
            y = F.conv2d(x, w, np.array([0.5], "{dtype}"), stride=stride, algo=algo)
            assert y.tolist() == [[[[-1.5, 14.5]]]], (algo, y)
            _, gw, gb = F.conv2d_backward(np.ones((1, 1, 1, 2), "{dtype}"), x, w, stride=stride, algo=algo,
                                          need_input_grad=False)
            assert gw.ravel().tolist() == [6.0] and gb.tolist() == [2.0], (algo, gw, gb)
        print("ok")
    """)
    assert "ok" in out


@big_input
def test_offsets_past_2_31_across_images():
    # three images whose planes start past 2**31 elements: the batch offset n*C*H*W needs int64
    out = run_child("""
        W = BIG // 3 + 1
        cap(3 * W * 4 + (2 << 30))
        x = np.zeros((3, 1, 1, W), np.float32)
        x[2, 0, 0, 0], x[2, 0, 0, -1], x[1, 0, 0, -1] = 3.0, 5.0, 4.0
        stride = (1, W - 1)
        y, idx = F.max_pool2d(x, 1, stride, return_indices=True)
        assert y[:, 0, 0].tolist() == [[0, 0], [0, 4], [3, 5]], y
        assert idx[2, 0, 0].tolist() == [0, W - 1]
        w = np.ones((2, 1, 1, 1), np.float32)
        for algo in ("direct", "im2col"):
            y = F.conv2d(x, w, stride=stride, algo=algo)
            assert y[2, 1, 0].tolist() == [3, 5] and y[1, 0, 0].tolist() == [0, 4], (algo, y)
        print("ok")
    """)
    assert "ok" in out


def test_kernels_refuse_descriptors_whose_sizes_overflow():
    # what functional checks in Python, C checks again: a descriptor whose products overflow
    # int64 is refused with a status, before any of the (tiny) buffers is touched
    out = run_child("""
        cap(2 << 30)
        t = np.zeros(16, np.float32)
        i = np.zeros(16, np.int64)
        huge = 2**40
        conv_descs = {
            "N*C*H*W": (huge, huge, 4, 4, 1, 1, 1, 1, 1, 0, 0, 4, 4),
            "N*K*P*Q": (huge, 1, 4, 4, huge, 1, 1, 1, 1, 0, 0, 4, 4),
            "K*C*R*S": (1, huge, 2**30, 2**30, huge, 2**30, 2**30, 1, 1, 0, 0, 1, 1),
            "H+2*pad": (1, 1, 4, 4, 1, 1, 1, 1, 1, 2**62, 0, 2**63 - 1, 4),
            # consistent sizes (one output row), but index arithmetic on the stride overflows
            "stride": (1, 1, 4, 4, 1, 1, 1, 2**63 - 1, 1, 0, 0, 1, 4),
        }
        refused = 0
        for what, d in conv_descs.items():
            for algo in ("direct", "im2col", "1x1"):
                calls = [
                    lambda: _ext.conv2d_forward(algo, state.isa, 2, d, t, t, t, True, False, t),
                    lambda: _ext.conv2d_grad_input(algo, state.isa, 2, d, t, t, t),
                    lambda: _ext.conv2d_grad_weight(algo, state.isa, 2, d, t, t, t),
                    lambda: _ext.conv2d_grad_bias(state.isa, 2, d, t, t),
                ]
                for c in calls:
                    try:
                        c()
                    except (OverflowError, ValueError) as exc:
                        assert str(exc).startswith("fastconv:"), exc
                        refused += 1
                    else:
                        raise AssertionError(f"conv descriptor with overflowing {what} accepted ({algo})")
        pool_descs = {
            "N*C*H*W": (huge, huge, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2),
            "N*C*P*Q": (huge, huge, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2),
        }
        for what, d in pool_descs.items():
            calls = [
                lambda: _ext.max_pool2d_forward(state.isa, 2, d, t, t, i, True),
                lambda: _ext.max_pool2d_backward(state.isa, 2, d, t, i, t),
                lambda: _ext.avg_pool2d_forward(state.isa, 2, d, True, t, t),
                lambda: _ext.avg_pool2d_backward(state.isa, 2, d, False, t, t),
                lambda: _ext.adaptive_avg_pool2d_forward(state.isa, 2, d, t, t),
                lambda: _ext.adaptive_avg_pool2d_backward(state.isa, 2, d, t, t),
            ]
            for c in calls:
                try:
                    c()
                except (OverflowError, ValueError) as exc:
                    assert str(exc).startswith("fastconv:"), exc
                    refused += 1
                else:
                    raise AssertionError(f"pool descriptor with overflowing {what} accepted")
        print("refused", refused)
    """)
    assert "refused 72" in out, out


def test_public_api_refuses_before_allocating():
    # counts past int64, and counts that fit int64 but not in memory, fail fast and cleanly
    out = run_child("""
        cap(2 << 30)
        import time
        zero = lambda shape: np.broadcast_to(np.zeros((), np.float32), shape)
        cases = [
            (lambda: F.conv2d(zero((2**20, 1, 2**20, 2**20)), np.zeros((4, 1, 1, 1), np.float32)), (ValueError, MemoryError)),
            (lambda: F.conv2d(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 1, 1), np.float32), padding=2**61), ValueError),
            (lambda: F.max_pool2d(zero((2**16, 2**16, 2**16, 2**8)), 1), (ValueError, MemoryError)),
            (lambda: F.adaptive_avg_pool2d(np.zeros((1, 1, 2, 2), np.float32), (2**40, 2**40)), ValueError),
            (lambda: F.max_pool2d_backward(np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 1, 1, 1), np.int64),
                                           (1, 1, 2**40, 2**40)), ValueError),
            (lambda: F.avg_pool2d_backward(zero((1, 1, 2**20, 2**20)), (1, 1, 2**20, 2**20), 1), MemoryError),
            (lambda: F.matmul(zero((2**32, 1)), zero((1, 2**32))), (ValueError, MemoryError)),
        ]
        for k, (call, exc) in enumerate(cases):
            t0 = time.perf_counter()
            try:
                call()
            except exc:
                pass
            else:
                raise AssertionError(f"case {k} accepted")
            assert time.perf_counter() - t0 < 5, f"case {k} took {time.perf_counter() - t0:.1f} s to refuse"
        print("ok", len(cases))
    """)
    assert "ok 7" in out


def test_fc_mul_overflow_contract():
    # the helper every kernel's size check rests on, compiled standalone from src_c/alloc.c
    import shutil
    import tempfile
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the repository (src_c/)
    src = textwrap.dedent("""
        #include <stdio.h>
        #include "fastconv.h"
        int main(void) {
            int64_t out = -1;
            int bad = 0;
            bad |= fc_mul_overflow(INT64_MAX, 1, &out) != FC_OK || out != INT64_MAX;
            bad |= fc_mul_overflow(INT64_MAX, 2, &out) != FC_EOVERFLOW;
            bad |= fc_mul_overflow((int64_t)1 << 32, ((int64_t)1 << 31) - 1, &out) != FC_OK
                   || out != (((int64_t)1 << 31) - 1) << 32;
            bad |= fc_mul_overflow((int64_t)1 << 32, (int64_t)1 << 31, &out) != FC_EOVERFLOW;
            bad |= fc_mul_overflow((int64_t)1 << 32, (int64_t)1 << 32, &out) != FC_EOVERFLOW;
            bad |= fc_mul_overflow(3037000499LL, 3037000499LL, &out) != FC_OK;
            bad |= fc_mul_overflow(3037000500LL, 3037000500LL, &out) != FC_EOVERFLOW;
            bad |= fc_mul_overflow(0, INT64_MAX, &out) != FC_OK || out != 0;
            bad |= fc_mul_overflow(INT64_MAX, 0, &out) != FC_OK || out != 0;
            bad |= fc_mul_overflow(-1, 5, &out) != FC_EINVAL;
            bad |= fc_mul_overflow(5, -1, &out) != FC_EINVAL;
            bad |= fc_aligned_alloc(-1) != NULL;
            bad |= fc_aligned_alloc(INT64_MAX) != NULL;
            void *p = fc_aligned_alloc(0);
            bad |= p == NULL || ((uintptr_t)p % 64) != 0;
            fc_aligned_free(p);
            p = fc_aligned_alloc(1000);
            bad |= p == NULL || ((uintptr_t)p % 64) != 0;
            fc_aligned_free(p);
            puts(bad ? "BAD" : "ok");
            return bad;
        }
    """)
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "t.c")
        with open(c, "w") as f:
            f.write(src)
        exe = os.path.join(tmp, "t")
        subprocess.run([cc, "-std=c99", "-O1", "-Wall", "-I", os.path.join(root, "src_c"), c,
                        os.path.join(root, "src_c", "alloc.c"), "-o", exe], check=True, capture_output=True)
        proc = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr
