# cython: language_level=3
"""Thin bindings over the C kernels in src_c/.

Everything here assumes fastconv.functional already validated the arguments (shapes, dtypes,
C-contiguity, sizes); the C code checks its descriptors again and reports a status, which
becomes an exception here. The GIL is released around every kernel.
"""
from libc.stdint cimport int64_t
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "fastconv.h" nogil:
    enum:
        FC_OK
        FC_EINVAL
        FC_ENOMEM
        FC_EOVERFLOW
    ctypedef struct fc_ctx:
        int isa
        int nthreads
    ctypedef struct fc_conv_desc:
        int64_t N, C, H, W, K, R, S, stride_h, stride_w, pad_h, pad_w, P, Q
    ctypedef struct fc_pool_desc:
        int64_t N, C, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w, P, Q

    int fc_cpu_isa()
    const char *fc_isa_name(int isa)
    int fc_openmp_enabled()
    int fc_openmp_max_threads()

    int fc_sgemm(const fc_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
    int fc_dgemm(const fc_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha,
                 const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc)

    int fc_conv2d_forward_direct_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, const float*, int, float*)
    int fc_conv2d_forward_direct_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, const double*, int, double*)
    int fc_conv2d_forward_im2col_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, const float*, int, float*)
    int fc_conv2d_forward_im2col_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, const double*, int, double*)
    int fc_conv2d_forward_1x1_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, const float*, int, float*)
    int fc_conv2d_forward_1x1_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, const double*, int, double*)
    int fc_conv2d_forward_winograd_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, const float*, int, float*)
    int fc_conv2d_forward_winograd_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, const double*, int, double*)

    int fc_conv2d_grad_input_direct_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_input_direct_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)
    int fc_conv2d_grad_input_im2col_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_input_im2col_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)
    int fc_conv2d_grad_input_1x1_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_input_1x1_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)

    int fc_conv2d_grad_weight_direct_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_weight_direct_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)
    int fc_conv2d_grad_weight_im2col_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_weight_im2col_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)
    int fc_conv2d_grad_weight_1x1_f32(const fc_ctx*, const fc_conv_desc*, const float*, const float*, float*)
    int fc_conv2d_grad_weight_1x1_f64(const fc_ctx*, const fc_conv_desc*, const double*, const double*, double*)

    int fc_conv2d_grad_bias_f32(const fc_ctx*, const fc_conv_desc*, const float*, float*)
    int fc_conv2d_grad_bias_f64(const fc_ctx*, const fc_conv_desc*, const double*, double*)
    int fc_channel_affine_f32(const fc_ctx*, int64_t, int64_t, int64_t, const float*, const float*,
                              const float*, int, float*)
    int fc_channel_affine_f64(const fc_ctx*, int64_t, int64_t, int64_t, const double*, const double*,
                              const double*, int, double*)
    int fc_relu_backward_f32(const fc_ctx*, int64_t, const float*, const float*, float*)
    int fc_relu_backward_f64(const fc_ctx*, int64_t, const double*, const double*, double*)

    int fc_maxpool2d_forward_f32(const fc_ctx*, const fc_pool_desc*, const float*, float*, int64_t*)
    int fc_maxpool2d_forward_f64(const fc_ctx*, const fc_pool_desc*, const double*, double*, int64_t*)
    int fc_maxpool2d_backward_f32(const fc_ctx*, const fc_pool_desc*, const float*, const int64_t*, float*)
    int fc_maxpool2d_backward_f64(const fc_ctx*, const fc_pool_desc*, const double*, const int64_t*, double*)
    int fc_avgpool2d_forward_f32(const fc_ctx*, const fc_pool_desc*, int, const float*, float*)
    int fc_avgpool2d_forward_f64(const fc_ctx*, const fc_pool_desc*, int, const double*, double*)
    int fc_avgpool2d_backward_f32(const fc_ctx*, const fc_pool_desc*, int, const float*, float*)
    int fc_avgpool2d_backward_f64(const fc_ctx*, const fc_pool_desc*, int, const double*, double*)
    int fc_adaptive_avgpool2d_forward_f32(const fc_ctx*, const fc_pool_desc*, const float*, float*)
    int fc_adaptive_avgpool2d_forward_f64(const fc_ctx*, const fc_pool_desc*, const double*, double*)
    int fc_adaptive_avgpool2d_backward_f32(const fc_ctx*, const fc_pool_desc*, const float*, float*)
    int fc_adaptive_avgpool2d_backward_f64(const fc_ctx*, const fc_pool_desc*, const double*, double*)

