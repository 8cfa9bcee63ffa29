/* conv_im2col.c -- convolution as GEMM over tiles of output pixels: im2col of one tile into a
 * bounded workspace (FC_IM2COL_TILE_BYTES per thread, whatever the image size), then
 * fc_sgemm/fc_dgemm; backward: grad_col = W^T . grad_y per tile then col2im, and
 * grad_w = sum over tiles of grad_y_tile . col_tile^T. Also hosts the tiled forward driver
 * the 1x1 path shares (there the input itself is the GEMM operand).                        */
#include "conv_internal.h"

/* A run of `run` output columns q, q+1, ... of one output row reads input columns
 * (q + e)*sw + s - pw for tap column s: those inside [0, W) are e in [*elo, *ehi), the rest is
 * padding. Two divisions: computed once per tap for whole rows, per run only at tile edges. */
static void im2col_run_bounds(int64_t W, int64_t pw, int64_t sw, int64_t s, int64_t q, int64_t run,
                              int64_t *elo, int64_t *ehi)
{
    const int64_t first = pw - s - q * sw, lim = W + pw - s - q * sw;
    *elo = fc_min64(run, first <= 0 ? 0 : (first + sw - 1) / sw);
    *ehi = fc_max64(*elo, fc_min64(run, lim <= 0 ? 0 : (lim + sw - 1) / sw));
}

#define FC_T float
#define FC_SFX _f32
#define FC_GEMM fc_sgemm
#define FC_GEMM_EX fc_sgemm_ex
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
#undef FC_GEMM_EX

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm
#define FC_GEMM_EX fc_dgemm_ex
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
#undef FC_GEMM_EX
