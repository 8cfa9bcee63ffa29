/* conv_1x1_tmpl.h -- body of conv_1x1.c for one element type FC_T (suffix FC_SFX). */
#define FC_NAME(base) FC_CAT(base, FC_SFX)

int FC_NAME(fc_conv2d_forward_1x1)(const fc_ctx *ctx, const fc_conv_desc *d, const FC_T *x,
                                   const FC_T *w, const FC_T *bias, int flags, FC_T *y)
{
    fc_conv_sizes_t sz;
    int st = check_1x1(d, &sz);
    if (st != FC_OK) return st;
    if ((flags & ~FC_FUSE_RELU) != 0) return FC_EINVAL;
    /* tiles of pixels, GEMM on the input in place, bias + ReLU per tile */
    return FC_NAME(fc_conv_gemm_forward)(ctx, d, x, w, bias, flags & FC_FUSE_RELU, y, 0);
}

/* grad_x[n] (C x HW) = W^T (C x K) . grad_y[n] (K x HW); pixel tiles are independent, so the
 * GEMM over a whole image is split by the GEMM itself.                                       */
int FC_NAME(fc_conv2d_grad_input_1x1)(const fc_ctx *ctx, const fc_conv_desc *d,
                                      const FC_T *grad_y, const FC_T *w, FC_T *grad_x)
{
    fc_conv_sizes_t sz;
    int st = check_1x1(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(grad_x, sz.x))
        return FC_EINVAL;
    if (sz.x == 0) return FC_OK;
    if (d->K == 0) {
        for (int64_t i = 0; i < sz.x; i++) grad_x[i] = 0;
        return FC_OK;
    }
    const int64_t C = d->C, K = d->K, hw = sz.hw;
    for (int64_t n = 0; n < d->N; n++) {
        st = FC_GEMM(ctx, 1, 0, C, hw, K, 1, w, C, grad_y + n * K * hw, hw, 0, grad_x + n * C * hw, hw);
        if (st != FC_OK) return st;
    }
    return FC_OK;
}

/* grad_w (K x C) = sum_n grad_y[n] (K x HW) . x[n]^T (HW x C), images in order. */
int FC_NAME(fc_conv2d_grad_weight_1x1)(const fc_ctx *ctx, const fc_conv_desc *d,
                                       const FC_T *grad_y, const FC_T *x, FC_T *grad_w)
{
    fc_conv_sizes_t sz;
    int st = check_1x1(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(grad_w, sz.w))
        return FC_EINVAL;
    if (sz.w == 0) return FC_OK;
    if (sz.y == 0) {
        for (int64_t i = 0; i < sz.w; i++) grad_w[i] = 0;
        return FC_OK;
    }
    const int64_t C = d->C, K = d->K, hw = sz.hw;
    for (int64_t n = 0; n < d->N; n++) {
        st = FC_GEMM(ctx, 0, 1, K, C, hw, 1, grad_y + n * K * hw, hw, x + n * C * hw, hw,
                     n == 0 ? 0 : 1, grad_w, C);
        if (st != FC_OK) return st;
    }
    return FC_OK;
}

#undef FC_NAME