ctypedef fused real:
    float
    double

# detected once at import: cpuid traps to the hypervisor on VMs, too slow to repeat per call
CPU_ISA = fc_cpu_isa()
OPENMP = bool(fc_openmp_enabled())
OPENMP_MAX_THREADS = fc_openmp_max_threads()


def isa_name(int isa):
    return fc_isa_name(isa).decode()


cdef inline fc_ctx make_ctx(int isa, int nthreads):
    cdef fc_ctx ctx
    ctx.isa = isa if isa <= CPU_ISA else CPU_ISA   # never run an ISA the CPU lacks
    ctx.nthreads = nthreads if nthreads >= 1 else 1
    return ctx


cdef inline int check(int status) except -1:
    if status == FC_OK:
        return 0
    if status == FC_ENOMEM:
        raise MemoryError("fastconv: a kernel could not allocate its workspace")
    if status == FC_EOVERFLOW:
        raise OverflowError("fastconv: sizes whose product overflows int64")
    raise ValueError(f"fastconv: the kernel refused its arguments (status {status})")


cdef inline fc_conv_desc conv_desc(tuple d):
    cdef fc_conv_desc c
    c.N, c.C, c.H, c.W, c.K, c.R, c.S, c.stride_h, c.stride_w, c.pad_h, c.pad_w, c.P, c.Q = d
    return c


cdef inline fc_pool_desc pool_desc(tuple d):
    cdef fc_pool_desc c
    c.N, c.C, c.H, c.W, c.kh, c.kw, c.stride_h, c.stride_w, c.pad_h, c.pad_w, c.P, c.Q = d
    return c


# ---- GEMM ---------------------------------------------------------------------------------

