/* pool_max_tmpl.h -- max pooling for one dtype; included by pool_max.c with
 * T (float / double), SFX(name) (name##_f32 / name##_f64) and ROWS(isa) (the SIMD row
 * kernel of that dtype for that ISA) defined.
 *
 * torch's rule, which every path reproduces exactly: scan the window (clipped to the input)
 * in row-major order from best = -inf, index = first element; take an element when it is
 * greater than best or NaN. So the first maximum wins ties, a NaN wins over numbers (the last
 * NaN stays), and an all -inf window gives -inf at its first element.                        */

typedef int64_t (*SFX(rows_fn)) FC_MAXPOOL_ROWS_ARGS(T);

static SFX(rows_fn) SFX(pick_rows)(int isa)
{
#ifndef FC_ONLY_SCALAR
    if (isa >= FC_ISA_AVX512) return ROWS(avx512);
    if (isa >= FC_ISA_AVX2) return ROWS(avx2);
#else
    (void)isa;
#endif
    return NULL;
}

/* torch's update of a running maximum, best = v and at = e when v > best or v is NaN, as bit
 * selects rather than a branch: on real data "v > best" is a coin toss, and the mispredicted
 * branches made the edge column of the batch-16 ResNet stem (one output in 56) take a third
 * of the whole pooling time                                                                 */
static inline void SFX(take_if)(T v, int64_t e, T *best, int64_t *at)
{
    const int take = (v > *best) | (v != v);
    const TBITS m = (TBITS)0 - (TBITS)take;
    TBITS vb, bb;
    memcpy(&vb, &v, sizeof vb);
    memcpy(&bb, best, sizeof bb);
    bb = (vb & m) | (bb & ~m);
    memcpy(best, &bb, sizeof bb);
    const int64_t mi = -(int64_t)take;
    *at = (e & mi) | (*at & ~mi);
}

/* outputs q in [qa, qb) of output row p, any window: the portable path and the edges */
static void SFX(max_row_generic)(const fc_pool_desc *d, const T *xp, int64_t p, int64_t qa,
                                 int64_t qb, T *yrow, int64_t *irow)
{
    const int64_t W = d->W;
    int64_t h0 = p * d->stride_h - d->pad_h;
    const int64_t h1 = fc_min64(h0 + d->kh, d->H);
    h0 = fc_max64(h0, 0);
    for (int64_t q = qa; q < qb; ++q) {
        int64_t w0 = q * d->stride_w - d->pad_w;
        const int64_t w1 = fc_min64(w0 + d->kw, W);
        w0 = fc_max64(w0, 0);
        T best = -(T)INFINITY;
        int64_t at = h0 * W + w0;
        for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) SFX(take_if)(xp[h * W + w], h * W + w, &best, &at);
        yrow[q] = best;
        if (irow) irow[q] = at;
    }
}

/* column q of output rows [r0, r1) of one plane (an edge column, windows clipped at the
 * side): the rows whose windows are full height go FC_POOL_EDGE_ROWS at a time, their
 * running maxima side by side (one chain of dependent updates per row made this column of
 * the batch-16 ResNet stem a third of the pooling time); each output still scans its window
 * in torch's order. Rows clipped at the top or bottom go the generic way.                  */
