"""fc_sgemm / fc_dgemm through fastconv._ext.gemm against NumPy, on every ISA path.

C = alpha * op(A) @ op(B) + beta * C, row-major. The reference is computed in float64 from the
same (float32-rounded) inputs, so the only error left is the kernel's own accumulation; it is
bounded relative to the scale |alpha| * |op(A)| @ |op(B)| + |beta * C| of each output.
Sizes straddle the register blocks (MR = 4/6/12 rows, NR = 8/16/32 columns), the cache blocks
(KC <= 768, MC <= 192, NC <= 3072) and the width (N = 256) under which A is read in place
rather than packed, so edge tiles, block boundaries and both A paths are all hit.
"""
import numpy as np
import pytest

from fastconv import _ext

ISAS = [pytest.param(isa, id=name, marks=pytest.mark.skipif(isa > _ext.CPU_ISA, reason=f"CPU lacks {name}"))
        for isa, name in enumerate(("scalar", "avx2", "avx512"))]
DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
TRANS = [(False, False), (True, False), (False, True), (True, True)]

# (M, N, K): odd sizes around every register block, and a few crossing cache blocks
SHAPES = [
    (1, 1, 1), (1, 7, 13), (7, 1, 33), (13, 33, 1), (12, 32, 8), (13, 33, 7),
    (33, 100, 13), (100, 17, 257), (257, 13, 100), (6, 16, 33), (5, 15, 2), (49, 49, 27),
    (64, 196, 577),    # K over two depth blocks of the 384-deep kits
    (40, 70, 1601),    # K over three depth blocks of AVX-512 float's 768 (five of 384)
    (200, 71, 40),     # M over an MC block
    (9, 3100, 5),      # N over an NC block
    (29, 49, 1024),    # rows 4 KiB apart: A packed, 49 = 3*16 + 1 left to the column-tail kernel
    (50, 20, 40), (13, 4, 9), (25, 35, 17),   # remainders of 4, 4 (no full vector), 3 columns
]


