#!/usr/bin/env bash
# valgrind memcheck over every kernel (forward and backward, f32 and f64, every conv algorithm,
# 1 and 2 threads, every SIMD path valgrind can emulate), plus the C error paths.
# Fails on any memcheck error (invalid read/write, use of uninitialised values, bad free) and on
# any "definitely lost" block allocated from fastconv's code.
#
#   tools/valgrind_check.sh            # 10-60 s: valgrind runs the code ~50x slower
#   VALGRIND_LOG=/tmp/vg.log tools/valgrind_check.sh
#   FASTCONV_VALGRIND_SELFTEST=1 tools/valgrind_check.sh   # adds a deliberate out-of-bounds read
#                                      # and a deliberate leak from fc_aligned_alloc: must FAIL
#
# Exit status: 0 clean, 1 memcheck found a problem in fastconv code (or the script failed),
# 2 valgrind is not installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
log=${VALGRIND_LOG:-$(mktemp /tmp/fastconv_valgrind.XXXXXX.log)}
script=$(mktemp /tmp/fastconv_valgrind.XXXXXX.py)
trap 'rm -f "$script"' EXIT
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 2; }

cat >"$script" <<'PY'
import os
import numpy as np
import fastconv, fastconv.functional as F
from fastconv import _ext
from fastconv._config import state

rng = np.random.default_rng(0)
calls = 0
isas = [i for i in ("scalar", "avx2", "avx512") if ("scalar", "avx2", "avx512").index(i) <= ("scalar", "avx2", "avx512").index(fastconv.cpu_isa())]
for isa in isas:
    fastconv.set_isa(isa)
    for threads in (1, 2):
        fastconv.set_num_threads(threads)
        for dt in (np.float32, np.float64):
            # odd sizes: vector tails, masked borders and partial register blocks all run
            x = rng.standard_normal((2, 5, 13, 11)).astype(dt)
            w = rng.standard_normal((7, 5, 3, 3)).astype(dt)
            b = rng.standard_normal(7).astype(dt)
            for algo in ("direct", "im2col"):
                for stride, pad in ((1, 1), (2, 0), ((2, 1), (0, 2))):
                    y = F.conv2d(x, w, b, stride, pad, algo=algo, relu=True)
                    F.conv2d_backward(y, x, w, stride, pad, algo=algo)
                    calls += 2
            # 8+ channels: the forward im2col writes the GEMM's packed layout (SIMD kernel,
            # masked loads whose masked-off lanes lie outside x), stride 1 and 2
            x8 = rng.standard_normal((1, 8, 9, 18)).astype(dt)
            for stride, pad in ((1, 1), (2, 3)):
                F.conv2d(x8, rng.standard_normal((5, 8, 3, 3)).astype(dt), None, stride, pad, algo="im2col")
                calls += 1
            for pad in (1, 0):   # Winograd F(4x4, 3x3): 3x3, stride 1, partial edge tiles
                F.conv2d(x, w, b, 1, pad, algo="winograd", relu=pad == 1)
                calls += 1
            w1 = w[:, :, :1, :1].copy()
            y = F.conv2d(x, w1, algo="1x1")
            F.conv2d_backward(y, x, w1, algo="1x1")
            m, idx = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
            F.max_pool2d_backward(m, idx, x.shape)
            a = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
            F.avg_pool2d_backward(a, x.shape, 3, 2, 1, ceil_mode=True, count_include_pad=False)
            ad = F.adaptive_avg_pool2d(x, (4, 3))
            F.adaptive_avg_pool2d_backward(ad, x.shape)
            F.matmul(rng.standard_normal((37, 29)).astype(dt), rng.standard_normal((29, 41)).astype(dt))
            # rows 4 KiB apart: A packed, the last column through the column-tail kernel
            F.matmul(rng.standard_normal((13, 1024)).astype(dt), rng.standard_normal((1024, 49)).astype(dt))
            # one-pass eval BatchNorm, ReLU and its gradient (channel_affine.c): >= 4096 elements
            big = rng.standard_normal((2, 9, 17, 15)).astype(dt)
            ones = np.ones(9, dt)
            F.batch_norm(big, ones * 0.5, ones * 2, ones, ones, training=False)
            F.relu_backward(big, F.relu(big))
            calls += 14
