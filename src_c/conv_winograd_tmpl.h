/* conv_winograd_tmpl.h -- body of conv_winograd.c for one element type FC_T (suffix FC_SFX,
 * GEMM FC_GEMM, the pre-packed B entry with k_order).                                         */
#define WD(base) FC_CAT(base, FC_SFX)
#define WD_ISA(base, isa) FC_CAT(FC_CAT(base, FC_SFX), isa)

static void WD(wino_input_dispatch)(int isa, const fc_conv_desc *d, const fc_wino_group *g,
                                    const FC_T *x, int64_t c0, int64_t c1, FC_T *v, int64_t ld_xi,
                                    int64_t ld_c)
{
#ifndef FC_ONLY_SCALAR
    if (isa == FC_ISA_AVX512) { WD_ISA(fc_wino_input, _avx512)(d, g, x, c0, c1, v, ld_xi, ld_c); return; }
    if (isa == FC_ISA_AVX2) { WD_ISA(fc_wino_input, _avx2)(d, g, x, c0, c1, v, ld_xi, ld_c); return; }
#else
    (void)isa;
#endif
    WD_ISA(fc_wino_input, _scalar)(d, g, x, c0, c1, v, ld_xi, ld_c);
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

/* U[xi*ld_xi + k*C + c] = (G g_{k,c} G^T)[xi] for k in [k0, k1), rows of the A operand of
 * GEMM xi                                                                                  */
static void WD(wino_weights_rows)(int isa, const FC_T *w, int64_t C, int64_t k0, int64_t k1,
                                  FC_T *U, int64_t ld_xi)
{
#ifndef FC_ONLY_SCALAR
    if (isa == FC_ISA_AVX512) { WD_ISA(fc_wino_weights, _avx512)(w, C, k0, k1, U, ld_xi); return; }
    if (isa == FC_ISA_AVX2) { WD_ISA(fc_wino_weights, _avx2)(w, C, k0, k1, U, ld_xi); return; }
#else
    (void)isa;
#endif
    WD_ISA(fc_wino_weights, _scalar)(w, C, k0, k1, U, ld_xi);
}

/* V[c][xi][t] of tiles [t0, t0 + tn) for channels [c0, c1) (stride pl->ld between xi, ld_ch
 * between channels); the 36 values a transform writes for one channel and tile sit ld
 * elements apart, in one contiguous stretch (GEMM xi reads rows ld_ch apart instead)      */
static void WD(wino_fill_v)(int isa, const fc_conv_desc *d, const wino_plan *pl, const FC_T *x,
                            int64_t t0, int64_t tn, int64_t c0, int64_t c1, FC_T *V)
{
    fc_wino_group g;
    for (int64_t s = 0; s < tn; s += g.cnt) {
        wino_make_group(d, pl, t0 + s, wino_group_len(pl, t0 + s, tn - s), &g);
        WD(wino_input_dispatch)(isa, d, &g, x, c0, c1, V + s, pl->ld, pl->ld_ch);
    }
}

/* Vp[xi] = V[xi] (C x tn, rows ld_ch apart) in the GEMM's packed layout, for xi in [x0, x1) */
static void WD(wino_pack_v)(int isa, const wino_plan *pl, int64_t C, int64_t tn, FC_T *V, int x0, int x1)
{
    FC_T *Vp = V + pl->vp_off;
    for (int xi = x0; xi < x1; xi++)
        fc_gemm_pack_b(isa, sizeof(FC_T) == sizeof(double), C, tn, V + xi * pl->ld, pl->ld_ch,
                       Vp + xi * pl->vp_xi);
}

/* tiles [t0, t0 + tn) whose V is filled and packed, output channels [k0, k0 + kb), in chunks of pl->kc
 * channels so that a chunk's M stays in L2. Workspace: M[k][xi][t] (kc x ld_ch) and in inline
 * mode the chunk's U (36 x kc x C), transformed here into Uc; otherwise U holds every
 * transformed filter.                                                                      */
static int WD(wino_channels)(const fc_ctx *inner, const fc_conv_desc *d, const wino_plan *pl,
                             const FC_T *V, const FC_T *w, const FC_T *U, const FC_T *bias, int relu,
                             FC_T *y, int64_t t0, int64_t tn, int64_t k0, int64_t kb, FC_T *M, FC_T *Uc)
{
    const int64_t C = d->C, ld = pl->ld;
    const int isa = fc_ctx_isa(inner);
    fc_wino_group g;
    for (int64_t kc0 = k0; kc0 < k0 + kb; kc0 += pl->kc) {
        const int64_t kc = fc_min64(pl->kc, k0 + kb - kc0);
        const FC_T *A;         /* row kc0 of U[0] */
        int64_t a_xi;          /* stride between U[xi] and U[xi + 1] */
        if (pl->inline_w) {
            a_xi = kc * C + FC_WINO_U_PAD;
            WD(wino_weights_rows)(isa, w + kc0 * C * 9, C, 0, kc, Uc, a_xi);
            A = Uc;
        } else {
            A = U + kc0 * C;
            a_xi = pl->u_ld;
        }
        const FC_T *Vp = V + pl->vp_off;
        for (int xi = 0; xi < FC_WINO_XI; xi++) {
            /* k-ordered sums: tn, the block's tiles, depends on the thread count */
            const int st = FC_GEMM(inner, 1, kc, tn, C, 1, A + xi * a_xi, C, Vp + xi * pl->vp_xi, 0,
                                   M + xi * ld, pl->ld_ch);
            if (st != FC_OK) return st;
        }
        for (int64_t s = 0; s < tn; s += g.cnt) {
            wino_make_group(d, pl, t0 + s, wino_group_len(pl, t0 + s, tn - s), &g);
            WD(wino_output_dispatch)(isa, d, &g, M + s, ld, pl->ld_ch, kc0, kc, bias, relu, y);
        }
    }
    return FC_OK;
}

/* Few tile blocks, output channels split over the threads (pl->ksplit > 1): each block's V is
 * filled once by all threads, each a range of input channels, then the threads take their
 * channel ranges of the GEMMs and output transform from that one V. (Each job filling its own
 * V transformed every input tile once per thread: 2 threads ran a batch-1 28x28 128-channel
 * layer 1.66x faster than 1, not 1.8x.) ws: V and Vp, then per thread M and the U chunk.   */
static int WD(wino_shared_v)(const fc_ctx *ctx, const fc_conv_desc *d, const wino_plan *pl,
                             const FC_T *x, const FC_T *w, const FC_T *U, const FC_T *bias, int relu,
                             FC_T *y, FC_T *ws)
{
    const int nthr = fc_ctx_threads(ctx), isa = fc_ctx_isa(ctx);
    const fc_ctx inner = {isa, 1};
    const int64_t C = d->C, K = d->K, per_thread = pl->ws_elems - pl->v_elems;
    const int64_t cparts = fc_min64(C, nthr);
    FC_T *V = ws;
    int err = FC_OK;
    (void)nthr;
    for (int64_t b = 0; b < pl->nblocks && err == FC_OK; b++) {
        const int64_t t0 = wino_block_start(pl, b), tn = wino_block_start(pl, b + 1) - t0;
        FC_PRAGMA_OMP_FOR(nthr, cparts > 1)
        for (int64_t part = 0; part < cparts; part++)
            WD(wino_fill_v)(isa, d, pl, x, t0, tn, C * part / cparts, C * (part + 1) / cparts, V);
        FC_PRAGMA_OMP_FOR(nthr, 1)
        for (int part = 0; part < nthr; part++)
            WD(wino_pack_v)(isa, pl, C, tn, V, FC_WINO_XI * part / nthr, FC_WINO_XI * (part + 1) / nthr);
        FC_PRAGMA_OMP_FOR(nthr, pl->ksplit > 1)
        for (int64_t ks = 0; ks < pl->ksplit; ks++) {
            const int64_t k0 = ks * pl->kb, kb = fc_min64(pl->kb, K - k0);
            FC_T *mine = ws + pl->v_elems + (int64_t)FC_OMP_THREAD_NUM() * per_thread;
            if (kb <= 0) continue;
            const int s2 = WD(wino_channels)(&inner, d, pl, V, w, U, bias, relu, y, t0, tn, k0, kb, mine,
                                             mine + pl->m_elems);
            if (s2 != FC_OK) {
                FC_PRAGMA_OMP_CRITICAL
                err = s2;
            }
        }
    }
    return err;
}

/* Whole jobs per thread (tile blocks, or blocks x output-channel ranges), each filling and
 * packing its own V: job = ks * nblocks + b, so with a channel split a thread's jobs share
 * their filters. ws: per thread V and Vp, M and the U chunk.                               */
static int WD(wino_jobs)(const fc_ctx *ctx, const fc_conv_desc *d, const wino_plan *pl,
                         const FC_T *x, const FC_T *w, const FC_T *U, const FC_T *bias, int relu,
                         FC_T *y, FC_T *ws)
{
    const int nthr = fc_ctx_threads(ctx), isa = fc_ctx_isa(ctx);
    const fc_ctx inner = {isa, 1};
    const int64_t njobs = pl->nblocks * pl->ksplit;
    int err = FC_OK;
    (void)nthr;
    FC_PRAGMA_OMP_FOR(nthr, pl->nws > 1)
    for (int64_t job = 0; job < njobs; job++) {
        const int64_t b = job % pl->nblocks, ks = job / pl->nblocks;
        const int64_t t0 = wino_block_start(pl, b), tn = wino_block_start(pl, b + 1) - t0;
        const int64_t k0 = ks * pl->kb, kb = fc_min64(pl->kb, d->K - k0);
        FC_T *wsj = ws + (int64_t)FC_OMP_THREAD_NUM() * pl->ws_elems;
        if (kb <= 0) continue;
        WD(wino_fill_v)(isa, d, pl, x, t0, tn, 0, d->C, wsj);
        WD(wino_pack_v)(isa, pl, d->C, tn, wsj, 0, FC_WINO_XI);
        const int s2 = WD(wino_channels)(&inner, d, pl, wsj, w, U, bias, relu, y, t0, tn, k0, kb,
                                         wsj + pl->v_elems, wsj + pl->v_elems + pl->m_elems);
        if (s2 != FC_OK) {
            FC_PRAGMA_OMP_CRITICAL
            err = s2;
        }
    }
    return err;
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
    const int isa = fc_ctx_isa(ctx);
    wino_plan pl;
    st = wino_make_plan(d, isa, (int64_t)sizeof(FC_T), nthr, &pl);
    if (st != FC_OK) return st;
    FC_T *U = NULL;
    FC_T *ws = (FC_T *)fc_aligned_alloc(pl.nws * pl.ws_elems * (int64_t)sizeof(FC_T));
    if (ws == NULL) return FC_ENOMEM;
    if (!pl.inline_w) {   /* every filter transformed once, shared by the jobs */
        U = (FC_T *)fc_aligned_alloc(pl.u_elems * (int64_t)sizeof(FC_T));
        if (U == NULL) {
            fc_aligned_free(ws);
            return FC_ENOMEM;
        }
        FC_PRAGMA_OMP_FOR(nthr, K * C >= 1024)
        for (int64_t k0 = 0; k0 < K; k0 += 4)
            WD(wino_weights_rows)(isa, w, C, k0, fc_min64(K, k0 + 4), U, pl.u_ld);
    }
    const int err = pl.ksplit > 1 && nthr > 1
                        ? WD(wino_shared_v)(ctx, d, &pl, x, w, U, bias, relu, y, ws)
                        : WD(wino_jobs)(ctx, d, &pl, x, w, U, bias, relu, y, ws);
    fc_aligned_free(ws);
    fc_aligned_free(U);
    return err;
}

#undef WD
#undef WD_ISA
