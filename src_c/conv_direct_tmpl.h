/* conv_direct_tmpl.h -- body of conv_direct.c for one element type FC_T (suffix FC_SFX). */
#define FC_NAME(base) FC_CAT(base, FC_SFX)

#ifdef FC_ONLY_SCALAR
#define FC_ISA_CALL(isa, base, args) FC_CAT(FC_NAME(base), _scalar) args
#else
#define FC_ISA_CALL(isa, base, args)                                                     \
    ((isa) == FC_ISA_AVX512 ? FC_CAT(FC_NAME(base), _avx512) args                       \
     : (isa) == FC_ISA_AVX2 ? FC_CAT(FC_NAME(base), _avx2) args                         \
                            : FC_CAT(FC_NAME(base), _scalar) args)
#endif

/* Rows per job: enough work per job to amortise the call, small enough to balance threads. */
static int64_t FC_NAME(band_rows)(int64_t rows, int64_t width)
{
    int64_t band = 256 / (width > 0 ? width : 1);
    if (band < 1) band = 1;
    return band < rows ? band : (rows > 0 ? rows : 1);
}

/* Run the correlation kernel over n_img images x blocks of FC_CORR_MAX_OB output channels x
 * bands of output rows, as one static parallel loop.                                       */
static void FC_NAME(corr_all)(const fc_ctx *ctx, const fc_corr_geom *g, int64_t n_img,
                              int64_t OC, const FC_T *in, int64_t in_img, const FC_T *wbase,
                              const FC_T *init, int relu, FC_T *out, int64_t out_img)
{
    const int isa = fc_ctx_isa(ctx);
    const int nt = fc_ctx_threads(ctx);
    const int64_t nob = (OC + FC_CORR_MAX_OB - 1) / FC_CORR_MAX_OB;
    const int64_t band = FC_NAME(band_rows)(g->Hout, g->Wout);
    const int64_t nbands = (g->Hout + band - 1) / band;
    const int64_t njobs = n_img * nob * nbands;
    (void)nt;
    FC_PRAGMA_OMP_FOR(nt, njobs > 1)
    for (int64_t t = 0; t < njobs; t++) {
        /* channel blocks innermost: a band of input rows stays in L2 while every block of
         * output channels reads it; threads split the rows                               */
        const int64_t n = t / (nob * nbands), rest = t % (nob * nbands);
        const int64_t bi = rest / nob, ob = rest % nob;
        const int64_t o0 = ob * FC_CORR_MAX_OB, nb = fc_min64(FC_CORR_MAX_OB, OC - o0);
        const int64_t i0 = bi * band, i1 = fc_min64(g->Hout, i0 + band);
        FC_ISA_CALL(isa, fc_corr_rows, (g, in + n * in_img, wbase, init, relu, o0, nb, i0, i1,
                                        out + n * out_img));
    }
}

#define FC_DIRECT_SPLIT_BYTES ((int64_t)1 << 18)
#define FC_DIRECT_SPLIT_SLACK 16   /* lanes a block may read past its last output: >= any CV_VL */

/* input columns e and e + 1 of a row (zero outside [0, W)) into *even and *odd */
static inline void FC_NAME(split_edge)(const FC_T *src, int64_t W, int64_t e, FC_T *even, FC_T *odd)
{
    *even = e >= 0 && e < W ? src[e] : (FC_T)0;
    *odd = e + 1 >= 0 && e + 1 < W ? src[e + 1] : (FC_T)0;
}

/* even[m], odd[m] (m < half) = input columns 2m - ow and 2m + 1 - ow of a row of W, zero outside
 * it. Both are inside for m in [m_lo, m_hi): a plain deinterleave there (vectorised), the
 * bounds tested only at the ends.                                                          */
