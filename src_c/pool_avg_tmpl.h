/* pool_avg_tmpl.h -- average and adaptive average pooling for one dtype; included by
 * pool_avg.c with T and SFX(name) defined.
 *
 * Sums run over the window in row-major order and backward passes add each output's share in
 * output order, as torch's CPU kernels do, so results match torch's NCHW path bit for bit.   */

/* torch's divisor of output (p, q): the window clipped to the padded input
 * (count_include_pad) or to the input itself */
static inline int64_t SFX(avg_extent)(int64_t o, int64_t stride, int64_t pad, int64_t k,
                                      int64_t in, int include_pad, int64_t *lo, int64_t *hi)
{
    const int64_t start = o * stride - pad;
    const int64_t end_padded = fc_min64(start + k, in + pad);
    *lo = fc_max64(start, 0);
    *hi = fc_min64(end_padded, in);
    return include_pad ? end_padded - start : *hi - *lo;
}

/* outputs [qa, qb) of a row, any window */
static void SFX(avg_cols)(const fc_pool_desc *d, int include_pad, const T *xp, int64_t rows,
                          int64_t h0, int64_t h1, int64_t qa, int64_t qb, T *yrow)
{
    const int64_t W = d->W;
    int64_t w0, w1;
    for (int64_t q = qa; q < qb; ++q) {
        const int64_t cols = SFX(avg_extent)(q, d->stride_w, d->pad_w, d->kw, W, include_pad, &w0, &w1);
        T sum = 0;
        for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) sum += xp[h * W + w];
        yrow[q] = sum / (T)(rows * cols);
    }
}

/* Outputs whose windows lie inside the row horizontally go AVG_BLOCK at a time, their sums side
 * by side (a loop the compiler vectorises; one output at a time the additions form one chain).
 * Each sum still runs over its window rows, then columns, from 0, and the divisor is the same
 * (kw columns): the same bits as the one-at-a-time loop, which keeps the edges.             */
#define AVG_BLOCK 16
static void SFX(avg_row)(const fc_pool_desc *d, int include_pad, const T *xp, int64_t p, T *yrow)
{
    const int64_t W = d->W, Q = d->Q, sw = d->stride_w, pw = d->pad_w, kw = d->kw;
    int64_t h0, h1, lo, hi;
    const int64_t rows = SFX(avg_extent)(p, d->stride_h, d->pad_h, d->kh, d->H, include_pad, &h0, &h1);
    fc_pool_inside(Q, W, kw, sw, pw, &lo, &hi);
    SFX(avg_cols)(d, include_pad, xp, rows, h0, h1, 0, lo, yrow);
    const T div = (T)(rows * kw);
    for (int64_t q0 = lo; q0 < hi; q0 += AVG_BLOCK) {
        const int64_t n = fc_min64(AVG_BLOCK, hi - q0);
        T acc[AVG_BLOCK];
        for (int j = 0; j < AVG_BLOCK; ++j) acc[j] = 0;
        for (int64_t h = h0; h < h1; ++h) {
            const T *r = xp + h * W + q0 * sw - pw;
            for (int64_t w = 0; w < kw; ++w) {
                if (n == AVG_BLOCK)
                    for (int j = 0; j < AVG_BLOCK; ++j) acc[j] += r[j * sw + w];
                else
                    for (int64_t j = 0; j < n; ++j) acc[j] += r[j * sw + w];
            }
        }
        for (int64_t j = 0; j < n; ++j) yrow[q0 + j] = acc[j] / div;
    }
    SFX(avg_cols)(d, include_pad, xp, rows, h0, h1, hi, Q, yrow);
}
#undef AVG_BLOCK

int SFX(fc_avgpool2d_forward)(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad,
                              const T *x, T *y)
{
    const int st = fc_pool_check_window(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0) return FC_OK;
    if (!x || !y) return FC_EINVAL;
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->P, planes * PQ * d->kh * d->kw);
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->P, &plane, &r0, &r1);
        for (int64_t p = r0; p < r1; ++p)
            SFX(avg_row)(d, count_include_pad, x + plane * HW, p, y + plane * PQ + p * d->Q);
    }
    return FC_OK;
}

/* grad_x rows [r0, r1) of one plane: zero, then each output's share added over the part of
 * its window inside those rows, in output order */
static void SFX(avg_scatter_rows)(const fc_pool_desc *d, int include_pad, const T *gy, T *gx,
                                  int64_t r0, int64_t r1)
{
    const int64_t W = d->W;
    for (int64_t i = r0 * W; i < r1 * W; ++i) gx[i] = 0;
    for (int64_t p = 0; p < d->P; ++p) {
        int64_t h0, h1, w0, w1;
        const int64_t rows = SFX(avg_extent)(p, d->stride_h, d->pad_h, d->kh, d->H, include_pad, &h0, &h1);
        h0 = fc_max64(h0, r0);
        h1 = fc_min64(h1, r1);
        if (h0 >= h1) continue;
        for (int64_t q = 0; q < d->Q; ++q) {
            const int64_t cols = SFX(avg_extent)(q, d->stride_w, d->pad_w, d->kw, W, include_pad, &w0, &w1);
            const T share = gy[p * d->Q + q] / (T)(rows * cols);
            for (int64_t h = h0; h < h1; ++h)
                for (int64_t w = w0; w < w1; ++w) gx[h * W + w] += share;
        }
    }
}

