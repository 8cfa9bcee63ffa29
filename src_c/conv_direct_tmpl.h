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
                            d->pad_h, d->pad_w, sz.crs, sz.rs, d->S, 1, sz.pq, d->Q, 1};
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
                                    sz->hw, sh * W, sw};
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
