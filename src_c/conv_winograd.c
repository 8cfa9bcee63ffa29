/* conv_winograd.c -- Winograd F(m x m, 3 x 3) forward convolution.
 * Interim: validates the 3x3 / stride-1 restriction and computes through im2col until the
 * Winograd transforms land (same results, im2col's speed).                                   */
#include "internal.h"

static int winograd_applies(const fc_conv_desc *d)
{
    return d && d->R == 3 && d->S == 3 && d->stride_h == 1 && d->stride_w == 1;
}

int fc_conv2d_forward_winograd_f32(const fc_ctx *ctx, const fc_conv_desc *d, const float *x,
                                   const float *w, const float *bias, int flags, float *y)
{
    if (!winograd_applies(d)) return FC_EINVAL;
    return fc_conv2d_forward_im2col_f32(ctx, d, x, w, bias, flags, y);
}

int fc_conv2d_forward_winograd_f64(const fc_ctx *ctx, const fc_conv_desc *d, const double *x,
                                   const double *w, const double *bias, int flags, double *y)
{
    if (!winograd_applies(d)) return FC_EINVAL;
    return fc_conv2d_forward_im2col_f64(ctx, d, x, w, bias, flags, y);
}
