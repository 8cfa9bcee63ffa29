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
                            d->pad_h, d->pad_w, sz.crs, sz.rs, d->S, 1};
    FC_NAME(corr_all)(ctx, &g, d->N, d->K, x, d->C * sz.hw, w, bias, flags & FC_FUSE_RELU, y,
                      d->K * sz.pq);
    return FC_OK;
}

/* grad_x[n, c, h, w] = sum_{k, r, s : p = (h + ph - r) / sh, q = (w + pw - s) / sw exact and in
 * range} grad_y[n, k, p, q] * w[k, c, r, s]. Strided case: one (n, c) plane per job.          */
static void FC_NAME(grad_input_strided)(const fc_ctx *ctx, const fc_conv_desc *d,
                                        const fc_conv_sizes_t *sz, const FC_T *gy,
                                        const FC_T *w, FC_T *gx)
{
    const int64_t N = d->N, C = d->C, H = d->H, W = d->W, K = d->K, R = d->R, S = d->S;
    const int64_t P = d->P, Q = d->Q, sh = d->stride_h, sw = d->stride_w;
    const int64_t ph = d->pad_h, pw = d->pad_w;
    const int nt = fc_ctx_threads(ctx);
    (void)nt;
    FC_PRAGMA_OMP_FOR(nt, N * C > 1)
    for (int64_t t = 0; t < N * C; t++) {
        const int64_t n = t / C, c = t % C;
        FC_T *plane = gx + t * sz->hw;
        for (int64_t h = 0; h < H; h++) {
            for (int64_t x = 0; x < W; x++) {
                FC_T acc = 0;
                for (int64_t k = 0; k < K; k++) {
                    const FC_T *gk = gy + (n * K + k) * sz->pq;
                    const FC_T *wk = w + (k * C + c) * sz->rs;
                    for (int64_t r = 0; r < R; r++) {
                        const int64_t u = h + ph - r;
                        if (u < 0 || u % sh != 0 || u / sh >= P) continue;
                        for (int64_t s = 0; s < S; s++) {
                            const int64_t v = x + pw - s;
                            if (v < 0 || v % sw != 0 || v / sw >= Q) continue;
                            acc += gk[(u / sh) * Q + v / sw] * wk[r * S + s];
                        }
                    }
                }
                plane[h * W + x] = acc;
            }
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
    if (d->stride_h == 1 && d->stride_w == 1) {
        /* a full correlation of grad_y with the kernel flipped and transposed (c <-> k): read
         * w backwards from its last tap, so no transposed copy is needed                     */
        const fc_corr_geom g = {d->K, d->P, d->Q, d->H, d->W, d->R, d->S, 1, 1,
                                d->R - 1 - d->pad_h, d->S - 1 - d->pad_w,
                                sz.rs, sz.crs, -d->S, -1};
        const FC_T *wlast = w + (d->R - 1) * d->S + (d->S - 1);
        FC_NAME(corr_all)(ctx, &g, d->N, d->C, grad_y, d->K * sz.pq, wlast, NULL, 0, grad_x,
                          d->C * sz.hw);
    } else {
        FC_NAME(grad_input_strided)(ctx, d, &sz, grad_y, w, grad_x);
    }
    return FC_OK;
}

/* grad_w[k, c, r, s] = sum_{n, p, q} grad_y[n, k, p, q] * x[n, c, p*sh + r - ph, q*sw + s - pw].
 * Jobs are (block of k, c) pairs: each owns its grad_w entries and sums images in order, so
 * the result does not depend on the thread count.                                          */
#define FC_GW_KB 4
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