def _operands(M, N, K, ta, tb, dtype, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    C = rng.standard_normal((M, N)).astype(dtype)
    return A, B, C


def _reference(A, B, C, ta, tb, alpha, beta):
    """alpha * op(A) @ op(B) + beta * C in float64, and the scale its error is measured against."""
    a = A.astype(np.float64).T if ta else A.astype(np.float64)
    b = B.astype(np.float64).T if tb else B.astype(np.float64)
    c = C.astype(np.float64)
    old = beta * c if beta != 0 else np.zeros_like(c)
    expected = alpha * (a @ b) + old
    scale = abs(alpha) * (np.abs(a) @ np.abs(b)) + np.abs(old)
    return expected, (scale.max() if scale.size else 0.0)


def _run(isa, nthreads, A, B, C, ta, tb, alpha, beta):
    out = C.copy()
    _ext.gemm(isa, nthreads, ta, tb, A, B, out, alpha, beta)
    return out


def _assert_gemm_close(actual, expected, scale, dtype, msg):
    err = np.max(np.abs(actual.astype(np.float64) - expected)) if actual.size else 0.0
    assert np.isfinite(actual).all(), f"{msg}: non-finite output"
    assert err <= RTOL[dtype] * scale + 1e-300, f"{msg}: max error {err:.3g} > {RTOL[dtype]:g} * scale {scale:.3g}"


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_matches_numpy_all_transposes(isa, dtype, ta, tb):
    for i, (M, N, K) in enumerate(SHAPES):
        alpha, beta = [(1.0, 0.0), (-0.7, 1.0), (2.5, -0.3), (1.0, 1.0)][i % 4]
        A, B, C = _operands(M, N, K, ta, tb, dtype, seed=i)
        expected, scale = _reference(A, B, C, ta, tb, alpha, beta)
        actual = _run(isa, 1, A, B, C, ta, tb, alpha, beta)
        _assert_gemm_close(actual, expected, scale, dtype, f"M={M} N={N} K={K} alpha={alpha} beta={beta}")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_beta_zero_ignores_nan_in_c(isa, dtype):
    for M, N, K in [(13, 33, 7), (1, 1, 1), (30, 70, 300)]:
        A, B, _ = _operands(M, N, K, False, False, dtype, seed=1)
        C = np.full((M, N), np.nan, dtype=dtype)
        actual = _run(isa, 1, A, B, C, False, False, 1.5, 0.0)
        expected, scale = _reference(A, B, np.zeros_like(C), False, False, 1.5, 0.0)
        _assert_gemm_close(actual, expected, scale, dtype, f"M={M} N={N} K={K}")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_scales_c(isa, dtype):
    A = np.zeros((5, 0), dtype=dtype)
    B = np.zeros((0, 7), dtype=dtype)
    C = np.arange(35, dtype=dtype).reshape(5, 7)
    np.testing.assert_array_equal(_run(isa, 1, A, B, C, False, False, 2.0, 0.5), 0.5 * C)
    np.testing.assert_array_equal(_run(isa, 1, A, B, C, False, False, 2.0, 1.0), C)
    nan_c = np.full_like(C, np.nan)
    np.testing.assert_array_equal(_run(isa, 1, A, B, nan_c, False, False, 2.0, 0.0), np.zeros_like(C))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_zero_gives_beta_c(isa, dtype):
    A, B, C = _operands(9, 20, 11, False, True, dtype, seed=3)
    np.testing.assert_array_equal(_run(isa, 1, A, B, C, False, True, 0.0, -2.0), (-2.0 * C).astype(dtype))


@pytest.mark.parametrize("isa", ISAS)
def test_empty_output_is_a_no_op(isa):
    A = np.ones((0, 4))
    B = np.ones((4, 3))
    C = np.empty((0, 3))
    _ext.gemm(isa, 2, False, False, A, B, C, 1.0, 0.0)   # must not raise or touch memory
    C2 = np.empty((3, 0))
    _ext.gemm(isa, 2, False, False, np.ones((3, 4)), np.ones((4, 0)), C2, 1.0, 0.0)


def test_float32_is_not_computed_in_double():
    """A float32 result must carry float32 rounding: 1 + 2^-30 - 1 sums to 0 in float32 (2^-30
    in double). Through packed A (transposed: every kernel sums in k order) the three terms are
    consecutive; read in place, a narrow column is summed along k in 8 or 16 lanes (row_tail),
    so they sit 16 apart to fall into the same lane, where they are still added in order."""
    C = np.zeros((1, 1), dtype=np.float32)
    packed_a = np.array([[1.0], [2.0 ** -30], [-1.0]], dtype=np.float32)   # A^T
    in_place_a = np.zeros((1, 33), dtype=np.float32)
    in_place_a[0, [0, 16, 32]] = 1.0, 2.0 ** -30, -1.0
    for isa in range(_ext.CPU_ISA + 1):
        assert _run(isa, 1, packed_a, np.ones((3, 1), np.float32), C, True, False, 1.0, 0.0)[0, 0] == 0.0
        assert _run(isa, 1, in_place_a, np.ones((33, 1), np.float32), C, False, False, 1.0, 0.0)[0, 0] == 0.0


# threaded shapes: rows split (tall), columns split (wide), several depth blocks
THREAD_SHAPES = [(500, 40, 300), (20, 2000, 150), (300, 300, 800), (97, 131, 1000)]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_deterministic_and_correct(isa, dtype):
    for i, (M, N, K) in enumerate(THREAD_SHAPES):
        ta, tb = TRANS[i % 4]
        A, B, C = _operands(M, N, K, ta, tb, dtype, seed=10 + i)
        expected, scale = _reference(A, B, C, ta, tb, 0.5, 0.25)
        one = _run(isa, 1, A, B, C, ta, tb, 0.5, 0.25)
        two = _run(isa, 2, A, B, C, ta, tb, 0.5, 0.25)
        _assert_gemm_close(two, expected, scale, dtype, f"2 threads M={M} N={N} K={K}")
        # run to run, bit for bit, for a fixed thread count
        np.testing.assert_array_equal(_run(isa, 2, A, B, C, ta, tb, 0.5, 0.25), two)
        np.testing.assert_array_equal(_run(isa, 1, A, B, C, ta, tb, 0.5, 0.25), one)
        # the tile grid and depth blocks do not depend on the thread count either
        np.testing.assert_array_equal(one, two)
        np.testing.assert_array_equal(_run(isa, 3, A, B, C, ta, tb, 0.5, 0.25), one)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("ta", [False, True])
def test_element_does_not_depend_on_its_tile(isa, ta):
    """A narrow column remainder goes to a kernel vectorised along M (col_tail), the same
    columns in a wider product to the main micro-kernel: each element is the same k-ordered
    chain of FMAs either way, so widening B must leave the shared columns bit-identical. One
    vector plus a remainder (49 = 32 + 16 + 1 and 18 = 16 + 2 on AVX-512, 26 = 16 + 8 + 2 on
    AVX2) goes to the kernel doing both in one pass for full A slivers, and the partial last
    sliver (M = 50, 37, 30) the two-pass way."""
    for M, N, K in [(50, 49, 1024), (37, 18, 300), (30, 26, 300), (12, 3, 77)]:
        A, B, C = _operands(M, 64, K, ta, False, np.float32, seed=M)
        wide = _run(isa, 1, A, B, C, ta, False, 0.5, 0.25)
        narrow = _run(isa, 1, A, np.ascontiguousarray(B[:, :N]), np.ascontiguousarray(C[:, :N]),
                      ta, False, 0.5, 0.25)
        # the exception: A read in place, the last few N % VL columns summed along k (row_tail)
        tail = 0 if ta else _row_tail_columns(isa, N)
        np.testing.assert_array_equal(narrow[:, :N - tail], wide[:, :N - tail], err_msg=f"M={M} N={N} K={K}")
        expected, scale = _reference(A, B[:, :N], C[:, :N], ta, False, 0.5, 0.25)
        _assert_gemm_close(narrow, expected, scale, np.float32, f"M={M} N={N} K={K}")


def _row_tail_columns(isa, N):
    """Columns a float32 GEMM with A read in place sums along k: the last N % VL when that is at
    most the kit's GK_ROW_TAIL_COLS (VL = 16 lanes and 1 column on AVX-512, 8 lanes and 3
    columns on AVX2; the portable path has no such kernel)."""
    vl, most = {0: (0, 0), 1: (8, 3), 2: (16, 1)}[isa]
    rem = N % vl if vl else 0
    return rem if 0 < rem <= most else 0


@pytest.mark.parametrize("isa", ISAS)
def test_row_tail_does_not_depend_on_thread_count(isa):
    """Whether a column is summed along k depends on the call's shapes only (A in place for
    every split, N <= 256): 1, 2 and 3 threads, rows split or (M = 12) columns, give the same bits."""
    for M, N, K in [(200, 49, 4608), (37, 241, 700), (512, 196, 1152), (30, 3, 77), (12, 241, 500)]:
        A, B, C = _operands(M, N, K, False, False, np.float32, seed=N)
        one = _run(isa, 1, A, B, C, False, False, 1.0, 0.0)
        for threads in (2, 3):
            np.testing.assert_array_equal(_run(isa, threads, A, B, C, False, False, 1.0, 0.0), one,
                                          err_msg=f"M={M} N={N} K={K} threads={threads}")
        expected, scale = _reference(A, B, C, False, False, 1.0, 0.0)
        _assert_gemm_close(one, expected, scale, np.float32, f"M={M} N={N} K={K}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_isa_paths_agree(dtype):
    A, B, C = _operands(37, 45, 70, True, False, dtype, seed=5)
    expected, scale = _reference(A, B, C, True, False, 1.0, 1.0)
    for isa in range(_ext.CPU_ISA + 1):
        _assert_gemm_close(_run(isa, 1, A, B, C, True, False, 1.0, 1.0), expected, scale, dtype, f"isa {isa}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_propagate(dtype):
    """inf and NaN in A or B reach exactly the outputs that use them (IEEE, no fast-math)."""
    A, B, C = _operands(14, 35, 9, False, False, dtype, seed=6)
    A[3, 4] = np.inf
    B[2, 30] = np.nan
    with np.errstate(invalid="ignore"):
        expected = A.astype(np.float64) @ B.astype(np.float64)
    for isa in range(_ext.CPU_ISA + 1):
        actual = _run(isa, 1, A, B, C, False, False, 1.0, 0.0)
        np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
        np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_b_entry_gives_the_same_bits(isa, dtype):
    """B packed once by the caller (what Winograd does with V) and then multiplied: the same
    products, bit for bit, as packing inside the call, over depth blocks (K > 768), column
    blocks (N > 3072), the column tails and both thread splits; with k_order the narrow tail is
    a k-ordered dot product like the rest (not summed along k), still close to the reference."""
    for M, N, K in SHAPES:
        A, B, C = _operands(M, N, K, False, False, dtype, seed=M + 3 * N + 7 * K)
        for threads in (1, 2):
            for alpha, beta in ((1.0, 0.0), (0.5, 0.25)):
                expected = _run(isa, threads, A, B, C, False, False, alpha, beta)
                got = C.copy()
                _ext.gemm_packed_b(isa, threads, False, A, B, got, alpha, beta)
                np.testing.assert_array_equal(got, expected, err_msg=f"M={M} N={N} K={K} threads={threads}")
                ordered = C.copy()
                _ext.gemm_packed_b(isa, threads, True, A, B, ordered, alpha, beta)
                tail = _row_tail_columns(isa, N) if dtype == np.float32 else 0
                np.testing.assert_array_equal(ordered[:, :N - tail], expected[:, :N - tail])
                ref, scale = _reference(A, B, C, False, False, alpha, beta)
                _assert_gemm_close(ordered, ref, scale, dtype, f"k_order M={M} N={N} K={K}")
