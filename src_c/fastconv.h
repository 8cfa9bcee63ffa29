/*
 * fastconv.h -- the one header naming every C kernel of fastconv.
 *
 * Conventions (see docs/design.md):
 *  - C99, sizes and offsets are int64_t, no global mutable state.
 *  - Kernels never allocate their outputs: the caller (Python) passes C-contiguous arrays.
 *    Workspaces, when an algorithm needs one, come from fc_aligned_alloc (alloc.c) and are bounded
 *    by a fixed tile budget whatever the image size.
 *  - Every kernel returns a status (FC_OK on success). Arguments are validated in Python first;
 *    kernels check again and return FC_EINVAL rather than touch memory they were not given.
 *  - Layouts: activations NCHW, convolution weights KCRS (= PyTorch's OIHW).
 *  - Run-time configuration (ISA path, thread count) is passed in an fc_ctx on every call, so
 *    there is no process-wide state in C and results only depend on the arguments.
 *  - Names: fc_<op>_<pass>[_<algo>]_<dtype>.
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ---------------------------------------------------------------------- */
enum {
    FC_OK = 0,
    FC_EINVAL = 1,     /* an argument is out of its domain (should have been caught in Python) */
    FC_ENOMEM = 2,     /* a workspace allocation failed */
    FC_EOVERFLOW = 3   /* a size product does not fit in int64_t */
};

/* ---- ISA paths, chosen at run time ------------------------------------------------------- */
enum { FC_ISA_SCALAR = 0, FC_ISA_AVX2 = 1, FC_ISA_AVX512 = 2 };

typedef struct {
    int isa;       /* FC_ISA_*; must be <= fc_cpu_isa(). Kernels clamp it defensively. */
    int nthreads;  /* >= 1; kernels never create nested parallel regions */
} fc_ctx;

int fc_cpu_isa(void);               /* best ISA this CPU and OS support (cpuid + xgetbv) */
const char *fc_isa_name(int isa);   /* "scalar", "avx2", "avx512" */
int fc_openmp_enabled(void);        /* 1 if built with OpenMP */
int fc_openmp_max_threads(void);    /* omp_get_max_threads() or 1 */

/* ---- allocation (alloc.c): the one audited place kernels get workspace from ------------------ */
void *fc_aligned_alloc(int64_t nbytes);   /* 64-byte aligned, NULL on failure or nbytes < 0 */
void fc_aligned_free(void *p);
/* a*b into *out, returns 0 on success, FC_EOVERFLOW if it does not fit (both a, b >= 0). */
int fc_mul_overflow(int64_t a, int64_t b, int64_t *out);

/* ---- GEMM (gemm.c + isa/gemm_kernels.c) ----------------------------------------------------
 * Row-major: C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C.
 * op(X) = X if trans_x == 0, X^T otherwise; lda/ldb/ldc are row strides in elements.
 * beta == 0 means C is overwritten (its old contents, even NaN, are ignored).
 * Packed, cache-blocked, SIMD micro-kernels per ISA; threads from ctx. No BLAS is linked.      */
int fc_sgemm(const fc_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc);
int fc_dgemm(const fc_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
             double beta, double *C, int64_t ldc);

/* ---- convolution --------------------------------------------------------------------------
 * y[n,k,p,q] = bias[k] + sum_{c,r,s} x[n, c, p*stride_h + r - pad_h, q*stride_w + s - pad_w] * w[k,c,r,s]
 * (terms whose input position falls in the zero padding are zero).
 * P = (H + 2*pad_h - R) / stride_h + 1, Q likewise; computed in Python and checked here.      */
typedef struct {
    int64_t N, C, H, W;          /* input */
    int64_t K, R, S;             /* weight: K output channels, R x S kernel */
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t P, Q;                /* output height and width */
} fc_conv_desc;

/* flags for the forward epilogue */
enum { FC_FUSE_NONE = 0, FC_FUSE_RELU = 1 };

/* returns FC_OK if d is self-consistent (all sizes >= 0, strides >= 1, P/Q as the formula, ...) */
int fc_conv_desc_check(const fc_conv_desc *d);

/* forward: y (N,K,P,Q) is overwritten. bias may be NULL. flags: FC_FUSE_* */
#define FC_CONV_FORWARD(name, T) \
    int name(const fc_ctx *ctx, const fc_conv_desc *d, const T *x, const T *w, const T *bias, \
             int flags, T *y)
FC_CONV_FORWARD(fc_conv2d_forward_direct_f32, float);
FC_CONV_FORWARD(fc_conv2d_forward_direct_f64, double);
FC_CONV_FORWARD(fc_conv2d_forward_im2col_f32, float);
FC_CONV_FORWARD(fc_conv2d_forward_im2col_f64, double);
FC_CONV_FORWARD(fc_conv2d_forward_1x1_f32, float);    /* R == S == 1, stride 1, pad 0 only */
FC_CONV_FORWARD(fc_conv2d_forward_1x1_f64, double);
/* Winograd F(m x m, 3 x 3) (conv_winograd.c): R == S == 3, stride 1 only (else FC_EINVAL). Fewer
 * multiplications than any direct method; float32 error is larger than direct's (documented in
 * docs/winograd.md). Backward passes use the im2col kernels.                                */
FC_CONV_FORWARD(fc_conv2d_forward_winograd_f32, float);
FC_CONV_FORWARD(fc_conv2d_forward_winograd_f64, double);