def gemm(int isa, int nthreads, bint trans_a, bint trans_b, real[:, ::1] A, real[:, ::1] B,
         real[:, ::1] C, double alpha, double beta):
    """C = alpha * op(A) @ op(B) + beta * C on 2-D C-contiguous arrays (shapes checked by caller)."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int64_t M = C.shape[0], N = C.shape[1]
    cdef int64_t K = A.shape[0] if trans_a else A.shape[1]
    cdef int status
    cdef const real *pa = &A[0, 0] if A.shape[0] > 0 and A.shape[1] > 0 else NULL
    cdef const real *pb = &B[0, 0] if B.shape[0] > 0 and B.shape[1] > 0 else NULL
    cdef real *pc = &C[0, 0] if M > 0 and N > 0 else NULL
    if (A.shape[1] if trans_a else A.shape[0]) != M or (B.shape[1] if trans_b else B.shape[0]) != K \
            or (B.shape[0] if trans_b else B.shape[1]) != N:
        raise ValueError(f"gemm: op(A) {A.shape[0], A.shape[1]} (trans {trans_a}), op(B) {B.shape[0], B.shape[1]} "
                         f"(trans {trans_b}) and C {M, N} do not fit together")
    if M == 0 or N == 0:
        return
    with nogil:
        if real is float:
            status = fc_sgemm(&ctx, trans_a, trans_b, M, N, K, <float>alpha, pa, A.shape[1],
                              pb, B.shape[1], <float>beta, pc, C.shape[1])
        else:
            status = fc_dgemm(&ctx, trans_a, trans_b, M, N, K, alpha, pa, A.shape[1],
                              pb, B.shape[1], beta, pc, C.shape[1])
    check(status)


cdef extern from "internal.h" nogil:
    # B packed once by the caller (Winograd's V); internal, bound here for the tests only
    int64_t fc_gemm_packed_b_elems(int isa, int is_double, int64_t K, int64_t N)
    void fc_gemm_pack_b(int isa, int is_double, int64_t K, int64_t N, const void *B, int64_t ldb, void *dst)
    int fc_sgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *Bp, float beta, float *C, int64_t ldc)
    int fc_dgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, double alpha,
                    const double *A, int64_t lda, const double *Bp, double beta, double *C, int64_t ldc)


def gemm_packed_b(int isa, int nthreads, bint k_order, real[:, ::1] A, real[:, ::1] B, real[:, ::1] C,
                  double alpha, double beta):
    """C = alpha * A @ B + beta * C through the internal entry that takes B packed by the caller
    (fc_gemm_pack_b, then fc_sgemm_bp / fc_dgemm_bp): for the tests, which compare it with gemm."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int64_t M = C.shape[0], N = C.shape[1], K = A.shape[1]
    cdef int is_double = real is double
    cdef int status
    if A.shape[0] != M or B.shape[0] != K or B.shape[1] != N or M == 0 or N == 0 or K == 0:
        raise ValueError(f"gemm_packed_b: A {A.shape[0], A.shape[1]}, B {B.shape[0], B.shape[1]} and C {M, N} "
                         "must fit together and be non-empty")
    cdef int64_t elems = fc_gemm_packed_b_elems(ctx.isa, is_double, K, N)
    if elems < 0:
        raise OverflowError("gemm_packed_b: the packed B does not fit in memory")
    packed = np.empty(elems, dtype=np.float64 if is_double else np.float32)
    cdef real[::1] bp = packed
    with nogil:
        fc_gemm_pack_b(ctx.isa, is_double, K, N, &B[0, 0], B.shape[1], &bp[0])
        if real is float:
            status = fc_sgemm_bp(&ctx, k_order, M, N, K, <float>alpha, &A[0, 0], A.shape[1], &bp[0],
                                 <float>beta, &C[0, 0], C.shape[1])
        else:
            status = fc_dgemm_bp(&ctx, k_order, M, N, K, alpha, &A[0, 0], A.shape[1], &bp[0], beta,
                                 &C[0, 0], C.shape[1])
    check(status)


# ---- convolution ---------------------------------------------------------------------------
# Arrays arrive as C-contiguous ndarrays of any shape (sizes: see functional). Their data pointers
# come straight from the array object: typed memoryviews of a fused type cost ~1.3 us a call
# in buffer acquisition and signature dispatch, as much as a whole small pooling layer's work.
# The checks below keep the guarantees those gave (dtype, contiguity, alignment, writability);
# desc is the 13-tuple of fc_conv_desc.

cdef int real_kind(object a, str name) except -1:
    """0 for a float32 ndarray, 1 for float64; anything else is a TypeError."""
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"fastconv: {name} must be a numpy array, got {type(a).__name__}")
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if t == cnp.NPY_FLOAT32:
        return 0
    if t == cnp.NPY_FLOAT64:
        return 1
    raise TypeError(f"fastconv: {name} must be float32 or float64, got {a.dtype}")


