/* conv_winograd_tmpl.h -- body of conv_winograd.c for one element type FC_T (suffix FC_SFX,
 * GEMM FC_GEMM).                                                                            */
#define WD(base) FC_CAT(base, FC_SFX)
#define WD_ISA(base, isa) FC_CAT(FC_CAT(base, FC_SFX), isa)

static void WD(wino_input_dispatch)(int isa, const fc_conv_desc *d, const fc_wino_group *g,
                                    const FC_T *x, FC_T *v, int64_t ld_xi, int64_t ld_c)
{
#ifndef FC_ONLY_SCALAR
    if (isa == FC_ISA_AVX512) { WD_ISA(fc_wino_input, _avx512)(d, g, x, v, ld_xi, ld_c); return; }
    if (isa == FC_ISA_AVX2) { WD_ISA(fc_wino_input, _avx2)(d, g, x, v, ld_xi, ld_c); return; }
#else
    (void)isa;
#endif
    WD_ISA(fc_wino_input, _scalar)(d, g, x, v, ld_xi, ld_c);
}

static void WD(wino_output_dispatch)(int isa, const fc_conv_desc *d, const fc_wino_group *g,
                                     const FC_T *m, int64_t ld_xi, int64_t ld_k, int64_t k0,
                                     int64_t kb, const FC_T *bias, int relu, FC_T *y)
{
#ifndef FC_ONLY_SCALAR
    if (isa == FC_ISA_AVX512) {
        WD_ISA(fc_wino_output, _avx512)(d, g, m, ld_xi, ld_k, k0, kb, bias, relu, y);
        return;
    }
    if (isa == FC_ISA_AVX2) {
        WD_ISA(fc_wino_output, _avx2)(d, g, m, ld_xi, ld_k, k0, kb, bias, relu, y);
        return;
    }
#else
    (void)isa;
#endif
    WD_ISA(fc_wino_output, _scalar)(d, g, m, ld_xi, ld_k, k0, kb, bias, relu, y);
}

/* U[xi][k][c] = (G g_{k,c} G^T)[xi], computed in double whatever FC_T (the 1/6 and 1/24 of G
 * are rounded once, at the end). Rows of U[xi] are the A operand of GEMM xi.                 */
static void WD(wino_weights)(const FC_T *w, int64_t K, int64_t C, FC_T *U, int nthr)
{
    (void)nthr;
    FC_PRAGMA_OMP_FOR(nthr, K * C >= 256)
    for (int64_t k = 0; k < K; k++) {
        for (int64_t c = 0; c < C; c++) {
            const FC_T *g = w + (k * C + c) * 9;
            double t[FC_WINO_A][3], u[FC_WINO_A][FC_WINO_A];
            for (int s = 0; s < 3; s++) {   /* t = G g, column s */
                const double g0 = g[s], g1 = g[3 + s], g2 = g[6 + s];
                fc_wino_g_col(g0, g1, g2, &t[0][s], 3);
            }
            for (int i = 0; i < FC_WINO_A; i++)   /* u = t G^T, row i */
                fc_wino_g_col(t[i][0], t[i][1], t[i][2], &u[i][0], 1);
            for (int i = 0; i < FC_WINO_A; i++)
                for (int j = 0; j < FC_WINO_A; j++)
                    U[((int64_t)(i * FC_WINO_A + j) * K + k) * C + c] = (FC_T)u[i][j];
        }
    }
}

/* one job: tiles [t0, t0 + tn) of the flattened (image, tile row, tile column) order, output
 * channels [k0, k0 + kb). V (36 x C x ld) and M (36 x kb x ld) are the thread's workspace.  */