static void FC_NAME(split_row)(const FC_T *src, int64_t W, int64_t ow, int64_t half, FC_T *even, FC_T *odd)
{
    const int64_t m_lo = fc_min64(half, ow <= 0 ? 0 : (ow + 1) / 2);
    const int64_t m_hi = fc_max64(m_lo, fc_min64(half, W + ow >= 1 ? (W + ow) / 2 : 0));
    for (int64_t m = 0; m < m_lo; m++) FC_NAME(split_edge)(src, W, 2 * m - ow, even + m, odd + m);
    if (m_hi > m_lo) {
        const FC_T *src_lo = src + 2 * m_lo - ow;
        for (int64_t m = 0; m < m_hi - m_lo; m++) {
            even[m_lo + m] = src_lo[2 * m];
            odd[m_lo + m] = src_lo[2 * m + 1];
        }
    }
    for (int64_t m = m_hi; m < half; m++) FC_NAME(split_edge)(src, W, 2 * m - ow, even + m, odd + m);
}

/* Horizontal stride 2 on SIMD paths: each job (an image's band of output rows) first copies
 * the input rows the band reads into a per-thread buffer, every row split into its even and
 * odd columns with the padding written as zeros (fc_corr_geom.split_w). The micro-kernels
 * then load each tap's pixels with one vector load instead of two loads and a shuffle, and
 * never mask. Same taps, same order of FMAs: the results are those of the unsplit path.
 * Returns -1 (nothing done) when the buffer would pass FC_DIRECT_SPLIT_BYTES per thread. */
static int FC_NAME(forward_split)(const fc_ctx *ctx, const fc_corr_geom *g0, int64_t n_img, int64_t OC,
                                  const FC_T *in, int64_t in_img, const FC_T *w, const FC_T *bias,
                                  int relu, FC_T *out, int64_t out_img)
{
    const int isa = fc_ctx_isa(ctx);
    const int nt = fc_ctx_threads(ctx);
    const int64_t C = g0->IC, H = g0->Hin, W = g0->Win, P = g0->Hout, Q = g0->Wout;
    const int64_t R = g0->R, S = g0->S, sh = g0->sh, oh = g0->oh, ow = g0->ow;
    const int64_t lim = FC_DIRECT_SPLIT_BYTES;   /* each factor first: no product can overflow */
    if (isa == FC_ISA_SCALAR || g0->sw != 2 || C > lim || Q > lim || S > lim || R > lim || sh > lim)
        return -1;
    const int64_t band = FC_NAME(band_rows)(P, Q), nbands = (P + band - 1) / band;
    const int64_t rows_max = fc_min64(H, (band - 1) * sh + R);
    /* even half m holds padded column 2m (input column 2m - ow): taps reach m = j + s/2 for
     * j < Q rounded up to whole vectors */
    const int64_t half = (Q + FC_DIRECT_SPLIT_SLACK - 1) / FC_DIRECT_SPLIT_SLACK * FC_DIRECT_SPLIT_SLACK
                         + (S + 1) / 2;
    const int64_t per_thread = C * rows_max * 2 * half;
    if (per_thread * (int64_t)sizeof(FC_T) > lim) return -1;
    FC_T *ws = (FC_T *)fc_aligned_alloc((int64_t)nt * per_thread * (int64_t)sizeof(FC_T));
    if (ws == NULL) return FC_ENOMEM;
    const int64_t nob = (OC + FC_CORR_MAX_OB - 1) / FC_CORR_MAX_OB, njobs = n_img * nbands;
    (void)nt;
    FC_PRAGMA_OMP_FOR(nt, njobs > 1)
    for (int64_t t = 0; t < njobs; t++) {
        const int64_t n = t / nbands, i0 = (t % nbands) * band, i1 = fc_min64(P, i0 + band);
        /* the input rows [hlo, hhi) the band's windows reach */
        const int64_t hlo = fc_max64(0, i0 * sh - oh), hhi = fc_max64(hlo, fc_min64(H, (i1 - 1) * sh - oh + R));
        const int64_t rows = hhi - hlo;
        FC_T *buf = ws + (int64_t)FC_OMP_THREAD_NUM() * per_thread;
        const FC_T *x_n = in + n * in_img;
        for (int64_t c = 0; c < C; c++)
            for (int64_t b = 0; b < rows; b++) {
                FC_T *even = buf + (c * rows + b) * 2 * half;
                FC_NAME(split_row)(x_n + (c * H + hlo + b) * W, W, ow, half, even, even + half);
            }
        fc_corr_geom g = *g0;
        g.Hin = rows;
        g.Win = 2 * half;
        g.oh = oh + hlo - i0 * sh;   /* buffer row of output row i0 + i, kernel row r: i*sh + r - g.oh */
        g.ow = 0;
        g.split_w = half;
        FC_T *out_n = out + n * out_img + i0 * g.out_rs;
        for (int64_t ob = 0; ob < nob; ob++) {
            const int64_t o0 = ob * FC_CORR_MAX_OB, nb = fc_min64(FC_CORR_MAX_OB, OC - o0);
            FC_ISA_CALL(isa, fc_corr_rows, (&g, buf, w, bias, relu, o0, nb, 0, i1 - i0, out_n));
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}
#undef FC_DIRECT_SPLIT_BYTES
#undef FC_DIRECT_SPLIT_SLACK

int FC_NAME(fc_conv2d_forward_direct)(const fc_ctx *ctx, const fc_conv_desc *d, const FC_T *x,
                                      const FC_T *w, const FC_T *bias, int flags, FC_T *y)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(y, sz.y) ||
        (flags & ~FC_FUSE_RELU) != 0)
        return FC_EINVAL;
    if (sz.y == 0) return FC_OK;
    const fc_corr_geom g = {d->C, d->H, d->W, d->P, d->Q, d->R, d->S, d->stride_h, d->stride_w,
                            d->pad_h, d->pad_w, sz.crs, sz.rs, d->S, 1, sz.pq, d->Q, 1, 0};
    st = FC_NAME(forward_split)(ctx, &g, d->N, d->K, x, d->C * sz.hw, w, bias, flags & FC_FUSE_RELU, y,
                                d->K * sz.pq);
    if (st >= 0) return st;
    FC_NAME(corr_all)(ctx, &g, d->N, d->K, x, d->C * sz.hw, w, bias, flags & FC_FUSE_RELU, y,
                      d->K * sz.pq);
    return FC_OK;
}