int SFX(fc_avgpool2d_backward)(const fc_ctx *ctx, const fc_pool_desc *d, int count_include_pad,
                               const T *grad_y, T *grad_x)
{
    const int st = fc_pool_check_window(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0) return FC_OK;
    if (!grad_y || !grad_x) return FC_EINVAL;
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->H, planes * (HW + PQ * d->kh * d->kw));
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->H, &plane, &r0, &r1);
        SFX(avg_scatter_rows)(d, count_include_pad, grad_y + plane * PQ, grad_x + plane * HW, r0, r1);
    }
    return FC_OK;
}

/* ---- adaptive: window i covers [floor(i*in/out), ceil((i+1)*in/out)) ---------------------- */

static inline void SFX(adaptive_extent)(int64_t i, int64_t out, int64_t in, int64_t *lo, int64_t *hi)
{
    *lo = i * in / out;
    *hi = ((i + 1) * in + out - 1) / out;
}

static int SFX(adaptive_check)(const fc_pool_desc *d)
{
    const int st = fc_pool_check_sizes(d);
    if (st != FC_OK) return st;
    /* windows need an input to cover; (i + 1) * in must not overflow */
    if ((d->P > 0 && d->H == 0) || (d->Q > 0 && d->W == 0)) return FC_EINVAL;
    int64_t t;
    if (fc_mul_overflow(d->P + 1, d->H, &t) != FC_OK || fc_mul_overflow(d->Q + 1, d->W, &t) != FC_OK)
        return FC_EOVERFLOW;
    return FC_OK;
}

/* global average of planes [c0, c1) (P = Q = 1, the head of ResNet): GLOBAL_LANES planes at a
 * time so that their sums run side by side instead of one long chain of dependent additions;
 * each plane is still summed in row-major order, as the general loop does */
#define GLOBAL_LANES 8
static void SFX(global_avg)(const T *x, int64_t c0, int64_t c1, int64_t H, int64_t W, T *y)
{
    const int64_t HW = H * W;
    int64_t c = c0;
    for (; c + GLOBAL_LANES <= c1; c += GLOBAL_LANES) {
        T sum[GLOBAL_LANES] = {0};
        const T *xp = x + c * HW;
        for (int64_t e = 0; e < HW; ++e)
            for (int j = 0; j < GLOBAL_LANES; ++j) sum[j] += xp[j * HW + e];
        for (int j = 0; j < GLOBAL_LANES; ++j) y[c + j] = sum[j] / (T)H / (T)W;
    }
    for (; c < c1; ++c) {
        T sum = 0;
        for (int64_t e = 0; e < HW; ++e) sum += x[c * HW + e];
        y[c] = sum / (T)H / (T)W;
    }
}

int SFX(fc_adaptive_avgpool2d_forward)(const fc_ctx *ctx, const fc_pool_desc *d, const T *x, T *y)
{
    const int st = SFX(adaptive_check)(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0 || PQ == 0) return FC_OK;
    if (!x || !y) return FC_EINVAL;
    const int64_t W = d->W;
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->P, planes * (HW + PQ));
    if (PQ == 1) {
        const int64_t blocks = pl.nthreads;
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
        for (int64_t b = 0; b < blocks; ++b)
            SFX(global_avg)(x, planes * b / blocks, planes * (b + 1) / blocks, d->H, W, y);
        return FC_OK;
    }
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->P, &plane, &r0, &r1);
        const T *xp = x + plane * HW;
        for (int64_t p = r0; p < r1; ++p) {
            int64_t h0, h1;
            SFX(adaptive_extent)(p, d->P, d->H, &h0, &h1);
            for (int64_t q = 0; q < d->Q; ++q) {
                int64_t w0, w1;
                SFX(adaptive_extent)(q, d->Q, W, &w0, &w1);
                T sum = 0;
                for (int64_t h = h0; h < h1; ++h)
                    for (int64_t w = w0; w < w1; ++w) sum += xp[h * W + w];
                /* two divisions, as torch does */
                y[plane * PQ + p * d->Q + q] = sum / (T)(h1 - h0) / (T)(w1 - w0);
            }
        }
    }
    return FC_OK;
}

int SFX(fc_adaptive_avgpool2d_backward)(const fc_ctx *ctx, const fc_pool_desc *d, const T *grad_y, T *grad_x)
{
    const int st = SFX(adaptive_check)(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0 || HW == 0) return FC_OK;
    if (!grad_x || (PQ > 0 && !grad_y)) return FC_EINVAL;
    const int64_t W = d->W;
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->H, planes * (HW + PQ));
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->H, &plane, &r0, &r1);
        const T *gy = grad_y + plane * PQ;
        T *gx = grad_x + plane * HW;
        for (int64_t i = r0 * W; i < r1 * W; ++i) gx[i] = 0;
        for (int64_t p = 0; p < d->P; ++p) {
            int64_t h0, h1;
            SFX(adaptive_extent)(p, d->P, d->H, &h0, &h1);
            h0 = fc_max64(h0, r0);
            h1 = fc_min64(h1, r1);
            if (h0 >= h1) continue;
            const int64_t kh = ((p + 1) * d->H + d->P - 1) / d->P - p * d->H / d->P;
            for (int64_t q = 0; q < d->Q; ++q) {
                int64_t w0, w1;
                SFX(adaptive_extent)(q, d->Q, W, &w0, &w1);
                const T share = gy[p * d->Q + q] / (T)kh / (T)(w1 - w0);
                for (int64_t h = h0; h < h1; ++h)
                    for (int64_t w = w0; w < w1; ++w) gx[h * W + w] += share;
            }
        }
    }
    return FC_OK;
}