static int WD(wino_job)(const fc_ctx *inner, const fc_conv_desc *d, const wino_plan *pl,
                        const FC_T *x, const FC_T *U, const FC_T *bias, int relu, FC_T *y,
                        int64_t t0, int64_t tn, int64_t k0, int64_t kb, FC_T *V, FC_T *M)
{
    const int64_t C = d->C, K = d->K, ld = pl->ld;
    const int isa = fc_ctx_isa(inner);
    fc_wino_group g;
    for (int64_t s = 0; s < tn; s += FC_WINO_LANES) {
        wino_make_group(d, pl, t0 + s, fc_min64(FC_WINO_LANES, tn - s), &g);
        WD(wino_input_dispatch)(isa, d, &g, x, V + s, C * ld, ld);
    }
    for (int xi = 0; xi < FC_WINO_XI; xi++) {
        const int st = FC_GEMM(inner, 0, 0, kb, tn, C, 1, U + ((int64_t)xi * K + k0) * C, C,
                               V + xi * C * ld, ld, 0, M + xi * kb * ld, ld);
        if (st != FC_OK) return st;
    }
    for (int64_t s = 0; s < tn; s += FC_WINO_LANES) {
        wino_make_group(d, pl, t0 + s, fc_min64(FC_WINO_LANES, tn - s), &g);
        WD(wino_output_dispatch)(isa, d, &g, M + s, kb * ld, ld, k0, kb, bias, relu, y);
    }
    return FC_OK;
}

int WD(fc_conv2d_forward_winograd)(const fc_ctx *ctx, const fc_conv_desc *d, const FC_T *x,
                                   const FC_T *w, const FC_T *bias, int flags, FC_T *y)
{
    fc_conv_sizes_t sz;
    int st = wino_check(d, flags, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(y, sz.y))
        return FC_EINVAL;
    if (sz.y == 0) return FC_OK;
    const int relu = flags & FC_FUSE_RELU;
    const int64_t K = d->K, C = d->C;
    if (C == 0) {   /* empty sum: the output is the bias */
        for (int64_t n = 0; n < d->N; n++)
            for (int64_t k = 0; k < K; k++) {
                FC_T b = bias ? bias[k] : (FC_T)0;
                if (relu && b < 0) b = 0;
                FC_T *row = y + (n * K + k) * sz.pq;
                for (int64_t i = 0; i < sz.pq; i++) row[i] = b;
            }
        return FC_OK;
    }
    const int nthr = fc_ctx_threads(ctx);
    wino_plan pl;
    st = wino_make_plan(d, (int64_t)sizeof(FC_T), nthr, &pl);
    if (st != FC_OK) return st;
    FC_T *U = (FC_T *)fc_aligned_alloc(pl.u_elems * (int64_t)sizeof(FC_T));
    FC_T *ws = (FC_T *)fc_aligned_alloc(pl.nws * pl.ws_elems * (int64_t)sizeof(FC_T));
    if (U == NULL || ws == NULL) {
        fc_aligned_free(U);
        fc_aligned_free(ws);
        return FC_ENOMEM;
    }
    WD(wino_weights)(w, K, C, U, nthr);
    const fc_ctx inner = {fc_ctx_isa(ctx), 1};
    const int64_t njobs = pl.nblocks * pl.ksplit;
    int err = FC_OK;
    FC_PRAGMA_OMP_FOR(nthr, pl.nws > 1)
    for (int64_t job = 0; job < njobs; job++) {
        const int64_t b = job / pl.ksplit, ks = job % pl.ksplit;
        const int64_t t0 = b * pl.T, tn = fc_min64(pl.T, pl.ntiles - t0);
        const int64_t k0 = ks * pl.kb, kb = fc_min64(pl.kb, K - k0);
        FC_T *V = ws + (int64_t)FC_OMP_THREAD_NUM() * pl.ws_elems;
        FC_T *M = V + pl.v_elems;
        if (kb <= 0) continue;
        const int s2 = WD(wino_job)(&inner, d, &pl, x, U, bias, relu, y, t0, tn, k0, kb, V, M);
        if (s2 != FC_OK) {
            FC_PRAGMA_OMP_CRITICAL
            err = s2;
        }
    }
    fc_aligned_free(ws);
    fc_aligned_free(U);
    return err;
}

#undef WD
#undef WD_ISA
