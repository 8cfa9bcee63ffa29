/* conv_internal.h -- helpers shared by the convolution files (conv_*.c, isa/conv_*.c). */
#ifndef FC_CONV_INTERNAL_H
#define FC_CONV_INTERNAL_H

#include "internal.h"

/* "#pragma omp parallel for" over a loop, static schedule (bit-identical results run to run),
 * only when there is more than one thread, enough work (cond), and we are not already inside
 * a parallel region (never nest).                                                           */
#ifdef FC_HAVE_OPENMP
#define FC_PRAGMA(x) _Pragma(#x)
#define FC_PRAGMA_OMP_FOR(nt, cond) \
    FC_PRAGMA(omp parallel for schedule(static) num_threads(nt) if ((nt) > 1 && (cond) && !omp_in_parallel()))
#else
#define FC_PRAGMA_OMP_FOR(nt, cond)
#endif

/* name pasting for the per-dtype templates (conv_*_tmpl.h) */
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)

/* Per-thread workspace budget of the im2col path: a column tile holds about this many bytes,
 * whatever the image size (it only grows past it when one output pixel's C*R*S column times
 * the minimum tile width is larger, i.e. with the filter, never with the image). 1 MB keeps
 * one tile resident in the L2 cache next to the GEMM's packed panels. Measured again
 * (2026-11-30, batch 1, 2 threads): 512 KB ran ResNet-50's layer2 3x3/2 1.20 -> 1.29 ms and a
 * 14x14 256-channel 3x3 1.18 -> 1.31 ms; 2 MB 1.20 -> 1.21 and 1.18 -> 1.19 ms.              */
#ifndef FC_IM2COL_TILE_BYTES
#define FC_IM2COL_TILE_BYTES ((int64_t)1 << 20)
#endif
#define FC_IM2COL_MIN_TILE 16
/* with several threads and few tiles, the GEMM paths cut an image into narrower tiles for
 * the threads, never narrower than this many pixels                                        */
#define FC_SPLIT_MIN_TILE 32

/* grad_w of the im2col path splits its reduction over the threads (conv_im2col_tmpl.h) when
 * grad_w has at most this many elements and each thread gets at least this many pixels (the
 * final adding of the copies is then at most 1/1024 of the work). 4096 left ResNet-18's
 * batch-16 layer3 downsample (128 -> 256, 1x1/2, 3,136 pixels) on the per-tile threaded GEMM:
 * grad_w 1.20 ms on 2 threads (1.71x); split, 1.03 ms (2.0x). A 64-channel 1x1 on 56x56 at
 * batch 1: 0.194 -> 0.144 ms.                                                              */
#define FC_GW_SPLIT_MAX ((int64_t)1 << 16)
#ifndef FC_GW_SPLIT_MIN_PIXELS
#define FC_GW_SPLIT_MIN_PIXELS ((int64_t)1024)
#endif

/* A run of `run` output columns q, q+1, ... of one output row reads input columns
 * (q + e)*sw + s - pw for tap column s: those inside [0, W) are e in [*elo, *ehi), the rest is
 * padding. Two divisions: computed once per tap for whole rows, per run only at tile edges. */
static inline void fc_im2col_run_bounds(int64_t W, int64_t pw, int64_t sw, int64_t s, int64_t q,
                                        int64_t run, int64_t *elo, int64_t *ehi)
{
    const int64_t first = pw - s - q * sw, lim = W + pw - s - q * sw;
    *elo = fc_min64(run, first <= 0 ? 0 : (first + sw - 1) / sw);
    *ehi = fc_max64(*elo, fc_min64(run, lim <= 0 ? 0 : (lim + sw - 1) / sw));
}

/* The forward im2col tile in the GEMM's packed B layout, SIMD (isa/conv_im2col_kernels.c):
 * kernel rows [r0, r1) of channels [c0, c1) of output pixels [t0, t0 + nt), col row
 * ((c - c0)*R + r)*S + s at col + row*nr, its column j at (j / nr)*C*R*S*nr + j % nr, padded
 * with zeros to a whole sliver. Needs stride_w <= 2 and nr (fc_gemm_nr: every GEMM kit's NR)
 * a power of two and a multiple of the vector width; AVX2 and AVX-512 only.               */
#define FC_IM2COL_PACKED_ARGS(T) \
    (const fc_conv_desc *d, const T *x_n, int64_t c0, int64_t c1, int64_t r0, int64_t r1, \
     int64_t t0, int64_t nt, T *col, int64_t nr)
void fc_im2col_packed_f32_avx2 FC_IM2COL_PACKED_ARGS(float);
void fc_im2col_packed_f32_avx512 FC_IM2COL_PACKED_ARGS(float);
void fc_im2col_packed_f64_avx2 FC_IM2COL_PACKED_ARGS(double);
void fc_im2col_packed_f64_avx512 FC_IM2COL_PACKED_ARGS(double);

/* Element counts of the five tensors a convolution touches, all checked against overflow
 * (including as byte counts of 8-byte elements) by fc_conv_sizes.                           */
typedef struct {
    int64_t x;    /* N*C*H*W */
    int64_t y;    /* N*K*P*Q */
    int64_t w;    /* K*C*R*S */
    int64_t hw;   /* H*W */
    int64_t pq;   /* P*Q */
    int64_t crs;  /* C*R*S */
    int64_t rs;   /* R*S */
} fc_conv_sizes_t;

/* fc_conv_desc_check plus the element counts; FC_OK, FC_EINVAL or FC_EOVERFLOW. */
int fc_conv_sizes(const fc_conv_desc *d, fc_conv_sizes_t *sz);