/* Output rows of one phase a of a stride-s transposed convolution: u = h + pad = a + s*u',
 * u' in [lo, lo + n); the kernel rows reaching them are r = a + s*rho, rho < taps.         */
typedef struct {
    int64_t taps, lo, n, first;   /* first = the output coordinate of u' = lo */
} FC_NAME(phase_t);

static FC_NAME(phase_t) FC_NAME(phase)(int64_t a, int64_t stride, int64_t pad, int64_t k, int64_t len)
{
    FC_NAME(phase_t) ph;
    ph.taps = k > a ? (k - a + stride - 1) / stride : 0;
    ph.lo = pad - a > 0 ? (pad - a + stride - 1) / stride : 0;
    const int64_t lim = len + pad - a;   /* a + s*u' < len + pad */
    const int64_t hi = lim > 0 ? (lim + stride - 1) / stride : 0;
    ph.n = hi > ph.lo ? hi - ph.lo : 0;
    ph.first = a + stride * ph.lo - pad;
    return ph;
}

/* grad_x[n, c, h, w] = sum over k, r, s with h + ph = p*sh + r, w + pw = q*sw + s of
 * grad_y[n, k, p, q] * w[k, c, r, s]. With h + ph = a + sh*u', only r = a + sh*rho contribute,
 * from p = u' - rho: for each phase (a, b) of the output grid, a stride-1 full correlation of
 * grad_y with the sub-kernel w[k, c, a + sh*rho, b + sw*sigma] read backwards, written to the
 * strided sub-grid of grad_x it covers. Every grad_x element is in exactly one phase.      */
