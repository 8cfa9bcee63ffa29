/* conv_1x1.c -- 1x1 convolution, stride 1, no padding: a GEMM straight on the input, no
 * workspace. Per image, x[n] is a C x HW matrix: y[n] = W . x[n] (W is K x C),
 * grad_x[n] = W^T . grad_y[n], grad_w = sum_n grad_y[n] . x[n]^T.                           */
#include "conv_internal.h"

static int check_1x1(const fc_conv_desc *d, fc_conv_sizes_t *sz)
{
    int st = fc_conv_sizes(d, sz);
    if (st != FC_OK) return st;
    if (d->R != 1 || d->S != 1 || d->stride_h != 1 || d->stride_w != 1 || d->pad_h != 0 ||
        d->pad_w != 0)
        return FC_EINVAL;
    return FC_OK;
}

#define FC_T float
#define FC_SFX _f32
#define FC_GEMM fc_sgemm
#include "conv_1x1_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm
#include "conv_1x1_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
