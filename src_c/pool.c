/* pool.c -- what every pooling op shares: descriptor validation and the thread split.
 * The ops themselves are in pool_max.c and pool_avg.c.                                     */
#include "pool_internal.h"

#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif

/* floor(a / b) for b > 0 (C's division truncates toward zero) */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t fc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int ceil_mode)
{
    if (in < 0 || k < 1 || stride < 1 || pad < 0) return -1;
    if (in > INT64_MAX / 4 || k > INT64_MAX / 4 || stride > INT64_MAX / 4 || pad > INT64_MAX / 8)
        return -1;
    int64_t out = floor_div(in + 2 * pad - k + (ceil_mode ? stride - 1 : 0), stride) + 1;
    if (ceil_mode && out > 0 && (out - 1) * stride >= in + pad) --out;
    return out;
}

static int count_fits(int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t t;
    return fc_mul_overflow(a, b, &t) == FC_OK && fc_mul_overflow(t, c, &t) == FC_OK &&
           fc_mul_overflow(t, d, &t) == FC_OK;
}

int fc_pool_check_sizes(const fc_pool_desc *d)
{
    if (!d) return FC_EINVAL;
    if (d->N < 0 || d->C < 0 || d->H < 0 || d->W < 0 || d->P < 0 || d->Q < 0) return FC_EINVAL;
    if (!count_fits(d->N, d->C, d->H, d->W) || !count_fits(d->N, d->C, d->P, d->Q))
        return FC_EOVERFLOW;
    return FC_OK;
}

static int axis_ok(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t out)
{
    if (in < 1 || k < 1 || stride < 1 || pad < 0 || pad > k / 2) return 0;
    if (out < 1) return 0;
    return out == fc_pool_out_size(in, k, stride, pad, 0) || out == fc_pool_out_size(in, k, stride, pad, 1);
}

int fc_pool_check_window(const fc_pool_desc *d)
{
    int st = fc_pool_check_sizes(d);
    if (st != FC_OK) return st;
    if (!axis_ok(d->H, d->kh, d->stride_h, d->pad_h, d->P)) return FC_EINVAL;
    if (!axis_ok(d->W, d->kw, d->stride_w, d->pad_w, d->Q)) return FC_EINVAL;
    return FC_OK;
}

/* below this many element visits a parallel region costs more than it saves */
#define POOL_MIN_WORK_PER_THREAD 16384

fc_pool_plan fc_pool_plan_make(const fc_ctx *ctx, int64_t planes, int64_t rows, int64_t work)
{
    fc_pool_plan pl = {planes, 1, 1};
    int64_t nt = fc_ctx_threads(ctx);
#ifdef FC_HAVE_OPENMP
    if (omp_in_parallel()) nt = 1;   /* never nest parallel regions */
#else
    nt = 1;
#endif
    nt = fc_min64(nt, work / POOL_MIN_WORK_PER_THREAD + 1);
    if (nt <= 1 || planes <= 0) return pl;
    if (planes < 2 * nt && rows > 1) {
        /* few planes (batch 1, few channels): also cut rows, a few chunks per thread so the
         * static schedule stays balanced */
        pl.chunks = fc_min64(rows, (4 * nt + planes - 1) / planes);
        pl.items = planes * pl.chunks;
    }
    pl.nthreads = (int)fc_min64(nt, pl.items);
    return pl;
}