#define FC_POOL_EDGE_ROWS 8
static void SFX(max_edge_column)(const fc_pool_desc *d, const T *xp, int64_t q, int64_t r0, int64_t r1,
                                 T *yp, int64_t *ip)
{
    const int64_t W = d->W, Q = d->Q, sh = d->stride_h, kh = d->kh;
    int64_t w0 = q * d->stride_w - d->pad_w;
    const int64_t w1 = fc_min64(w0 + d->kw, W);
    w0 = fc_max64(w0, 0);
    /* rows [fa, fb) of [r0, r1): windows full height */
    int64_t inside_lo, inside_hi;
    fc_pool_inside(d->P, d->H, kh, sh, d->pad_h, &inside_lo, &inside_hi);
    const int64_t fa = fc_min64(fc_max64(r0, inside_lo), r1), fb = fc_max64(fa, fc_min64(r1, inside_hi));
    for (int64_t p = r0; p < fa; ++p) SFX(max_row_generic)(d, xp, p, q, q + 1, yp + p * Q, ip ? ip + p * Q : NULL);
    int64_t p = fa;
    for (; p + FC_POOL_EDGE_ROWS <= fb; p += FC_POOL_EDGE_ROWS) {
        T best[FC_POOL_EDGE_ROWS];
        int64_t at[FC_POOL_EDGE_ROWS];
        const int64_t top = p * sh - d->pad_h;
        for (int j = 0; j < FC_POOL_EDGE_ROWS; ++j) {
            best[j] = -(T)INFINITY;
            at[j] = (top + j * sh) * W + w0;
        }
        for (int64_t r = 0; r < kh; ++r)
            for (int64_t w = w0; w < w1; ++w)
                for (int j = 0; j < FC_POOL_EDGE_ROWS; ++j) {
                    const int64_t e = (top + j * sh + r) * W + w;
                    SFX(take_if)(xp[e], e, &best[j], &at[j]);
                }
        for (int j = 0; j < FC_POOL_EDGE_ROWS; ++j) {
            yp[(p + j) * Q + q] = best[j];
            if (ip) ip[(p + j) * Q + q] = at[j];
        }
    }
    for (; p < r1; ++p) SFX(max_row_generic)(d, xp, p, q, q + 1, yp + p * Q, ip ? ip + p * Q : NULL);
}
#undef FC_POOL_EDGE_ROWS

/* output rows [r0, r1) of `nplanes` consecutive planes: the interior columns [lo, hi) (windows
 * inside the input horizontally) go to the SIMD kernel when there is one, in one call for all
 * the planes; the edge columns and whatever the kernel declines go the generic way */
static void SFX(max_planes)(const fc_pool_desc *d, SFX(rows_fn) simd, int64_t lo, int64_t hi,
                            const T *x, int64_t nplanes, int64_t r0, int64_t r1, T *y, int64_t *idx)
{
    const int64_t Q = d->Q, HW = d->H * d->W, PQ = d->P * d->Q;
    if (nplanes > 1 && simd && hi > lo && (lo > 0 || hi < Q) &&
        HW * (int64_t)sizeof(T) >= FC_POOL_EDGE_PLANE_BYTES) {
        /* edge columns on large planes: plane by plane, so that they are read while the plane
         * is still in cache (after one call over all the planes they came back from memory) */
        for (int64_t c = 0; c < nplanes; ++c)
            SFX(max_planes)(d, simd, lo, hi, x + c * HW, 1, r0, r1, y + c * PQ, idx ? idx + c * PQ : NULL);
        return;
    }
    const int64_t done = (simd && hi > lo) ? simd(d, x, nplanes, r0, r1, lo, hi - lo, y, idx) : 0;
    if (done && lo == 0 && hi == Q) return;
    for (int64_t c = 0; c < nplanes; ++c) {
        const T *xp = x + c * HW;
        T *yp = y + c * PQ;
        int64_t *ip = idx ? idx + c * PQ : NULL;
        if (done) {   /* the edge columns, each down all the rows */
            for (int64_t q = 0; q < lo; ++q) SFX(max_edge_column)(d, xp, q, r0, r1, yp, ip);
            for (int64_t q = hi; q < Q; ++q) SFX(max_edge_column)(d, xp, q, r0, r1, yp, ip);
            continue;
        }
        for (int64_t p = r0; p < r1; ++p)
            SFX(max_row_generic)(d, xp, p, 0, Q, yp + p * Q, ip ? ip + p * Q : NULL);
    }
}