#ifdef FC_HAVE_OPENMP
#define FC_PRAGMA_OMP_CRITICAL FC_PRAGMA(omp critical)
#else
#define FC_PRAGMA_OMP_CRITICAL
#endif

/* The forward pass as GEMMs over tiles of output pixels (conv_im2col.c): with im2col != 0 each
 * tile is unfolded into a workspace first; with im2col == 0 the input itself is the GEMM's
 * right operand (1x1 kernel, stride 1, no padding). Bias and ReLU are applied to each tile
 * right after its GEMM, while it is still in cache.                                          */
int fc_conv_gemm_forward_f32(const fc_ctx *ctx, const fc_conv_desc *d, const float *x,
                             const float *w, const float *bias, int relu, float *y, int im2col);
int fc_conv_gemm_forward_f64(const fc_ctx *ctx, const fc_conv_desc *d, const double *x,
                             const double *w, const double *bias, int relu, double *y, int im2col);

/* y[k, 0:cols] (row stride ldy) = relu?(y + bias[k]) for k < rows; bias may be NULL */
#define FC_DEFINE_EPILOGUE(T, SFX)                                                            \
    static inline void fc_conv_epilogue##SFX(T *y, int64_t rows, int64_t cols, int64_t ldy,   \
                                             const T *bias, int relu)                         \
    {                                                                                         \
        for (int64_t k = 0; k < rows; k++) {                                                  \
            T *row = y + k * ldy;                                                             \
            if (bias) {                                                                       \
                const T b = bias[k];                                                          \
                for (int64_t j = 0; j < cols; j++) row[j] += b;                               \
            }                                                                                 \
            if (relu)                                                                         \
                for (int64_t j = 0; j < cols; j++) row[j] = row[j] < 0 ? (T)0 : row[j];       \
        }                                                                                     \
    }
FC_DEFINE_EPILOGUE(float, _f32)
FC_DEFINE_EPILOGUE(double, _f64)

/* A pointer may only be NULL when the array it stands for is empty. */
static inline int fc_conv_ptr_ok(const void *p, int64_t count) { return p != NULL || count == 0; }

/* Direct-convolution micro-kernels (isa/conv_direct_kernels.c), one per ISA path.
 *
 * A "correlation plane job" computes, for one image, a block of output channels over a band
 * of output rows:
 *   out[o, i, j] = init[o] + sum_{c < IC, r < R, s < S} in[c, i*sh + r - oh, j*sw + s - ow] * wt(o, c, r, s)
 * with in of size IC x Hin x Win (contiguous planes), out planes of Hout x Wout (contiguous),
 * wt(o, c, r, s) = wbase[o*w_o + c*w_c + r*w_r + s*w_s] (signed strides: the transposed,
 * flipped weights of grad_input are the forward weights read backwards), and input positions
 * outside the planes read as zero (oh, ow may be negative: asymmetric or negative padding).
 * The output may be a strided sub-grid of a larger array (out_ps, out_rs, out_cs).
 * This one kernel serves the forward pass (w_o = C*R*S, w_c = R*S) and grad_input (a "full"
 * correlation of grad_y with the flipped, transposed kernel; with stride s, one correlation
 * per phase of the output grid, each with the sub-kernel of the taps that reach it).        */
typedef struct {
    int64_t IC, Hin, Win;        /* input channels and plane size */
    int64_t Hout, Wout;          /* output plane size */
    int64_t R, S;
    int64_t sh, sw;              /* strides of the input walk */
    int64_t oh, ow;              /* offset subtracted from i*sh + r, j*sw + s (the padding) */
    int64_t w_o, w_c, w_r, w_s;  /* weight strides, in elements (may be negative) */
    int64_t out_ps, out_rs, out_cs;  /* output strides: plane, row, column (>= 1) */
    /* 0, or (SIMD paths, sw = 2, ow = 0): each input row of Win = 2*split_w elements holds the
     * even columns of a padded row, then its odd ones, so that stride-2 taps are plain vector
     * loads; both halves extend, zero-filled, past every lane a block reads               */
    int64_t split_w;
} fc_corr_geom;

/* out rows [i0, i1) of channels [o0, o0 + nb) (nb <= FC_CORR_MAX_OB); init may be NULL (0);
 * out[o, i, j] is out[o*out_ps + i*out_rs + j*out_cs].
 * relu != 0 clamps the result at 0 (NaN kept).                                              */
#define FC_CORR_MAX_OB 24
#define FC_CORR_ARGS(T) \
    (const fc_corr_geom *g, const T *in, const T *wbase, const T *init, int relu, \
     int64_t o0, int64_t nb, int64_t i0, int64_t i1, T *out)
FC_DECLARE_ISA(void, fc_corr_rows_f32, FC_CORR_ARGS(float));
FC_DECLARE_ISA(void, fc_corr_rows_f64, FC_CORR_ARGS(double));

/* grad_weight: gw[k, c, r, s] for k in [k0, k0+kb), one c, all r, s, summed over one image's
 * P x Q outputs (gy_n: that image's grad_y, xc: its input plane c) and added to
 * acc[kk*acc_k + r*S + s] (kk < kb), in a fixed order.                                       */
#define FC_GW_ARGS(T) \
    (const fc_conv_desc *d, const T *gy_n, const T *xc, int64_t k0, int64_t kb, T *acc, \
     int64_t acc_k)
FC_DECLARE_ISA(void, fc_conv_gw_accum_f32, FC_GW_ARGS(float));
FC_DECLARE_ISA(void, fc_conv_gw_accum_f64, FC_GW_ARGS(double));

#endif
