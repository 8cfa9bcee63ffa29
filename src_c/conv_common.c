/* conv_common.c -- what every convolution algorithm shares: the descriptor check (sizes,
 * overflow) and the gradient of the bias, which does not depend on the algorithm.         */
#include "conv_internal.h"

/* a*b*c*d into *out with overflow checks; every factor is >= 0 */
static int mul4(int64_t a, int64_t b, int64_t c, int64_t e, int64_t *out)
{
    int64_t t;
    int st;
    if ((st = fc_mul_overflow(a, b, &t)) != FC_OK) return st;
    if ((st = fc_mul_overflow(t, c, &t)) != FC_OK) return st;
    if ((st = fc_mul_overflow(t, e, &t)) != FC_OK) return st;
    *out = t;
    return FC_OK;
}

/* P for one axis: (n + 2*pad - k) / stride + 1, or -1 if the padded input is shorter than
 * the kernel (torch refuses that shape), -2 on overflow of n + 2*pad.                       */
static int64_t out_len(int64_t n, int64_t k, int64_t stride, int64_t pad)
{
    if (pad > (INT64_MAX - n) / 2) return -2;
    const int64_t span = n + 2 * pad - k;
    return span < 0 ? -1 : span / stride + 1;
}

int fc_conv_sizes(const fc_conv_desc *d, fc_conv_sizes_t *sz)
{
    if (d == NULL || sz == NULL) return FC_EINVAL;
    if (d->N < 0 || d->C < 0 || d->H < 0 || d->W < 0 || d->K < 0 || d->R < 0 || d->S < 0 ||
        d->P < 0 || d->Q < 0)
        return FC_EINVAL;
    if (d->stride_h < 1 || d->stride_w < 1 || d->pad_h < 0 || d->pad_w < 0) return FC_EINVAL;
    /* the kernels form first + stride - 1, pad + stride - 1, p * stride + r - pad ...: bounded
     * like pooling's so none of these can overflow (a stride of 2^63 - 1 used to write before
     * the output buffer) */
    if (d->stride_h > INT64_MAX / 4 || d->stride_w > INT64_MAX / 4 || d->R > INT64_MAX / 4 ||
        d->S > INT64_MAX / 4 || d->pad_h > INT64_MAX / 8 || d->pad_w > INT64_MAX / 8)
        return FC_EOVERFLOW;
    const int64_t P = out_len(d->H, d->R, d->stride_h, d->pad_h);
    const int64_t Q = out_len(d->W, d->S, d->stride_w, d->pad_w);
    if (P == -2 || Q == -2) return FC_EOVERFLOW;
    if (P != d->P || Q != d->Q) return FC_EINVAL;
    int st;
    int64_t bytes;
    /* element counts, and the same times 8 so that byte offsets of doubles fit as well */
    if ((st = mul4(d->N, d->C, d->H, d->W, &sz->x)) != FC_OK) return st;
    if ((st = mul4(d->N, d->K, d->P, d->Q, &sz->y)) != FC_OK) return st;
    if ((st = mul4(d->K, d->C, d->R, d->S, &sz->w)) != FC_OK) return st;
    if ((st = mul4(d->H, d->W, 1, 1, &sz->hw)) != FC_OK) return st;
    if ((st = mul4(d->P, d->Q, 1, 1, &sz->pq)) != FC_OK) return st;
    if ((st = mul4(d->C, d->R, d->S, 1, &sz->crs)) != FC_OK) return st;
    if ((st = mul4(d->R, d->S, 1, 1, &sz->rs)) != FC_OK) return st;
    if ((st = fc_mul_overflow(sz->x, 8, &bytes)) != FC_OK) return st;
    if ((st = fc_mul_overflow(sz->y, 8, &bytes)) != FC_OK) return st;
    if ((st = fc_mul_overflow(sz->w, 8, &bytes)) != FC_OK) return st;
    /* the im2col tile holds crs * FC_IM2COL_MIN_TILE elements at least */
    if ((st = mul4(sz->crs, FC_IM2COL_MIN_TILE, 8, 1, &bytes)) != FC_OK) return st;
    return FC_OK;
}

int fc_conv_desc_check(const fc_conv_desc *d)
{
    fc_conv_sizes_t sz;
    return fc_conv_sizes(d, &sz);
}

/* grad_b[k] = sum over n, p, q of grad_y[n, k, p, q]. One thread per channel block, summed in
 * a fixed order (n, then 8 interleaved partial sums over the plane), so the result does not
 * depend on the thread count or the ISA.                                                     */
#define FC_GRAD_BIAS(name, T)                                                                 \
    int name(const fc_ctx *ctx, const fc_conv_desc *d, const T *grad_y, T *grad_b)            \
    {                                                                                         \
        fc_conv_sizes_t sz;                                                                   \
        int st = fc_conv_sizes(d, &sz);                                                       \
        if (st != FC_OK) return st;                                                           \
        if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(grad_b, d->K)) return FC_EINVAL; \
        const int64_t K = d->K, N = d->N, pq = sz.pq;                                         \
        const int nt = fc_ctx_threads(ctx);                                                   \
        (void)nt;                                                                             \
        FC_PRAGMA_OMP_FOR(nt, K * pq > 32768)                                                 \
        for (int64_t k = 0; k < K; k++) {                                                     \
            T total = 0;                                                                      \
            for (int64_t n = 0; n < N; n++) {                                                 \
                const T *g = grad_y + (n * K + k) * pq;                                       \
                T part[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                         \
                int64_t i = 0;                                                                \
                for (; i + 8 <= pq; i += 8)                                                   \
                    for (int j = 0; j < 8; j++) part[j] += g[i + j];                          \
                for (; i < pq; i++) part[i & 7] += g[i];                                      \
                total += ((part[0] + part[1]) + (part[2] + part[3])) +                        \
                         ((part[4] + part[5]) + (part[6] + part[7]));                         \
            }                                                                                 \
            grad_b[k] = total;                                                                \
        }                                                                                     \
        return FC_OK;                                                                         \
    }

FC_GRAD_BIAS(fc_conv2d_grad_bias_f32, float)
FC_GRAD_BIAS(fc_conv2d_grad_bias_f64, double)