/* grad of the input: grad_x (N,C,H,W) is overwritten */
#define FC_CONV_GRAD_INPUT(name, T) \
    int name(const fc_ctx *ctx, const fc_conv_desc *d, const T *grad_y, const T *w, T *grad_x)
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_direct_f32, float);
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_direct_f64, double);
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_im2col_f32, float);   /* GEMM + col2im */
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_im2col_f64, double);
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_1x1_f32, float);
FC_CONV_GRAD_INPUT(fc_conv2d_grad_input_1x1_f64, double);

/* grad of the weight: grad_w (K,C,R,S) is overwritten */
#define FC_CONV_GRAD_WEIGHT(name, T) \
    int name(const fc_ctx *ctx, const fc_conv_desc *d, const T *grad_y, const T *x, T *grad_w)
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_direct_f32, float);
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_direct_f64, double);
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_im2col_f32, float);
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_im2col_f64, double);
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_1x1_f32, float);
FC_CONV_GRAD_WEIGHT(fc_conv2d_grad_weight_1x1_f64, double);

/* grad of the bias: grad_b (K) = sum over n, p, q of grad_y; overwritten */
int fc_conv2d_grad_bias_f32(const fc_ctx *ctx, const fc_conv_desc *d, const float *grad_y, float *grad_b);
int fc_conv2d_grad_bias_f64(const fc_ctx *ctx, const fc_conv_desc *d, const double *grad_y, double *grad_b);

/* y[n, c, :] = x[n, c, :] * scale[c] + shift[c], then max(., 0) if relu (NaN kept), over N x C
 * planes of HW elements; scale / shift may be NULL (skipped); y may be x. Eval-mode BatchNorm
 * and ReLU in one pass (channel_affine.c).                                                   */
int fc_channel_affine_f32(const fc_ctx *ctx, int64_t N, int64_t C, int64_t HW, const float *x,
                          const float *scale, const float *shift, int relu, float *y);
int fc_channel_affine_f64(const fc_ctx *ctx, int64_t N, int64_t C, int64_t HW, const double *x,
                          const double *scale, const double *shift, int relu, double *y);
/* out[i] = y[i] <= 0 ? 0 : grad[i] for n elements (ReLU's gradient; NaN in y passes grad);
 * out may be grad. */
int fc_relu_backward_f32(const fc_ctx *ctx, int64_t n, const float *grad, const float *y, float *out);
int fc_relu_backward_f64(const fc_ctx *ctx, int64_t n, const double *grad, const double *y, double *out);

/* ---- pooling (pool.c) ---------------------------------------------------------------------
 * Windows: rows p*stride_h - pad_h ... + kh - 1 (clipped to the input), likewise columns.
 * P, Q computed in Python (ceil_mode handled there, torch's rule: the last window must start
 * inside the input or the left padding).                                                      */
typedef struct {
    int64_t N, C, H, W;
    int64_t kh, kw;
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t P, Q;
} fc_pool_desc;

/* max: y (N,C,P,Q) overwritten; indices (N,C,P,Q) = flat index h*W+w of the max within its
 * plane, may be NULL. NaN propagates (a NaN in the window wins, the last NaN's index, as torch). A window
 * of all -inf gives -inf and the index of its first element.                                */
int fc_maxpool2d_forward_f32(const fc_ctx *ctx, const fc_pool_desc *d, const float *x, float *y, int64_t *indices);
int fc_maxpool2d_forward_f64(const fc_ctx *ctx, const fc_pool_desc *d, const double *x, double *y, int64_t *indices);
/* grad_x (N,C,H,W) overwritten: zero, then grad_y scattered (accumulated) at indices.
 * Only N, C, H, W, P, Q of d are used. Returns FC_EINVAL if an index is outside [0, H*W).   */
int fc_maxpool2d_backward_f32(const fc_ctx *ctx, const fc_pool_desc *d, const float *grad_y, const int64_t *indices, float *grad_x);
int fc_maxpool2d_backward_f64(const fc_ctx *ctx, const fc_pool_desc *d, const double *grad_y, const int64_t *indices, double *grad_x);

/* average, torch's definition: the divisor is the window size clipped to the padded input
 * (count_include_pad != 0) or to the input itself (count_include_pad == 0).                   */
int fc_avgpool2d_forward_f32(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad, const float *x, float *y);
int fc_avgpool2d_forward_f64(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad, const double *x, double *y);
int fc_avgpool2d_backward_f32(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad, const float *grad_y, float *grad_x);
int fc_avgpool2d_backward_f64(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad, const double *grad_y, double *grad_x);

/* adaptive average to (P, Q): window i covers [floor(i*H/P), ceil((i+1)*H/P)) (torch's rule).
 * Only N, C, H, W, P, Q of d are used.                                                        */
int fc_adaptive_avgpool2d_forward_f32(const fc_ctx *ctx, const fc_pool_desc *d, const float *x, float *y);
int fc_adaptive_avgpool2d_forward_f64(const fc_ctx *ctx, const fc_pool_desc *d, const double *x, double *y);
int fc_adaptive_avgpool2d_backward_f32(const fc_ctx *ctx, const fc_pool_desc *d, const float *grad_y, float *grad_x);
int fc_adaptive_avgpool2d_backward_f64(const fc_ctx *ctx, const fc_pool_desc *d, const double *grad_y, double *grad_x);

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_H */
