"""The im2col forward on the SIMD paths writes each tile straight in the GEMM's packed layout
(8 or more input channels, horizontal stride 1 or 2: isa/conv_im2col_kernels.c); otherwise it
unfolds row by row and the GEMM packs. Either way every output is the GEMM's dot product of a
weight row with one unfolded column, whatever the tile or thread it lands in, so the
convolution must give the bits of _ext.gemm(W, unfold(x)) exactly. A wrong column, a missed
padding zero or a tap read one element off shows up as a different bit, not only as an error
above the tolerance. Stride 1 with "same" width (Q == W) takes the kernel's other planner
(tap_linear: one load per vector of columns, whatever output rows it spans).

Each case's output width P*Q leaves 0 or 4-7 columns past a multiple of 8, where the public
GEMM and the convolution's k-ordered GEMM compute the same sums (GK(row_tail) takes at most
3 columns).
"""
import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import _ext
from helpers import randn

ISA_NAMES = ("scalar", "avx2", "avx512")
ISAS = [name for name in ISA_NAMES if ISA_NAMES.index(name) <= ISA_NAMES.index(fastconv.cpu_isa())]

# C, H, W, K, (R, S), (stride_h, stride_w), (pad_h, pad_w)
CASES = [
    pytest.param(8, 11, 13, 24, (3, 3), (1, 1), (1, 1), id="3x3-same-8ch"),
    pytest.param(8, 32, 32, 16, (7, 7), (2, 2), (3, 3), id="7x7s2-8ch"),
    # rows of 18 end 1-2 columns before a sliver's end (slivers of 8, 16, 32): a vector
    # stored whole there would spill into the next row, written earlier for the last tap
    pytest.param(8, 18, 18, 8, (3, 3), (1, 1), (1, 1), id="rows-end-near-sliver-ends"),
    pytest.param(256, 20, 20, 8, (3, 3), (1, 1), (1, 1), id="tiles-start-mid-row"),
    pytest.param(256, 39, 39, 8, (3, 3), (2, 2), (1, 1), id="tiles-stride2"),
    pytest.param(3, 32, 32, 16, (7, 7), (2, 2), (3, 3), id="stem-3ch-row-major"),
    pytest.param(8, 26, 26, 8, (3, 3), (3, 3), (0, 0), id="stride3-row-major"),
    pytest.param(8, 9, 14, 8, (3, 3), (2, 2), (2, 2), id="pad-wider-than-half-kernel"),
    pytest.param(16, 12, 1, 8, (3, 1), (1, 1), (1, 0), id="one-column-image"),
    # stride 1 with Q == W: one load per vector of columns across output rows, wrapped
    # columns masked (5x5 reaching 2 columns past each edge; a 1x3 kernel)
    pytest.param(8, 10, 10, 8, (5, 5), (1, 1), (2, 2), id="same-5x5-pad2"),
    pytest.param(12, 6, 20, 8, (1, 3), (1, 1), (0, 1), id="same-1x3"),
    pytest.param(9, 6, 40, 12, (1, 5), (1, 2), (0, 2), id="1x5-stride-1x2"),
]


def _unfold(x_n, R, S, stride, pad):
    """(C*R*S, P*Q): row (c, r, s), column (p, q) = x[c, p*sh + r - ph, q*sw + s - pw], zero
    outside the image."""
    (sh, sw), (ph, pw) = stride, pad
    C, H, W = x_n.shape
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    xp = np.pad(x_n, ((0, 0), (ph, ph), (pw, pw)))
    taps = [xp[:, r:r + sh * (P - 1) + 1:sh, s:s + sw * (Q - 1) + 1:sw] for r in range(R) for s in range(S)]
    return np.stack(taps, axis=1).reshape(C * R * S, P * Q), P, Q


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C, H, W, K, kernel, stride, pad", CASES)
def test_im2col_forward_gives_the_gemm_bits(config, isa, dtype, C, H, W, K, kernel, stride, pad):
    R, S = kernel
    x = randn((2, C, H, W), dtype, seed=C + H)
    w = randn((K, C, R, S), dtype, seed=K + W)
    w2d = np.ascontiguousarray(w.reshape(K, -1))
    expected = []
    for n in range(2):
        col, P, Q = _unfold(x[n], R, S, stride, pad)
        assert (P * Q) % 8 in (0, 4, 5, 6, 7), "case would let the GEMM sum a tail along k"
        out = np.zeros((K, P * Q), dtype)
        _ext.gemm(ISA_NAMES.index(isa), 1, False, False, w2d, np.ascontiguousarray(col), out, 1.0, 0.0)
        expected.append(out.reshape(K, P, Q))
    expected = np.stack(expected)
    for threads in (1, 2, 3):
        config(isa, threads)
        for batch in (x[:1], x):   # batch 1: tiles split for the threads; batch 2: tiles per thread
            got = F.conv2d(np.ascontiguousarray(batch), w, None, stride, pad, algo="im2col")
            np.testing.assert_array_equal(got, expected[:len(batch)],
                                          err_msg=f"{isa} {threads} threads, batch {len(batch)}")
