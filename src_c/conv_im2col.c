/* conv_im2col.c -- convolution as GEMM over tiles of output pixels: im2col of one tile into a
 * bounded workspace (FC_IM2COL_TILE_BYTES per thread, whatever the image size), then
 * fc_sgemm/fc_dgemm; backward: grad_col = W^T . grad_y per tile then col2im, and
 * grad_w = sum over tiles of grad_y_tile . col_tile^T. Also hosts the tiled forward driver
 * the 1x1 path shares (there the input itself is the GEMM operand).                        */
#include "conv_internal.h"

#define FC_T float
#define FC_SFX _f32
#define FC_GEMM fc_sgemm
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm
#include "conv_im2col_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
