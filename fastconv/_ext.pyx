# cython: language_level=3
"""Thin bindings over the C kernels in src_c/.

Everything here assumes fastconv.functional already validated the arguments (shapes, dtypes,
C-contiguity, sizes); the C code checks its descriptors again and reports a status, which
becomes an exception here. The GIL is released around every kernel.
"""
from libc.stdint cimport int64_t

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


# ---- convolution ---------------------------------------------------------------------------
# Arrays arrive as flat 1-D C-contiguous views (functional reshapes them) so that empty
# arrays and any rank cost nothing here; desc is the 13-tuple of fc_conv_desc.

cdef inline const real *cptr(const real[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL

cdef inline real *mptr(real[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


_FORWARD_ALGOS = {"direct": 0, "im2col": 1, "1x1": 2, "winograd": 3}


def conv2d_forward(str algo, int isa, int nthreads, tuple desc, const real[::1] x,
                   const real[::1] w, const real[::1] bias, bint has_bias, bint relu, real[::1] y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int flags = 1 if relu else 0
    cdef int status = FC_EINVAL
    cdef int which = _FORWARD_ALGOS.get(algo, -1)
    cdef const real *pb = cptr(bias) if has_bias else NULL
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    with nogil:
        if real is float:
            if which == 0:
                status = fc_conv2d_forward_direct_f32(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            elif which == 1:
                status = fc_conv2d_forward_im2col_f32(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            elif which == 2:
                status = fc_conv2d_forward_1x1_f32(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            else:
                status = fc_conv2d_forward_winograd_f32(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
        else:
            if which == 0:
                status = fc_conv2d_forward_direct_f64(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            elif which == 1:
                status = fc_conv2d_forward_im2col_f64(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            elif which == 2:
                status = fc_conv2d_forward_1x1_f64(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
            else:
                status = fc_conv2d_forward_winograd_f64(&ctx, &d, cptr(x), cptr(w), pb, flags, mptr(y))
    check(status)


def conv2d_grad_input(str algo, int isa, int nthreads, tuple desc, const real[::1] grad_y,
                      const real[::1] w, real[::1] grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status = FC_EINVAL
    cdef int which = 0 if algo == "direct" else (1 if algo == "im2col" else (2 if algo == "1x1" else -1))
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    with nogil:
        if real is float:
            if which == 0:
                status = fc_conv2d_grad_input_direct_f32(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
            elif which == 1:
                status = fc_conv2d_grad_input_im2col_f32(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
            else:
                status = fc_conv2d_grad_input_1x1_f32(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
        else:
            if which == 0:
                status = fc_conv2d_grad_input_direct_f64(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
            elif which == 1:
                status = fc_conv2d_grad_input_im2col_f64(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
            else:
                status = fc_conv2d_grad_input_1x1_f64(&ctx, &d, cptr(grad_y), cptr(w), mptr(grad_x))
    check(status)


def conv2d_grad_weight(str algo, int isa, int nthreads, tuple desc, const real[::1] grad_y,
                       const real[::1] x, real[::1] grad_w):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status = FC_EINVAL
    cdef int which = 0 if algo == "direct" else (1 if algo == "im2col" else (2 if algo == "1x1" else -1))
    if which < 0:
        raise ValueError(f"unknown algo {algo!r}")
    with nogil:
        if real is float:
            if which == 0:
                status = fc_conv2d_grad_weight_direct_f32(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
            elif which == 1:
                status = fc_conv2d_grad_weight_im2col_f32(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
            else:
                status = fc_conv2d_grad_weight_1x1_f32(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
        else:
            if which == 0:
                status = fc_conv2d_grad_weight_direct_f64(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
            elif which == 1:
                status = fc_conv2d_grad_weight_im2col_f64(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
            else:
                status = fc_conv2d_grad_weight_1x1_f64(&ctx, &d, cptr(grad_y), cptr(x), mptr(grad_w))
    check(status)


def conv2d_grad_bias(int isa, int nthreads, tuple desc, const real[::1] grad_y, real[::1] grad_b):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_conv_desc d = conv_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_conv2d_grad_bias_f32(&ctx, &d, cptr(grad_y), mptr(grad_b))
        else:
            status = fc_conv2d_grad_bias_f64(&ctx, &d, cptr(grad_y), mptr(grad_b))
    check(status)


def channel_affine(int isa, int nthreads, int64_t N, int64_t C, int64_t HW, const real[::1] x,
                   const real[::1] scale, const real[::1] shift, bint relu, real[::1] y):
    """y = x * scale[c] + shift[c] (+ ReLU) over N x C planes of HW; empty scale/shift: skipped."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int status
    if x.shape[0] != N * C * HW or y.shape[0] != x.shape[0]:
        raise ValueError("fastconv: channel_affine: x and y must hold N*C*HW elements")
    if (scale.shape[0] not in (0, C)) or (shift.shape[0] not in (0, C)):
        raise ValueError("fastconv: channel_affine: scale and shift must hold C elements (or none)")
    with nogil:
        if real is float:
            status = fc_channel_affine_f32(&ctx, N, C, HW, cptr(x), cptr(scale), cptr(shift), relu, mptr(y))
        else:
            status = fc_channel_affine_f64(&ctx, N, C, HW, cptr(x), cptr(scale), cptr(shift), relu, mptr(y))
    check(status)


def relu_backward(int isa, int nthreads, const real[::1] grad, const real[::1] y, real[::1] out):
    """out = 0 where y <= 0, else grad (out may be grad)."""
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef int status
    if y.shape[0] != grad.shape[0] or out.shape[0] != grad.shape[0]:
        raise ValueError("fastconv: relu_backward: grad, y and out must have the same length")
    with nogil:
        if real is float:
            status = fc_relu_backward_f32(&ctx, grad.shape[0], cptr(grad), cptr(y), mptr(out))
        else:
            status = fc_relu_backward_f64(&ctx, grad.shape[0], cptr(grad), cptr(y), mptr(out))
    check(status)


# ---- pooling -------------------------------------------------------------------------------

cdef inline int64_t *iptr(int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL

cdef inline const int64_t *ciptr(const int64_t[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


def max_pool2d_forward(int isa, int nthreads, tuple desc, const real[::1] x, real[::1] y,
                       int64_t[::1] indices, bint with_indices):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    cdef int64_t *pi = iptr(indices) if with_indices else NULL
    with nogil:
        if real is float:
            status = fc_maxpool2d_forward_f32(&ctx, &d, cptr(x), mptr(y), pi)
        else:
            status = fc_maxpool2d_forward_f64(&ctx, &d, cptr(x), mptr(y), pi)
    check(status)


def max_pool2d_backward(int isa, int nthreads, tuple desc, const real[::1] grad_y,
                        const int64_t[::1] indices, real[::1] grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_maxpool2d_backward_f32(&ctx, &d, cptr(grad_y), ciptr(indices), mptr(grad_x))
        else:
            status = fc_maxpool2d_backward_f64(&ctx, &d, cptr(grad_y), ciptr(indices), mptr(grad_x))
    check(status)


def avg_pool2d_forward(int isa, int nthreads, tuple desc, bint count_include_pad,
                       const real[::1] x, real[::1] y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_avgpool2d_forward_f32(&ctx, &d, count_include_pad, cptr(x), mptr(y))
        else:
            status = fc_avgpool2d_forward_f64(&ctx, &d, count_include_pad, cptr(x), mptr(y))
    check(status)


def avg_pool2d_backward(int isa, int nthreads, tuple desc, bint count_include_pad,
                        const real[::1] grad_y, real[::1] grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_avgpool2d_backward_f32(&ctx, &d, count_include_pad, cptr(grad_y), mptr(grad_x))
        else:
            status = fc_avgpool2d_backward_f64(&ctx, &d, count_include_pad, cptr(grad_y), mptr(grad_x))
    check(status)


def adaptive_avg_pool2d_forward(int isa, int nthreads, tuple desc, const real[::1] x, real[::1] y):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_adaptive_avgpool2d_forward_f32(&ctx, &d, cptr(x), mptr(y))
        else:
            status = fc_adaptive_avgpool2d_forward_f64(&ctx, &d, cptr(x), mptr(y))
    check(status)


def adaptive_avg_pool2d_backward(int isa, int nthreads, tuple desc, const real[::1] grad_y,
                                 real[::1] grad_x):
    cdef fc_ctx ctx = make_ctx(isa, nthreads)
    cdef fc_pool_desc d = pool_desc(desc)
    cdef int status
    with nogil:
        if real is float:
            status = fc_adaptive_avgpool2d_backward_f32(&ctx, &d, cptr(grad_y), mptr(grad_x))
        else:
            status = fc_adaptive_avgpool2d_backward_f64(&ctx, &d, cptr(grad_y), mptr(grad_x))
    check(status)