int SFX(fc_maxpool2d_forward)(const fc_ctx *ctx, const fc_pool_desc *d, const T *x, T *y,
                              int64_t *indices)
{
    const int st = fc_pool_check_window(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0) return FC_OK;
    if (!x || !y) return FC_EINVAL;
    /* the SIMD kernels index in 32 bits */
    SFX(rows_fn) simd = HW <= INT32_MAX ? SFX(pick_rows)(fc_ctx_isa(ctx)) : NULL;
    int64_t lo, hi;   /* columns whose windows lie inside the input horizontally */
    fc_pool_inside(d->Q, d->W, d->kw, d->stride_w, d->pad_w, &lo, &hi);
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->P, planes * PQ * d->kh * d->kw);
    if (pl.chunks == 1) {
        /* whole planes: one contiguous range of them per thread, so small planes (late layers,
         * 7x7 outputs) cost one kernel call per thread rather than one per plane */
        const int64_t blocks = pl.nthreads;
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t c0 = planes * b / blocks, c1 = planes * (b + 1) / blocks;
            SFX(max_planes)(d, simd, lo, hi, x + c0 * HW, c1 - c0, 0, d->P, y + c0 * PQ,
                            indices ? indices + c0 * PQ : NULL);
        }
        return FC_OK;
    }
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->P, &plane, &r0, &r1);
        SFX(max_planes)(d, simd, lo, hi, x + plane * HW, 1, r0, r1, y + plane * PQ,
                        indices ? indices + plane * PQ : NULL);
    }
    return FC_OK;
}

/* grad_x rows [r0, r1) of one plane (H*W = HW elements): zero, then grad_y added at the
 * indices that fall there, in output order (torch's order, so sums where windows overlap are
 * the same bits) */
static void SFX(max_scatter_rows)(int64_t W, int64_t HW, int64_t PQ, const T *gy, const int64_t *idx,
                                  T *gx, int64_t r0, int64_t r1)
{
    const int64_t lo = r0 * W, hi = r1 * W;
    for (int64_t i = lo; i < hi; ++i) gx[i] = 0;
    if (lo == 0 && hi == HW) {
        /* the whole plane (the usual case): the indices were checked, no range test; the
         * streams of indices and gradients are fetched ahead, 8 indices (a line) at a time */
        int64_t i = 0;
        for (; i + 8 <= PQ; i += 8) {
            FC_POOL_PREFETCH(idx + i + 512);
            FC_POOL_PREFETCH(gy + i + 512);
            for (int64_t j = i; j < i + 8; ++j) gx[idx[j]] += gy[j];
        }
        for (; i < PQ; ++i) gx[idx[i]] += gy[i];
        return;
    }
    for (int64_t i = 0; i < PQ; ++i) {
        const int64_t at = idx[i];
        if (at >= lo && at < hi) gx[at] += gy[i];
    }
}

int SFX(fc_maxpool2d_backward)(const fc_ctx *ctx, const fc_pool_desc *d, const T *grad_y,
                               const int64_t *indices, T *grad_x)
{
    const int st = fc_pool_check_sizes(d);
    if (st != FC_OK) return st;
    const int64_t planes = d->N * d->C, HW = d->H * d->W, PQ = d->P * d->Q;
    if (planes == 0 || HW == 0) return (planes == 0 || PQ == 0) ? FC_OK : FC_EINVAL;
    if (!grad_x || (PQ > 0 && (!grad_y || !indices))) return FC_EINVAL;
    const fc_pool_plan pl = fc_pool_plan_make(ctx, planes, d->H, planes * (HW + PQ));

    /* every index is checked before anything is written */
    int (*indices_ok)(const int64_t *, int64_t, int64_t) = fc_pool_indices_ok_scalar;
#ifndef FC_ONLY_SCALAR
    if (fc_ctx_isa(ctx) >= FC_ISA_AVX512) indices_ok = fc_pool_indices_ok_avx512;
    else if (fc_ctx_isa(ctx) >= FC_ISA_AVX2) indices_ok = fc_pool_indices_ok_avx2;
#endif
    int bad = 0;
#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1) reduction(| : bad)
#endif
    for (int64_t plane = 0; plane < planes; ++plane)
        bad |= !indices_ok(indices + plane * PQ, PQ, HW);
    if (bad) return FC_EINVAL;

#ifdef FC_HAVE_OPENMP
#pragma omp parallel for schedule(static) num_threads(pl.nthreads) if (pl.nthreads > 1)
#endif
    for (int64_t it = 0; it < pl.items; ++it) {
        int64_t plane, r0, r1;
        fc_pool_item(&pl, it, d->H, &plane, &r0, &r1);
        SFX(max_scatter_rows)(d->W, HW, PQ, grad_y + plane * PQ, indices + plane * PQ,
                              grad_x + plane * HW, r0, r1);
    }
    return FC_OK;
}
