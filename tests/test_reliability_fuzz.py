"""Differential fuzzing with hypothesis: random shapes, strides, paddings, dtypes, memory layouts,
SIMD paths and thread counts (degenerate ones included: batch 0, 1x1 images, kernels as large
as the padded input, stride larger than the kernel, empty channel sets, NaN and infinities);
every op is compared with fastconv.reference.

CI runs a fixed, derandomised set of examples per test; FASTCONV_FUZZ_EXAMPLES=2000 runs longer
with fresh random draws (tools/fuzz.sh does both this and the coverage-guided harness).
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastconv  # noqa: E402
import fastconv.functional as F  # noqa: E402
import fastconv.reference as R  # noqa: E402
from helpers import assert_close  # noqa: E402

SANITIZED = bool(os.environ.get("FASTCONV_SANITIZED"))
EXAMPLES = int(os.environ.get("FASTCONV_FUZZ_EXAMPLES", "25" if SANITIZED else "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="FASTCONV_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])

ISAS = [name for name in ("scalar", "avx2", "avx512")
        if ("scalar", "avx2", "avx512").index(name) <= ("scalar", "avx2", "avx512").index(fastconv.cpu_isa())]


@pytest.fixture(autouse=True)
def _restore_config():
    isa, n = fastconv.get_isa(), fastconv.get_num_threads()
    yield
    fastconv.set_isa(isa)
    fastconv.set_num_threads(n)


# ---- strategies --------------------------------------------------------------------------------

@st.composite
def run_config(draw):
    """The SIMD path and thread count a call runs with (each must give the reference's answer)."""
    fastconv.set_isa(draw(st.sampled_from(ISAS)))
    fastconv.set_num_threads(draw(st.sampled_from([1, 2, 3])))


@st.composite
def arrays(draw, shape, dtype, special=True):
    """Random data of a shape; sometimes small integers (ties), sometimes NaN/inf sprinkled in;
    sometimes handed over as a non-contiguous or Fortran-ordered view."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "normal", "ints", "special"] if special else ["normal", "ints"]))
    if kind == "ints":
        a = rng.integers(-3, 4, size=shape).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    if kind == "special" and a.size:
        k = draw(st.integers(1, max(1, a.size // 4)))
        pos = rng.integers(0, a.size, size=k)
        a.reshape(-1)[pos] = rng.choice(np.array([np.nan, np.inf, -np.inf], dtype=dtype), size=k)
    layout = draw(st.sampled_from(["c", "c", "fortran", "strided"]))
    if layout == "fortran":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim:
        big = np.zeros(shape[:-1] + (2 * shape[-1],), dtype) if shape[-1] else np.zeros(shape, dtype)
        if shape[-1]:
            big[..., ::2] = a
            a = big[..., ::2]
    return a


dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def conv_problem(draw):
    N = draw(st.integers(0, 3))
    C = draw(st.integers(1, 6))
    K = draw(st.integers(1, 6))
    H = draw(st.integers(1, 11))
    W = draw(st.integers(1, 11))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    R_ = draw(st.integers(1, min(6, H + 2 * ph)))
    S_ = draw(st.integers(1, min(6, W + 2 * pw)))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(dtypes)
    return dict(N=N, C=C, K=K, H=H, W=W, R=R_, S=S_, stride=(sh, sw), padding=(ph, pw), dtype=dtype)


def _algos(p):
    algos = ["auto", "direct", "im2col"]
    if (p["R"], p["S"], p["stride"], p["padding"]) == (1, 1, (1, 1), (0, 0)):
        algos.append("1x1")
    return algos


# ---- convolution -------------------------------------------------------------------------------

@FUZZ
@given(p=conv_problem(), data=st.data())
def test_conv2d_matches_reference(p, data):
    data.draw(run_config())
    dt = p["dtype"]
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), dt, special=False))
    w = data.draw(arrays((p["K"], p["C"], p["R"], p["S"]), dt, special=False))
    b = data.draw(st.one_of(st.none(), arrays((p["K"],), dt, special=False)))
    relu = data.draw(st.booleans())
    algo = data.draw(st.sampled_from(_algos(p)))
    y = F.conv2d(x, w, b, p["stride"], p["padding"], algo=algo, relu=relu)
    ref = R.conv2d(x, w, b, p["stride"], p["padding"], relu=relu)
    assert y.dtype == dt
    assert_close(y, ref, msg=f"{algo} {p}")


@FUZZ
@given(p=conv_problem(), data=st.data())
def test_conv2d_backward_matches_reference(p, data):
    data.draw(run_config())
    dt = p["dtype"]
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), dt, special=False))
    w = data.draw(arrays((p["K"], p["C"], p["R"], p["S"]), dt, special=False))
    out_shape = R.conv2d(x, w, None, p["stride"], p["padding"]).shape
    gy = data.draw(arrays(out_shape, dt, special=False))
    need = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    algo = data.draw(st.sampled_from(_algos(p)))
    got = F.conv2d_backward(gy, x, w, p["stride"], p["padding"], algo=algo, need_input_grad=need[0],
                            need_weight_grad=need[1], need_bias_grad=need[2])
    ref = R.conv2d_backward(gy, x, w, p["stride"], p["padding"])
    for name, g, r, wanted in zip(("grad_x", "grad_w", "grad_b"), got, ref, need):
        if not wanted:
            assert g is None, name
            continue
        assert g.dtype == dt, name
        # a reduction over N*P*Q (grad_w, grad_b) or K*R*S (grad_x) terms: scale by its size
        assert_close(g, r, msg=f"{name} {algo} {p}")


@FUZZ
@given(p=conv_problem(), data=st.data())
def test_conv2d_nan_and_inf_propagate_like_the_reference(p, data):
    # IEEE semantics, no fast-math: NaN and inf positions must match the reference exactly
    data.draw(run_config())
    dt = p["dtype"]
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), dt, special=True))
    w = data.draw(arrays((p["K"], p["C"], p["R"], p["S"]), dt, special=False))
    algo = data.draw(st.sampled_from(_algos(p)))
    y = F.conv2d(x, w, None, p["stride"], p["padding"], algo=algo)
    with np.errstate(invalid="ignore", over="ignore"):
        ref = R.conv2d(x, w, None, p["stride"], p["padding"])
    assert np.array_equal(np.isnan(y), np.isnan(ref)), f"NaN positions differ ({algo} {p})"
    finite = np.isfinite(ref)
    assert np.array_equal(np.isinf(y) & ~np.isnan(ref), np.isinf(ref)), f"inf positions differ ({algo} {p})"
    if finite.any():
        assert_close(np.where(finite, y, 0), np.where(finite, ref, 0), msg=f"{algo} {p}")


# ---- pooling -----------------------------------------------------------------------------------

@st.composite
def pool_problem(draw):
    # few planes and wide rows too: the SIMD row kernels and the batch-1 row split only run there
    N = draw(st.sampled_from([1, 1, 2, 0, 3]))
    C = draw(st.sampled_from([1, 2, 3, 0, 5]))
    H = draw(st.integers(1, 20))
    W = draw(st.sampled_from([1, 2, 7, 8, 15, 16, 17, 31, 33, 40]) | st.integers(1, 40))
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    assume(kh <= H + 2 * ph and kw <= W + 2 * pw)
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 7), st.integers(1, 7))))
    ceil_mode = draw(st.booleans())
    return dict(N=N, C=C, H=H, W=W, kernel=(kh, kw), stride=stride, padding=(ph, pw), ceil_mode=ceil_mode,
                dtype=draw(dtypes))


@FUZZ
@given(p=pool_problem(), data=st.data())
def test_max_pool2d_and_backward_match_reference(p, data):
    data.draw(run_config())
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), p["dtype"], special=True))
    args = (p["kernel"], p["stride"], p["padding"])
    y, idx = F.max_pool2d(x, *args, ceil_mode=p["ceil_mode"], return_indices=True)
    ry, ridx = R.max_pool2d(x, *args, ceil_mode=p["ceil_mode"], return_indices=True)
    assert y.dtype == x.dtype and idx.dtype == np.int64
    assert np.array_equal(y, ry, equal_nan=True), p       # max is exact: no tolerance
    assert np.array_equal(idx, ridx), p                   # ties and NaN pick the same element
    assert np.array_equal(F.max_pool2d(x, *args, ceil_mode=p["ceil_mode"]), y, equal_nan=True)
    gy = data.draw(arrays(y.shape, p["dtype"], special=False))
    gx = F.max_pool2d_backward(gy, idx, x.shape)
    assert gx.dtype == x.dtype
    assert_close(gx, R.max_pool2d_backward(gy, ridx, x.shape), msg=str(p))


def test_reference_max_pool2d_backward_of_an_empty_batch():
    for shape in [(0, 3, 4, 4), (2, 0, 4, 4), (0, 0, 5, 3)]:
        x = np.zeros(shape, np.float32)
        y, idx = R.max_pool2d(x, 2, return_indices=True)
        gx = R.max_pool2d_backward(y, idx, x.shape)
        assert gx.shape == x.shape and gx.dtype == x.dtype


@FUZZ
@given(p=pool_problem(), data=st.data())
def test_avg_pool2d_and_backward_match_reference(p, data):
    data.draw(run_config())
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), p["dtype"], special=True))
    cip = data.draw(st.booleans())
    args = (p["kernel"], p["stride"], p["padding"])
    y = F.avg_pool2d(x, *args, ceil_mode=p["ceil_mode"], count_include_pad=cip)
    assert_close(y, R.avg_pool2d(x, *args, ceil_mode=p["ceil_mode"], count_include_pad=cip), msg=str(p))
    gy = data.draw(arrays(y.shape, p["dtype"], special=True))
    gx = F.avg_pool2d_backward(gy, x.shape, *args, ceil_mode=p["ceil_mode"], count_include_pad=cip)
    ref = R.avg_pool2d_backward(gy, x.shape, *args, ceil_mode=p["ceil_mode"], count_include_pad=cip)
    assert_close(gx, ref, msg=str(p))


@FUZZ
@given(N=st.integers(0, 3), C=st.integers(0, 4), H=st.integers(1, 13), W=st.integers(1, 13),
       P=st.integers(1, 16), Q=st.integers(1, 16), dtype=dtypes, data=st.data())
def test_adaptive_avg_pool2d_and_backward_match_reference(N, C, H, W, P, Q, dtype, data):
    data.draw(run_config())
    x = data.draw(arrays((N, C, H, W), dtype, special=True))
    y = F.adaptive_avg_pool2d(x, (P, Q))
    assert_close(y, R.adaptive_avg_pool2d(x, (P, Q)))
    gy = data.draw(arrays(y.shape, dtype, special=True))
    assert_close(F.adaptive_avg_pool2d_backward(gy, x.shape), R.adaptive_avg_pool2d_backward(gy, x.shape))


# ---- GEMM --------------------------------------------------------------------------------------

@FUZZ
@given(M=st.integers(0, 70), K=st.integers(0, 70), N=st.integers(0, 70), dtype=dtypes, data=st.data())
def test_matmul_matches_numpy(M, K, N, dtype, data):
    data.draw(run_config())
    a = data.draw(arrays((M, K), dtype, special=False))
    b = data.draw(arrays((K, N), dtype, special=False))
    c = F.matmul(a, b)
    assert c.dtype == dtype and c.shape == (M, N)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    assert_close(c, ref.astype(dtype), dtype, rtol=(1e-5 if dtype == np.float32 else 1e-12) * max(1, K) ** 0.5)


# ---- the same call, every way of running it ------------------------------------------------------

@FUZZ
@given(p=conv_problem(), data=st.data())
def test_results_do_not_depend_on_the_call_history(p, data):
    # a fixed (ISA, threads) pair is bit-identical run to run, whatever ran in between
    dt = p["dtype"]
    x = data.draw(arrays((p["N"], p["C"], p["H"], p["W"]), dt, special=False))
    w = data.draw(arrays((p["K"], p["C"], p["R"], p["S"]), dt, special=False))
    algo = data.draw(st.sampled_from(_algos(p)))
    data.draw(run_config())
    isa, n = fastconv.get_isa(), fastconv.get_num_threads()
    first = F.conv2d(x, w, None, p["stride"], p["padding"], algo=algo)
    data.draw(run_config())
    F.conv2d(x[:, :, ::-1].copy(), w, None, p["stride"], p["padding"], algo=algo)   # something else
    fastconv.set_isa(isa)
    fastconv.set_num_threads(n)
    again = F.conv2d(x, w, None, p["stride"], p["padding"], algo=algo)
    assert np.array_equal(first, again, equal_nan=True)


@pytest.mark.parametrize("op", ["avg", "adaptive"])
def test_reference_average_pooling_keeps_inf_local(op):
    # (the reference once summed windows with 0/1 matrix products: 0 * inf = NaN spread an inf
    # to every window of its row and column)
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0] = np.inf
    expected = np.array([[[[np.inf, 0], [0, 0]]]], np.float32)     # torch's answer, and the kernels'
    got = F.avg_pool2d(x, 2) if op == "avg" else F.adaptive_avg_pool2d(x, 2)
    assert np.array_equal(got, expected)
    ref = R.avg_pool2d(x, 2) if op == "avg" else R.adaptive_avg_pool2d(x, 2)
    assert np.array_equal(ref, expected, equal_nan=True), ref
    # backward: an inf/NaN output gradient reaches only the input cells of its window
    gy = np.zeros((1, 1, 2, 2), np.float32)
    gy[0, 0, 1, 0], gy[0, 0, 0, 1] = np.inf, np.nan
    gx_expected = np.zeros((1, 1, 4, 4), np.float32)
    gx_expected[0, 0, 2:, :2], gx_expected[0, 0, :2, 2:] = np.inf, np.nan
    if op == "avg":
        got, ref = F.avg_pool2d_backward(gy, x.shape, 2), R.avg_pool2d_backward(gy, x.shape, 2)
    else:
        got, ref = F.adaptive_avg_pool2d_backward(gy, x.shape), R.adaptive_avg_pool2d_backward(gy, x.shape)
    assert np.array_equal(got, gx_expected, equal_nan=True), got
    assert np.array_equal(ref, gx_expected, equal_nan=True), ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_inputs_reach_c_aligned_and_give_the_same_results(dtype):
    # a view whose data pointer is not a multiple of the itemsize (possible with np.frombuffer):
    # the kernels assume element alignment, so it must be copied first (UBSan flagged it)
    from fastconv._validate import contiguous
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 9)).astype(dtype)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    mis = np.frombuffer(raw.data, dtype, count=x.size, offset=1).reshape(x.shape)
    mis[...] = x
    assert not mis.flags.aligned and contiguous(mis).flags.aligned
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    assert np.array_equal(F.conv2d(mis, w, padding=1), F.conv2d(x, w, padding=1))
    assert np.array_equal(F.max_pool2d(mis, 3, 2, 1), F.max_pool2d(x, 3, 2, 1))
    assert np.array_equal(F.avg_pool2d(mis, 2), F.avg_pool2d(x, 2))
    assert np.array_equal(F.adaptive_avg_pool2d(mis, 2), F.adaptive_avg_pool2d(x, 2))


def test_misaligned_pooling_indices_are_copied_aligned():
    from fastconv._validate import contiguous
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 6)).astype(np.float32)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    raw = np.zeros(idx.nbytes + 3, np.uint8)
    mis = np.frombuffer(raw.data, np.int64, count=idx.size, offset=3).reshape(idx.shape)
    mis[...] = idx
    assert not mis.flags.aligned and contiguous(mis.astype(np.int64, copy=False)).flags.aligned
    assert np.array_equal(F.max_pool2d_backward(y, mis, x.shape), F.max_pool2d_backward(y, idx, x.shape))


@pytest.mark.parametrize("algo", ["direct", "im2col"])
def test_empty_input_plane_under_padding(algo):
    # H = 0 with padding >= kernel: a non-empty output made of padding only. The direct kernel
    # did pointer arithmetic on the NULL input (UBSan, found by the atheris harness).
    x = np.zeros((1, 1, 0, 2), np.float32)
    w = np.ones((1, 1, 4, 1), np.float32)
    b = np.array([-0.5], np.float32)
    for relu in (False, True):
        y = F.conv2d(x, w, b, 2, 2, algo=algo, relu=relu)
        assert_close(y, R.conv2d(x, w, b, 2, 2, relu=relu))
    gx, gw, gb = F.conv2d_backward(np.ones((1, 1, 1, 3), np.float32), x, w, 2, 2, algo=algo)
    assert gx.shape == x.shape and np.array_equal(gw, np.zeros_like(w)) and gb.tolist() == [3.0]