cdef void *data(object a, int typenum, bint writable, str name) except? NULL:
    """The data of a C-contiguous, aligned ndarray of type typenum (NULL when it is empty)."""
    if not isinstance(a, cnp.ndarray):
        raise TypeError(f"fastconv: {name} must be a numpy array, got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"fastconv: {name} has dtype {arr.dtype}, expected {cnp.PyArray_DescrFromType(typenum)}")
    cdef int flags = cnp.PyArray_FLAGS(arr)
    if not (flags & cnp.NPY_ARRAY_C_CONTIGUOUS) or not (flags & cnp.NPY_ARRAY_ALIGNED):
        raise ValueError(f"fastconv: {name} must be C-contiguous and aligned")
    if writable and not (flags & cnp.NPY_ARRAY_WRITEABLE):
        raise ValueError(f"fastconv: {name} must be writable")
    if cnp.PyArray_SIZE(arr) == 0:
        return NULL
    return cnp.PyArray_DATA(arr)


cdef inline int real_type(int kind) noexcept:
    return cnp.NPY_FLOAT64 if kind else cnp.NPY_FLOAT32


cdef inline int64_t length(object a) noexcept:
    return cnp.PyArray_SIZE(<cnp.ndarray>a)


_FORWARD_ALGOS = {"direct": 0, "im2col": 1, "1x1": 2, "winograd": 3}
_BACKWARD_ALGOS = {"direct": 0, "im2col": 1, "1x1": 2}


def conv2d_forward(str algo, int isa, int nthreads, tuple desc, x, w, bias, bint has_bias, bint relu, y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int flags = 1 if relu else 0
    cdef int status = FC_EINVAL
    cdef int which = _FORWARD_ALGOS.get(algo, -1)
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    cdef int f64 = real_kind(x, "x"), t = real_type(f64)
    cdef const void *px = data(x, t, False, "x")
    cdef const void *pw = data(w, t, False, "w")
    cdef const void *pb = data(bias, t, False, "bias") if has_bias else NULL
    cdef void *py = data(y, t, True, "y")
    with nogil:
        if not f64:
            if which == 0:
                status = fc_conv2d_forward_direct_f32(&ctx, &d, <const float *>px, <const float *>pw, <const float *>pb, flags, <float *>py)
            elif which == 1:
                status = fc_conv2d_forward_im2col_f32(&ctx, &d, <const float *>px, <const float *>pw, <const float *>pb, flags, <float *>py)
            elif which == 2:
                status = fc_conv2d_forward_1x1_f32(&ctx, &d, <const float *>px, <const float *>pw, <const float *>pb, flags, <float *>py)
            else:
                status = fc_conv2d_forward_winograd_f32(&ctx, &d, <const float *>px, <const float *>pw, <const float *>pb, flags, <float *>py)
        else:
            if which == 0:
                status = fc_conv2d_forward_direct_f64(&ctx, &d, <const double *>px, <const double *>pw, <const double *>pb, flags, <double *>py)
            elif which == 1:
                status = fc_conv2d_forward_im2col_f64(&ctx, &d, <const double *>px, <const double *>pw, <const double *>pb, flags, <double *>py)
            elif which == 2:
                status = fc_conv2d_forward_1x1_f64(&ctx, &d, <const double *>px, <const double *>pw, <const double *>pb, flags, <double *>py)
            else:
                status = fc_conv2d_forward_winograd_f64(&ctx, &d, <const double *>px, <const double *>pw, <const double *>pb, flags, <double *>py)
    check(status)


def conv2d_grad_input(str algo, int isa, int nthreads, tuple desc, grad_y, w, grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status = FC_EINVAL
    cdef int which = _BACKWARD_ALGOS.get(algo, -1)
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef const void *pw = data(w, t, False, "w")
    cdef void *px = data(grad_x, t, True, "grad_x")
    with nogil:
        if not f64:
            if which == 0:
                status = fc_conv2d_grad_input_direct_f32(&ctx, &d, <const float *>pg, <const float *>pw, <float *>px)
            elif which == 1:
                status = fc_conv2d_grad_input_im2col_f32(&ctx, &d, <const float *>pg, <const float *>pw, <float *>px)
            else:
                status = fc_conv2d_grad_input_1x1_f32(&ctx, &d, <const float *>pg, <const float *>pw, <float *>px)
        else:
            if which == 0:
                status = fc_conv2d_grad_input_direct_f64(&ctx, &d, <const double *>pg, <const double *>pw, <double *>px)
            elif which == 1:
                status = fc_conv2d_grad_input_im2col_f64(&ctx, &d, <const double *>pg, <const double *>pw, <double *>px)
            else:
                status = fc_conv2d_grad_input_1x1_f64(&ctx, &d, <const double *>pg, <const double *>pw, <double *>px)
    check(status)


def conv2d_grad_weight(str algo, int isa, int nthreads, tuple desc, grad_y, x, grad_w):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status = FC_EINVAL
    cdef int which = _BACKWARD_ALGOS.get(algo, -1)
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef const void *px = data(x, t, False, "x")
    cdef void *pw = data(grad_w, t, True, "grad_w")
    with nogil:
        if not f64:
            if which == 0:
                status = fc_conv2d_grad_weight_direct_f32(&ctx, &d, <const float *>pg, <const float *>px, <float *>pw)
            elif which == 1:
                status = fc_conv2d_grad_weight_im2col_f32(&ctx, &d, <const float *>pg, <const float *>px, <float *>pw)
            else:
                status = fc_conv2d_grad_weight_1x1_f32(&ctx, &d, <const float *>pg, <const float *>px, <float *>pw)
        else:
            if which == 0:
                status = fc_conv2d_grad_weight_direct_f64(&ctx, &d, <const double *>pg, <const double *>px, <double *>pw)
            elif which == 1:
                status = fc_conv2d_grad_weight_im2col_f64(&ctx, &d, <const double *>pg, <const double *>px, <double *>pw)
            else:
                status = fc_conv2d_grad_weight_1x1_f64(&ctx, &d, <const double *>pg, <const double *>px, <double *>pw)
    check(status)


def conv2d_grad_bias(int isa, int nthreads, tuple desc, grad_y, grad_b):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef void *pb = data(grad_b, t, True, "grad_b")
    with nogil:
        if not f64:
            status = fc_conv2d_grad_bias_f32(&ctx, &d, <const float *>pg, <float *>pb)
        else:
            status = fc_conv2d_grad_bias_f64(&ctx, &d, <const double *>pg, <double *>pb)
    check(status)


def channel_affine(int isa, int nthreads, int64_t N, int64_t C, int64_t HW, x, scale, shift, bint relu, y):
    """y = x * scale[c] + shift[c] (+ ReLU) over N x C planes of HW; empty scale/shift: skipped."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int status
    cdef int f64 = real_kind(x, "x"), t = real_type(f64)
    cdef const void *px = data(x, t, False, "x")
    cdef const void *ps = data(scale, t, False, "scale")
    cdef const void *pt = data(shift, t, False, "shift")
    cdef void *py = data(y, t, True, "y")
    if length(x) != N * C * HW or length(y) != length(x):
        raise ValueError("fastconv: channel_affine: x and y must hold N*C*HW elements")
    if (length(scale) not in (0, C)) or (length(shift) not in (0, C)):
        raise ValueError("fastconv: channel_affine: scale and shift must hold C elements (or none)")
    with nogil:
        if not f64:
            status = fc_channel_affine_f32(&ctx, N, C, HW, <const float *>px, <const float *>ps,
                                           <const float *>pt, relu, <float *>py)
        else:
            status = fc_channel_affine_f64(&ctx, N, C, HW, <const double *>px, <const double *>ps,
                                           <const double *>pt, relu, <double *>py)
    check(status)


def relu_backward(int isa, int nthreads, grad, y, out):
    """out = 0 where y <= 0, else grad (out may be grad)."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int status
    cdef int f64 = real_kind(grad, "grad"), t = real_type(f64)
    cdef const void *pg = data(grad, t, False, "grad")
    cdef const void *py = data(y, t, False, "y")
    cdef void *po = data(out, t, True, "out")
    cdef int64_t n = length(grad)
    if length(y) != n or length(out) != n:
        raise ValueError("fastconv: relu_backward: grad, y and out must have the same length")
    with nogil:
        if not f64:
            status = fc_relu_backward_f32(&ctx, n, <const float *>pg, <const float *>py, <float *>po)
        else:
            status = fc_relu_backward_f64(&ctx, n, <const double *>pg, <const double *>py, <double *>po)
    check(status)


# ---- pooling -------------------------------------------------------------------------------

def max_pool2d_forward(int isa, int nthreads, tuple desc, x, y, indices, bint with_indices):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(x, "x"), t = real_type(f64)
    cdef const void *px = data(x, t, False, "x")
    cdef void *py = data(y, t, True, "y")
    cdef int64_t *pi = <int64_t *>data(indices, cnp.NPY_INT64, True, "indices") if with_indices else NULL
    with nogil:
        if not f64:
            status = fc_maxpool2d_forward_f32(&ctx, &d, <const float *>px, <float *>py, pi)
        else:
            status = fc_maxpool2d_forward_f64(&ctx, &d, <const double *>px, <double *>py, pi)
    check(status)


def max_pool2d_backward(int isa, int nthreads, tuple desc, grad_y, indices, grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef const int64_t *pi = <const int64_t *>data(indices, cnp.NPY_INT64, False, "indices")
    cdef void *px = data(grad_x, t, True, "grad_x")
    with nogil:
        if not f64:
            status = fc_maxpool2d_backward_f32(&ctx, &d, <const float *>pg, pi, <float *>px)
        else:
            status = fc_maxpool2d_backward_f64(&ctx, &d, <const double *>pg, pi, <double *>px)
    check(status)


def avg_pool2d_forward(int isa, int nthreads, tuple desc, bint count_include_pad, x, y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(x, "x"), t = real_type(f64)
    cdef const void *px = data(x, t, False, "x")
    cdef void *py = data(y, t, True, "y")
    with nogil:
        if not f64:
            status = fc_avgpool2d_forward_f32(&ctx, &d, count_include_pad, <const float *>px, <float *>py)
        else:
            status = fc_avgpool2d_forward_f64(&ctx, &d, count_include_pad, <const double *>px, <double *>py)
    check(status)


def avg_pool2d_backward(int isa, int nthreads, tuple desc, bint count_include_pad, grad_y, grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef void *px = data(grad_x, t, True, "grad_x")
    with nogil:
        if not f64:
            status = fc_avgpool2d_backward_f32(&ctx, &d, count_include_pad, <const float *>pg, <float *>px)
        else:
            status = fc_avgpool2d_backward_f64(&ctx, &d, count_include_pad, <const double *>pg, <double *>px)
    check(status)


def adaptive_avg_pool2d_forward(int isa, int nthreads, tuple desc, x, y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(x, "x"), t = real_type(f64)
    cdef const void *px = data(x, t, False, "x")
    cdef void *py = data(y, t, True, "y")
    with nogil:
        if not f64:
            status = fc_adaptive_avgpool2d_forward_f32(&ctx, &d, <const float *>px, <float *>py)
        else:
            status = fc_adaptive_avgpool2d_forward_f64(&ctx, &d, <const double *>px, <double *>py)
    check(status)


def adaptive_avg_pool2d_backward(int isa, int nthreads, tuple desc, grad_y, grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int f64 = real_kind(grad_y, "grad_y"), t = real_type(f64)
    cdef const void *pg = data(grad_y, t, False, "grad_y")
    cdef void *px = data(grad_x, t, True, "grad_x")
    with nogil:
        if not f64:
            status = fc_adaptive_avgpool2d_backward_f32(&ctx, &d, <const float *>pg, <float *>px)
        else:
            status = fc_adaptive_avgpool2d_backward_f64(&ctx, &d, <const double *>pg, <double *>px)
    check(status)
