"""GEMM speed: fastconv's packed kernels (each ISA path) against numpy.matmul (OpenBLAS),
on a square problem and on the shapes convolution layers produce.

Run: pytest benchmarks/bench_gemm.py --benchmark-enable [--benchmark-json out.json]
Each group is one shape; compare within a group (same run), the machine is shared and noisy.
GFLOP/s (2*M*N*K / best time) goes in extra_info; with --benchmark-disable each case runs once.
"""
import numpy as np
import pytest

import fastconv
from fastconv import _ext

THREADS = fastconv.get_num_threads()
ISA_NAMES = ("scalar", "avx2", "avx512")

# (M, N, K, trans_a, trans_b, dtype): name says what it stands for
SHAPES = {
    "square1024_f32": (1024, 1024, 1024, False, False, np.float32),
    "square1024_f64": (1024, 1024, 1024, False, False, np.float64),
    # forward im2col: W (K_out x C*R*S) . col (C*R*S x P*Q)
    "vgg_conv1_2_fwd": (64, 50176, 576, False, False, np.float32),     # 224x224, 64 -> 64, 3x3
    "resnet_l4_fwd": (512, 196, 4608, False, False, np.float32),       # 14x14 output, 512, 3x3
    "resnet_l4_7x7_fwd": (512, 49, 4608, False, False, np.float32),    # 7x7 output
    "resnet_1x1_fwd": (256, 3136, 64, False, False, np.float32),       # 56x56, 64 -> 256, 1x1
    # backward: grad_col = W^T . grad_y; grad_w = grad_y . col^T
    "resnet_l3_grad_input": (2304, 196, 256, True, False, np.float32),
    "resnet_l3_grad_weight": (256, 2304, 196, False, True, np.float32),
}


def _operands(M, N, K, ta, tb, dtype):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return A, B, np.zeros((M, N), dtype=dtype)


def _record(benchmark, M, N, K):
    flops = 2.0 * M * N * K
    benchmark.extra_info["flops"] = flops
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.min > 0:
        benchmark.extra_info["gflops"] = round(flops / stats.stats.min * 1e-9, 2)


def _rounds(M, N, K, isa):
    # about a second per case at most, the scalar path being ~7x slower
    work = 2.0 * M * N * K * (7 if isa == 0 else 1)
    return max(3, min(20, int(2e10 / max(work, 1.0))))


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("isa", [i for i in (2, 1, 0) if i <= _ext.CPU_ISA], ids=lambda i: ISA_NAMES[i])
def test_fastconv_gemm(benchmark, shape, isa):
    M, N, K, ta, tb, dtype = SHAPES[shape]
    A, B, C = _operands(M, N, K, ta, tb, dtype)
    benchmark.group = f"gemm {shape} {M}x{N}x{K}"
    benchmark.extra_info.update(isa=ISA_NAMES[isa], threads=THREADS)
    benchmark.pedantic(_ext.gemm, args=(isa, THREADS, ta, tb, A, B, C, 1.0, 0.0),
                       rounds=_rounds(M, N, K, isa), iterations=1, warmup_rounds=1)
    _record(benchmark, M, N, K)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_numpy_matmul(benchmark, shape):
    M, N, K, ta, tb, dtype = SHAPES[shape]
    A, B, C = _operands(M, N, K, ta, tb, dtype)
    a, b = (A.T if ta else A), (B.T if tb else B)
    benchmark.group = f"gemm {shape} {M}x{N}x{K}"
    benchmark.extra_info.update(isa="numpy", threads="numpy default")
    benchmark.pedantic(np.matmul, args=(a, b), kwargs={"out": C},
                       rounds=_rounds(M, N, K, 1), iterations=1, warmup_rounds=1)
    _record(benchmark, M, N, K)