static void FC_NAME(grad_input_phases)(const fc_ctx *ctx, const fc_conv_desc *d,
                                       const fc_conv_sizes_t *sz, const FC_T *gy,
                                       const FC_T *w, FC_T *gx)
{
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, R = d->R, S = d->S;
    const int64_t sh = d->stride_h, sw = d->stride_w;
    for (int64_t a = 0; a < sh; a++) {
        const FC_NAME(phase_t) pr = FC_NAME(phase)(a, sh, d->pad_h, R, H);
        if (pr.n == 0) continue;
        for (int64_t b = 0; b < sw; b++) {
            const FC_NAME(phase_t) pc = FC_NAME(phase)(b, sw, d->pad_w, S, W);
            if (pc.n == 0) continue;
            FC_T *base = gx + pr.first * W + pc.first;
            if (pr.taps == 0 || pc.taps == 0) {   /* no tap reaches this phase */
                for (int64_t t = 0; t < N * C; t++)
                    for (int64_t i = 0; i < pr.n; i++)
                        for (int64_t j = 0; j < pc.n; j++) base[t * sz->hw + i * sh * W + j * sw] = 0;
                continue;
            }
            const fc_corr_geom g = {K, d->P, d->Q, pr.n, pc.n, pr.taps, pc.taps, 1, 1,
                                    pr.taps - 1 - pr.lo, pc.taps - 1 - pc.lo,
                                    sz->rs, sz->crs, -sh * S, -sw,
                                    sz->hw, sh * W, sw, 0};
            const FC_T *wlast = w + (a + sh * (pr.taps - 1)) * S + b + sw * (pc.taps - 1);
            FC_NAME(corr_all)(ctx, &g, N, C, gy, K * sz->pq, wlast, NULL, 0, base, C * sz->hw);
        }
    }
}

int FC_NAME(fc_conv2d_grad_input_direct)(const fc_ctx *ctx, const fc_conv_desc *d,
                                         const FC_T *grad_y, const FC_T *w, FC_T *grad_x)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(grad_x, sz.x))
        return FC_EINVAL;
    if (sz.x == 0) return FC_OK;
    if (sz.w == 0 || sz.y == 0) {   /* empty reduction: grad_x is zero */
        for (int64_t i = 0; i < sz.x; i++) grad_x[i] = 0;
        return FC_OK;
    }
    /* stride 1 is the single phase (0, 0) */
    FC_NAME(grad_input_phases)(ctx, d, &sz, grad_y, w, grad_x);
    return FC_OK;
}

/* grad_w[k, c, r, s] = sum_{n, p, q} grad_y[n, k, p, q] * x[n, c, p*sh + r - ph, q*sw + s - pw].
 * Jobs are (block of k, c) pairs: each owns its grad_w entries and sums images in order, so
 * the result does not depend on the thread count.                                          */
#define FC_GW_KB 16
int FC_NAME(fc_conv2d_grad_weight_direct)(const fc_ctx *ctx, const fc_conv_desc *d,
                                          const FC_T *grad_y, const FC_T *x, FC_T *grad_w)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(grad_w, sz.w))
        return FC_EINVAL;
    if (sz.w == 0) return FC_OK;
    const int isa = fc_ctx_isa(ctx);
    const int nt = fc_ctx_threads(ctx);
    const int64_t K = d->K, C = d->C, N = d->N;
    const int64_t nkb = (K + FC_GW_KB - 1) / FC_GW_KB;
    (void)nt;
    FC_PRAGMA_OMP_FOR(nt, nkb * C > 1)
    for (int64_t t = 0; t < nkb * C; t++) {
        const int64_t kbi = t / C, c = t % C;
        const int64_t k0 = kbi * FC_GW_KB, kb = fc_min64(FC_GW_KB, K - k0);
        FC_T *acc = grad_w + (k0 * C + c) * sz.rs;
        for (int64_t kk = 0; kk < kb; kk++)
            for (int64_t i = 0; i < sz.rs; i++) acc[kk * C * sz.rs + i] = 0;
        for (int64_t n = 0; n < N; n++)
            FC_ISA_CALL(isa, fc_conv_gw_accum, (d, grad_y + n * K * sz.pq,
                                                x + (n * C + c) * sz.hw, k0, kb, acc, C * sz.rs));
    }
    return FC_OK;
}
#undef FC_GW_KB

#undef FC_ISA_CALL
#undef FC_NAME