# C-side error paths: refused descriptors must not touch memory
t = np.zeros(16, np.float32)
for d in ((2**40, 2**40, 4, 4, 1, 1, 1, 1, 1, 0, 0, 4, 4), (1, 1, 4, 4, 1, 1, 1, 1, 1, 0, 0, 5, 4)):
    for algo in ("direct", "im2col"):
        try:
            _ext.conv2d_forward(algo, state.isa, 2, d, t, t, t, True, False, t)
        except (ValueError, OverflowError):
            calls += 1
try:
    _ext.max_pool2d_backward(state.isa, 1, (1, 1, 2, 2, 1, 1, 1, 1, 0, 0, 2, 2), t[:4], np.full(4, 99, np.int64), t[:4])
except ValueError:
    calls += 1
if os.environ.get("FASTCONV_VALGRIND_SELFTEST"):
    # proves the filter below: an invalid read inside a kernel (the private binding trusts its
    # buffers: x is 4 elements for a 16-element descriptor) and a block lost from fastconv code
    import ctypes
    d = (1, 1, 4, 4, 1, 1, 1, 1, 1, 0, 0, 4, 4)
    _ext.conv2d_forward("direct", state.isa, 1, d, np.zeros(4, np.float32), t[:1], t[:1], False, False, t)
    lib = ctypes.CDLL(_ext.__file__)
    lib.fc_aligned_alloc.restype = ctypes.c_void_p
    lib.fc_aligned_alloc(ctypes.c_int64(1000))   # pointer dropped: definitely lost
    print("valgrind self-test: deliberate invalid read and leak done")
print(f"valgrind kernel script: {calls} calls on ISA paths {isas}")
PY

# the interpreter itself, not a wrapper script (pyenv shims): valgrind must see the real binary
py=$(python -c 'import sys; print(sys.executable)')
echo "== valgrind memcheck (log: $log)"
t0=$(date +%s)
cd "$repo"
set +e
PYTHONMALLOC=malloc PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=2 \
  valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
           --errors-for-leak-kinds=none --num-callers=30 --log-file="$log" \
           "$py" "$script"
rc=$?
set -e
# The interpreter and the dynamic loader produce their own memcheck noise (uninitialised reads in
# CPython's eval loop and in ld.so's strncmp): count only the error and leak records whose stack
# passes through fastconv's code (the extension: fc_* kernels, src_c/, the Cython binding).
# A record starts with an error ("Invalid read ...", "Conditional jump ...", "Thread 2:") or a
# leak ("1,000 bytes in 1 blocks are definitely lost ..."; only definite leaks are printed).
count=$(awk -v out="$log.fastconv" '
  function flush() { if (rec != "" && rec ~ /(fc_[a-z0-9_]+|src_c\/|_ext\.c|_ext\.cpython)/) { n++; print rec > out }
                     rec = "" }
  /^==[0-9]+== $/ { flush(); next }
  /^==[0-9]+== ([A-Z]|[0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are definitely lost)/ && rec == "" {
    rec = $0; next }
  rec != "" { rec = rec "\n" $0 }
  END { flush(); print n + 0 }' "$log")
total=$(grep -E "ERROR SUMMARY: [0-9]+" "$log" | tail -1 | sed -E 's/.*ERROR SUMMARY: ([0-9]+).*/\1/' || true)
echo "   records through fastconv code: $count (all memcheck errors incl. interpreter noise: ${total:-?}), $(( $(date +%s) - t0 )) s"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
  echo "the kernel script failed (rc=$rc); full log: $log"
  exit 1
fi
if [ "$count" -ne 0 ]; then
  head -120 "$log.fastconv"
  echo "valgrind found problems in fastconv code; full log: $log, fastconv records: $log.fastconv"
  exit 1
fi
echo "== valgrind clean"
