/* conv_im2col.c -- convolution as GEMM over tiles of output pixels: im2col of one tile into a
 * bounded workspace (FC_IM2COL_TILE_BYTES per thread, whatever the image size), then
 * fc_sgemm/fc_dgemm (forward with SIMD: the tile written in the GEMM's packed layout, then
 * fc_sgemm_bp/fc_dgemm_bp); backward: grad_col = W^T . grad_y per tile then col2im, and
 * grad_w = sum over tiles of grad_y_tile . col_tile^T. Also hosts the tiled forward driver
 * the 1x1 path shares (there the input itself is the GEMM operand).                        */
#include "conv_internal.h"

/* The GEMM's packed B layout, which the forward's SIMD im2col writes straight away (so the
 * GEMM, fc_sgemm_bp, does not copy the tile a second time): row k's column j at
 * (j / nr)*C*R*S*nr + k*nr + j % nr, the last sliver padded with zeros.                    */
typedef struct {
    int isa;
    int64_t nr;
} fc_sliver_layout;

/* fewer input channels than this: plain im2col and the GEMM's own packing (measured in
 * conv_im2col_tmpl.h, fc_conv_gemm_forward)                                                */
#ifndef FC_IM2COL_PACKED_MIN_C
#define FC_IM2COL_PACKED_MIN_C 8
#endif

#define FC_T float
#define FC_SFX _f32
#define FC_GEMM fc_sgemm
#define FC_GEMM_EX fc_sgemm_ex
#define FC_GEMM_BP fc_sgemm_bp
#define FC_IS_DOUBLE 0
#define FC_IM2COL_PACKED(isa) fc_im2col_packed_f32_##isa
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
#undef FC_GEMM_EX
#undef FC_GEMM_BP
#undef FC_IS_DOUBLE
#undef FC_IM2COL_PACKED

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm
#define FC_GEMM_EX fc_dgemm_ex
#define FC_GEMM_BP fc_dgemm_bp
#define FC_IS_DOUBLE 1
#define FC_IM2COL_PACKED(isa) fc_im2col_packed_f64_##isa
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
#undef FC_GEMM_EX
#undef FC_GEMM_BP
#undef FC_IS_DOUBLE
#undef FC_IM2COL_PACKED
