/* conv_im2col_tmpl.h -- body of conv_im2col.c for one element type FC_T (suffix FC_SFX,
 * GEMM FC_GEMM).                                                                            */
#define FC_NAME(base) FC_CAT(base, FC_SFX)

/* Columns [t0, t0 + nt) of the unfolded image (row (c, r, s), column = output pixel p*Q + q)
 * for channels [c0, c1): col[((c - c0)*R + r)*S + s][j] (row stride ld) = x_n[c, h, w] with
 * h = p*sh + r - ph, w = q*sw + s - pw, or 0 in the padding. The tile is walked one output
 * row (a run) at a time; p and q advance without divisions (a 7x7 layer's runs are 7 long). */
/* Stride 1 with "same" width (Q == W) and a tile of whole output rows: tap (r, s) reads x
 * shifted by (r - ph) rows and (s - pw) columns, so the in-range rows of a col row are ONE
 * contiguous copy of x, after which the columns that wrapped around to the neighbouring row
 * are zeroed, and the rows above or below the image. A 7x7 layer's col rows then cost a
 * vector copy instead of 7 short runs with their bounds (3-4x faster im2col).            */
static void FC_NAME(im2col_tile_same)(const fc_conv_desc *d, const FC_T *x_n, int64_t c0, int64_t c1,
                                      int64_t r0, int64_t r1, int64_t p0, int64_t p1, FC_T *col, int64_t ld)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, ph = d->pad_h, pw = d->pad_w;
    for (int64_t c = c0; c < c1; c++) {
        const FC_T *xc = x_n + c * H * W;
        for (int64_t r = r0; r < r1; r++) {
            /* output rows whose input row p + r - ph is inside [0, H) */
            const int64_t pa = fc_max64(p0, ph - r), pb = fc_min64(p1, H + ph - r);
            for (int64_t s = 0; s < S; s++) {
                FC_T *row = col + (((c - c0) * R + r) * S + s) * ld;   /* row[p*W + q - o] */
                /* padding columns at each end of an output row (at most the row: pw may exceed W) */
                const int64_t o = p0 * W, left = fc_min64(W, fc_max64(0, pw - s));
                const int64_t right = fc_min64(W, fc_max64(0, s - pw));
                if (pa >= pb) {
                    for (int64_t t = 0; t < (p1 - p0) * W; t++) row[t] = 0;
                    continue;
                }
                for (int64_t t = o; t < pa * W; t++) row[t - o] = 0;
                /* x row p + r - ph, column q + s - pw, for t = p*W + q in [pa*W + left, pb*W - right) */
                const int64_t ta = pa * W + left, tb = pb * W - right, shift = (r - ph) * W + s - pw;
                for (int64_t t = ta; t < tb; t++) row[t - o] = xc[t + shift];
                for (int64_t p = pa; p < pb; p++) {   /* the wrapped-around columns */
                    for (int64_t q = 0; q < left; q++) row[p * W + q - o] = 0;
                    for (int64_t q = W - right; q < W; q++) row[p * W + q - o] = 0;
                }
                for (int64_t t = pb * W; t < p1 * W; t++) row[t - o] = 0;
            }
        }
    }
}

/* kernel rows [r0, r1) of channels [c0, c1) (col rows of other kernel rows are not written) */
static void FC_NAME(im2col_tile)(const fc_conv_desc *d, const FC_T *x_n, int64_t c0, int64_t c1,
                                 int64_t r0, int64_t r1, int64_t t0, int64_t nt, FC_T *col, int64_t ld)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    const int64_t p0 = t0 / Q, q0 = t0 % Q;
    if (sh == 1 && sw == 1 && Q == W && q0 == 0 && nt % Q == 0) {
        FC_NAME(im2col_tile_same)(d, x_n, c0, c1, r0, r1, p0, p0 + nt / Q, col, ld);
        return;
    }
    for (int64_t c = c0; c < c1; c++) {
        const FC_T *xc = x_n + c * H * W;
        for (int64_t r = r0; r < r1; r++) {
            for (int64_t s = 0; s < S; s++) {
                FC_T *row = col + (((c - c0) * R + r) * S + s) * ld;
                int64_t full_lo, full_hi;
                fc_im2col_run_bounds(W, pw, sw, s, 0, Q, &full_lo, &full_hi);
                int64_t p = p0, q = q0, j = 0;
                while (j < nt) {
                    const int64_t run = fc_min64(Q - q, nt - j);
                    const int64_t h = p * sh + r - ph;
                    int64_t elo = full_lo, ehi = full_hi;
                    if (q != 0 || run != Q) fc_im2col_run_bounds(W, pw, sw, s, q, run, &elo, &ehi);
                    FC_T *dst = row + j;
                    if (h < 0 || h >= H) {
                        for (int64_t e = 0; e < run; e++) dst[e] = 0;
                    } else {
                        const FC_T *src = xc + h * W + q * sw + s - pw;
                        for (int64_t e = 0; e < elo; e++) dst[e] = 0;
                        if (sw == 1)
                            for (int64_t e = elo; e < ehi; e++) dst[e] = src[e];
                        else if (sw == 2)   /* a constant stride: the compiler vectorises it */
                            for (int64_t e = elo; e < ehi; e++) dst[e] = src[2 * e];
                        else
                            for (int64_t e = elo; e < ehi; e++) dst[e] = src[e * sw];
                        for (int64_t e = ehi; e < run; e++) dst[e] = 0;
                    }
                    j += run;
                    q = 0;
                    p++;
                }
            }
        }
    }
}

/* Kernel rows [r0, r1) of channels [c0, c1) of the tile of nt output pixels from t0: in the
 * GEMM's packed B layout with the ISA's SIMD kernel (pk), or row-major, rows nt apart (pk
 * NULL)                                                                                    */
static void FC_NAME(im2col_piece)(const fc_sliver_layout *pk, const fc_conv_desc *d, const FC_T *x_n,
                                  int64_t c0, int64_t c1, int64_t r0, int64_t r1, int64_t t0,
                                  int64_t nt, FC_T *col)
{
    if (pk == NULL) {
        FC_NAME(im2col_tile)(d, x_n, c0, c1, r0, r1, t0, nt, col, nt);
        return;
    }
#ifndef FC_ONLY_SCALAR
    if (pk->isa == FC_ISA_AVX512)
        FC_IM2COL_PACKED(avx512)(d, x_n, c0, c1, r0, r1, t0, nt, col, pk->nr);
    else
        FC_IM2COL_PACKED(avx2)(d, x_n, c0, c1, r0, r1, t0, nt, col, pk->nr);
#endif   /* else pk is never set (fc_conv_gemm_forward) */
}

/* A whole tile, row-major (row stride tn; pk NULL) or packed (pk), with the threads splitting
 * it in (channel block, kernel row) pieces: by channels alone, a 3-channel stem's tile went
 * 2:1 over two threads; blocks of several channels let the SIMD kernel plan each tap once
 * for the block.                                                                          */
static void FC_NAME(im2col_tile_threaded)(int nthr, const fc_conv_desc *d, const FC_T *x_n, int64_t t0,
                                          int64_t tn, FC_T *col, const fc_sliver_layout *pk)
{
    const int64_t C = d->C, R = d->R, S = d->S, ld = pk ? pk->nr : tn;
    const int64_t nblk = nthr > 1 ? fc_min64(C, 4 * (int64_t)nthr) : 1;
    FC_PRAGMA_OMP_FOR(nthr, nblk * R > 1 && C * R * S * tn > 16384)
    for (int64_t br = 0; br < nblk * R; br++) {
        const int64_t b = br / R, r = br % R, c0 = C * b / nblk, c1 = C * (b + 1) / nblk;
        FC_NAME(im2col_piece)(pk, d, x_n, c0, c1, r, r + 1, t0, tn, col + c0 * R * S * ld);
    }
}

/* The adjoint of im2col_tile: gx_n[c, h, w] += col[...][j] over the same positions, for the
 * kernel rows r = r_first, r_first + r_step, ... (all of them: 0, 1). Kernel rows of different
 * residues mod stride_h reach disjoint rows h of grad_x, so those can go to different threads;
 * each element still receives its terms in ascending r, the same sum whatever the split.  */
static void FC_NAME(col2im_tile)(const fc_conv_desc *d, const FC_T *col, int64_t ld, int64_t c0,
                                 int64_t c1, int64_t r_first, int64_t r_step, int64_t t0, int64_t nt,
                                 FC_T *gx_n)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    const int64_t p0 = t0 / Q, q0 = t0 % Q;
    for (int64_t c = c0; c < c1; c++) {
        FC_T *gc = gx_n + c * H * W;
        for (int64_t r = r_first; r < R; r += r_step) {
            for (int64_t s = 0; s < S; s++) {
                const FC_T *row = col + (((c - c0) * R + r) * S + s) * ld;
                int64_t full_lo, full_hi;
                fc_im2col_run_bounds(W, pw, sw, s, 0, Q, &full_lo, &full_hi);
                int64_t p = p0, q = q0, j = 0;
                while (j < nt) {
                    const int64_t run = fc_min64(Q - q, nt - j);
                    const int64_t h = p * sh + r - ph;
                    if (h >= 0 && h < H) {
                        int64_t elo = full_lo, ehi = full_hi;
                        if (q != 0 || run != Q) fc_im2col_run_bounds(W, pw, sw, s, q, run, &elo, &ehi);
                        FC_T *dst = gc + h * W + q * sw + s - pw;
                        const FC_T *src = row + j;
                        if (sw == 1)
                            for (int64_t e = elo; e < ehi; e++) dst[e] += src[e];
                        else
                            for (int64_t e = elo; e < ehi; e++) dst[e * sw] += src[e];
                    }
                    j += run;
                    q = 0;
                    p++;
                }
            }
        }
    }
}

/* Tile width (output pixels per tile) for a column of crs elements: the budget, at least
 * FC_IM2COL_MIN_TILE, at most the plane.                                                    */
static int64_t FC_NAME(tile_width)(int64_t crs, int64_t pq)
{
    int64_t t = FC_IM2COL_TILE_BYTES / ((crs > 0 ? crs : 1) * (int64_t)sizeof(FC_T));
    if (t > 64) t -= t % 16;
    if (t < FC_IM2COL_MIN_TILE) t = FC_IM2COL_MIN_TILE;
    return t < pq ? t : pq;
}

static void FC_NAME(fill_bias)(const fc_conv_desc *d, const fc_conv_sizes_t *sz,
                               const FC_T *bias, int relu, FC_T *y)
{
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++) {
            FC_T b = bias ? bias[k] : (FC_T)0;
            if (relu && b < 0) b = 0;
            FC_T *row = y + (n * d->K + k) * sz->pq;
            for (int64_t i = 0; i < sz->pq; i++) row[i] = b;
        }
}

/* The GEMM of one tile (output pixels [t0, t0 + tn) of image x_n into yt): from the tile
 * packed by im2col (pk), the row-major tile col, or (1x1, im2col == 0) the input itself */
static int FC_NAME(tile_gemm)(const fc_ctx *inner, int k_order, const fc_conv_desc *d,
                              const fc_conv_sizes_t *sz, const fc_sliver_layout *pk, int im2col,
                              const FC_T *w, const FC_T *x_n, const FC_T *col, int64_t t0,
                              int64_t tn, FC_T *yt)
{
    const int64_t K = d->K, crs = sz->crs, pq = sz->pq;
    if (pk) return FC_GEMM_BP(inner, k_order, K, tn, crs, 1, w, crs, col, 0, yt, pq);
    if (im2col) return FC_GEMM_EX(inner, k_order, 0, 0, K, tn, crs, 1, w, crs, col, tn, 0, yt, pq);
    return FC_GEMM_EX(inner, k_order, 0, 0, K, tn, crs, 1, w, crs, x_n + t0, sz->hw, 0, yt, pq);
}

int FC_NAME(fc_conv_gemm_forward)(const fc_ctx *ctx, const fc_conv_desc *d, const FC_T *x,
                                  const FC_T *w, const FC_T *bias, int relu, FC_T *y, int im2col)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(y, sz.y))
        return FC_EINVAL;
    if (sz.y == 0) return FC_OK;
    if (sz.crs == 0) {   /* empty reduction: the output is the bias */
        FC_NAME(fill_bias)(d, &sz, bias, relu, y);
        return FC_OK;
    }
    const int nthr = fc_ctx_threads(ctx);
    const int64_t K = d->K, crs = sz.crs, pq = sz.pq, N = d->N;
    int64_t T = im2col ? FC_NAME(tile_width)(crs, pq) : fc_min64(pq, 512);
    int64_t ntile = (pq + T - 1) / T;
    /* the GEMMs may sum a narrow last column along k (GK(row_tail)) only when their width is
     * the whole image whatever the thread count: one tile, too small for the split below to
     * make tiles of FC_SPLIT_MIN_TILE (7x7 maps: 49 pixels). Otherwise every output stays a
     * k-ordered dot product and results do not depend on the thread count.                */
    const int k_order = !(ntile == 1 && pq < 2 * FC_SPLIT_MIN_TILE - 1);
    if (!im2col && nthr > 1 && N < nthr) {
        /* 1x1, fewer images than threads: one GEMM per image, threaded inside. Tiles of a
         * few hundred pixels would each pack all of A again and leave the threads unbalanced
         * (measured on 56x56 256->64: 0.98x a NumPy matmul's speed tiled, 1.01x whole).   */
        T = pq;
        ntile = 1;
    } else if (nthr > 1 && N * ntile < 4 * nthr) {
        /* several threads: balance the tiles of a batch-1 image over the threads */
        const int64_t per = (N * ntile + nthr - 1) / nthr * nthr;   /* tiles, multiple of nthr */
        const int64_t want = (per + N - 1) / N;
        const int64_t T2 = (pq + want - 1) / want;
        if (T2 >= FC_SPLIT_MIN_TILE) {
            T = T2;
            ntile = (pq + T - 1) / T;
        }
    }
    const int64_t njobs = N * ntile;
    const int par = nthr > 1 && njobs >= nthr && (njobs >= 4 * nthr || njobs % nthr == 0);
    /* parallel tiles: one workspace and single-threaded GEMMs per thread; otherwise one tile at
     * a time with the GEMM (and im2col) threaded                                            */
    const int nws = par ? nthr : 1;
    /* with a SIMD path, im2col writes the tile straight in the GEMM's packed layout (whole
     * slivers of nr columns), sparing the GEMM its copy of the tile. Not for a few channels:
     * the kernel plans each tap once for a block of channels, and with 3 to 6 that plan is
     * not repaid (AVX-512, 1 thread: the 7x7/2 stem 2.59 ms unpacked, 2.63 packed; 6
     * channels 5x5/2 0.406, 0.418), while from 8 on packing wins (8 channels 3x3 on 112 px:
     * 0.772 -> 0.651 ms; 16 channels on 56 px: 0.660 -> 0.570).                            */
    const fc_sliver_layout pack = {fc_ctx_isa(ctx), fc_gemm_nr(fc_ctx_isa(ctx), FC_IS_DOUBLE)};
    const fc_sliver_layout *pk = NULL;
#ifndef FC_ONLY_SCALAR
    if (im2col && pack.isa != FC_ISA_SCALAR && d->stride_w <= 2 && d->C >= FC_IM2COL_PACKED_MIN_C)
        pk = &pack;
#endif
    int64_t per_ws = 0, ws_bytes = 0;   /* a tile's elements (packed: whole slivers) */
    FC_T *ws = NULL;
    if (im2col) {
        if (pk) per_ws = fc_gemm_packed_b_elems(pack.isa, FC_IS_DOUBLE, crs, T);   /* -1: overflow */
        else if (fc_mul_overflow(crs, T, &per_ws) != FC_OK) per_ws = -1;
        if (per_ws < 0 || fc_mul_overflow(per_ws, nws * (int64_t)sizeof(FC_T), &ws_bytes) != FC_OK)
            return FC_EOVERFLOW;
        ws = (FC_T *)fc_aligned_alloc(ws_bytes);
        if (ws == NULL) return FC_ENOMEM;
    }
    fc_ctx inner = {fc_ctx_isa(ctx), par ? 1 : nthr};
    int err = FC_OK;
    if (par) {
        FC_PRAGMA_OMP_FOR(nthr, 1)
        for (int64_t job = 0; job < njobs; job++) {
            const int64_t n = job / ntile, t0 = (job % ntile) * T, tn = fc_min64(T, pq - t0);
            const FC_T *x_n = x + n * sz.x / N;
            FC_T *yt = y + n * K * pq + t0;
            FC_T *col = im2col ? ws + (int64_t)FC_OMP_THREAD_NUM() * per_ws : NULL;
            if (im2col) FC_NAME(im2col_piece)(pk, d, x_n, 0, d->C, 0, d->R, t0, tn, col);
            const int s2 = FC_NAME(tile_gemm)(&inner, k_order, d, &sz, pk, im2col, w, x_n, col, t0, tn, yt);
            if (s2 != FC_OK) {
                FC_PRAGMA_OMP_CRITICAL
                err = s2;
            }
            if (bias || relu) FC_CAT(fc_conv_epilogue, FC_SFX)(yt, K, tn, pq, bias, relu);
        }
    } else {
        for (int64_t job = 0; job < njobs && err == FC_OK; job++) {
            const int64_t n = job / ntile, t0 = (job % ntile) * T, tn = fc_min64(T, pq - t0);
            const FC_T *x_n = x + n * sz.x / N;
            FC_T *yt = y + n * K * pq + t0;
            if (im2col) FC_NAME(im2col_tile_threaded)(nthr, d, x_n, t0, tn, ws, pk);
            err = FC_NAME(tile_gemm)(&inner, k_order, d, &sz, pk, im2col, w, x_n, ws, t0, tn, yt);
            if (bias || relu) FC_CAT(fc_conv_epilogue, FC_SFX)(yt, K, tn, pq, bias, relu);
        }
    }
    fc_aligned_free(ws);
    return err;
}

int FC_NAME(fc_conv2d_forward_im2col)(const fc_ctx *ctx, const fc_conv_desc *d, const FC_T *x,
                                      const FC_T *w, const FC_T *bias, int flags, FC_T *y)
{
    if ((flags & ~FC_FUSE_RELU) != 0) return FC_EINVAL;
    return FC_NAME(fc_conv_gemm_forward)(ctx, d, x, w, bias, flags & FC_FUSE_RELU, y, 1);
}

/* grad_x = col2im(W^T . grad_y), tile by tile. Tiles of one image overlap in grad_x, so an
 * image belongs to one thread: whole images per thread when the batch is large enough,
 * otherwise tiles in order with the GEMM threaded and col2im split over channels.          */
int FC_NAME(fc_conv2d_grad_input_im2col)(const fc_ctx *ctx, const fc_conv_desc *d,
                                         const FC_T *grad_y, const FC_T *w, FC_T *grad_x)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(w, sz.w) || !fc_conv_ptr_ok(grad_x, sz.x))
        return FC_EINVAL;
    if (sz.x == 0) return FC_OK;
    for (int64_t i = 0; i < sz.x; i++) grad_x[i] = 0;
    if (sz.w == 0 || sz.y == 0) return FC_OK;   /* empty reduction */
    const int nthr = fc_ctx_threads(ctx);
    const int64_t N = d->N, K = d->K, C = d->C, crs = sz.crs, pq = sz.pq;
    const int64_t T = FC_NAME(tile_width)(crs, pq), ntile = (pq + T - 1) / T;
    const int per_image = nthr > 1 && (N >= 4 * nthr || (N >= nthr && N % nthr == 0));
    const int nws = per_image ? nthr : 1;
    FC_T *ws = (FC_T *)fc_aligned_alloc(nws * crs * T * (int64_t)sizeof(FC_T));
    if (ws == NULL) return FC_ENOMEM;
    int err = FC_OK;
    if (per_image) {
        fc_ctx inner = {fc_ctx_isa(ctx), 1};
        FC_PRAGMA_OMP_FOR(nthr, 1)
        for (int64_t n = 0; n < N; n++) {
            FC_T *col = ws + (int64_t)FC_OMP_THREAD_NUM() * crs * T;
            for (int64_t ti = 0; ti < ntile; ti++) {
                const int64_t t0 = ti * T, tn = fc_min64(T, pq - t0);
                const int s2 = FC_GEMM(&inner, 1, 0, crs, tn, K, 1, w, crs, grad_y + n * K * pq + t0,
                                       pq, 0, col, tn);
                if (s2 != FC_OK) {
                    FC_PRAGMA_OMP_CRITICAL
                    err = s2;
                }
                FC_NAME(col2im_tile)(d, col, tn, 0, C, 0, 1, t0, tn, grad_x + n * C * sz.hw);
            }
        }
    } else {
        for (int64_t n = 0; n < N && err == FC_OK; n++) {
            for (int64_t ti = 0; ti < ntile && err == FC_OK; ti++) {
                const int64_t t0 = ti * T, tn = fc_min64(T, pq - t0);
                err = FC_GEMM(ctx, 1, 0, crs, tn, K, 1, w, crs, grad_y + n * K * pq + t0, pq, 0,
                              ws, tn);
                /* channels x residues of the kernel rows mod the stride (disjoint grad_x
                 * rows): a 7x7/2 stem's 3 channels make 6 pieces, not a 2:1 split */
                const int64_t per_c = sz.rs * tn, nres = fc_min64(d->stride_h, d->R);
                FC_PRAGMA_OMP_FOR(nthr, C * nres > 1 && crs * tn > 16384)
                for (int64_t cr = 0; cr < C * nres; cr++) {
                    const int64_t c = cr / nres, res = cr % nres;
                    FC_NAME(col2im_tile)(d, ws + c * per_c, tn, c, c + 1, res, nres, t0, tn,
                                         grad_x + n * C * sz.hw);
                }
            }
        }
    }
    fc_aligned_free(ws);
    return err;
}

/* grad_w (or its transpose, swap) over output pixels [g0, g1) of the flattened (image, pixel)
 * range, in order, tiles that never straddle two images; acc is overwritten. With ctx's
 * threads the im2col and the GEMMs are threaded (inside a parallel region they run on one). */
static int FC_NAME(grad_weight_range)(const fc_ctx *ctx, const fc_conv_desc *d,
                                      const fc_conv_sizes_t *sz, const FC_T *grad_y, const FC_T *x,
                                      int64_t g0, int64_t g1, int64_t T, int swap, FC_T *col,
                                      FC_T *acc)
{
    const int64_t K = d->K, C = d->C, crs = sz->crs, pq = sz->pq;
    int err = FC_OK;
    if (g0 >= g1)
        for (int64_t i = 0; i < sz->w; i++) acc[i] = 0;
    for (int64_t g = g0; g < g1 && err == FC_OK;) {
        const int64_t n = g / pq, t0 = g % pq, tn = fc_min64(T, fc_min64(pq - t0, g1 - g));
        const FC_T beta = g == g0 ? 0 : 1;
        FC_NAME(im2col_tile_threaded)(fc_ctx_threads(ctx), d, x + n * C * sz->hw, t0, tn, col, NULL);
        if (swap)
            err = FC_GEMM(ctx, 0, 1, crs, K, tn, 1, col, tn, grad_y + n * K * pq + t0, pq, beta, acc, K);
        else
            err = FC_GEMM(ctx, 0, 1, K, crs, tn, 1, grad_y + n * K * pq + t0, pq, col, tn, beta, acc, crs);
        g += tn;
    }
    return err;
}

/* grad_w = sum over images and tiles, in order, of grad_y_tile (K x T) . col_tile^T (T x CRS);
 * the GEMM and the im2col are threaded, the sum order is fixed.
 * Small filters (CRS x K of at most FC_GW_SPLIT_MAX elements) with a long reduction split the
 * reduction instead: each thread sums its own contiguous range of output pixels into its own
 * copy of grad_w (one-thread GEMMs, no barrier per tile), and the copies are added in thread
 * order. Measured on the 7x7 stem (147 x 64): the per-tile threaded GEMM ran at 1.55-1.6x on
 * 2 threads (M = 147, N = 64 split in two, a barrier per 1,776-pixel tile). The sum then
 * depends on the thread count (float reassociation, as DESIGN allows), never on the run.   */
int FC_NAME(fc_conv2d_grad_weight_im2col)(const fc_ctx *ctx, const fc_conv_desc *d,
                                          const FC_T *grad_y, const FC_T *x, FC_T *grad_w)
{
    fc_conv_sizes_t sz;
    int st = fc_conv_sizes(d, &sz);
    if (st != FC_OK) return st;
    if (!fc_conv_ptr_ok(grad_y, sz.y) || !fc_conv_ptr_ok(x, sz.x) || !fc_conv_ptr_ok(grad_w, sz.w))
        return FC_EINVAL;
    if (sz.w == 0) return FC_OK;
    if (sz.y == 0) {   /* no output pixel (N == 0 or P*Q == 0): nothing to sum */
        for (int64_t i = 0; i < sz.w; i++) grad_w[i] = 0;
        return FC_OK;
    }
    const int nthr = fc_ctx_threads(ctx);
    (void)nthr;   /* only read by the OpenMP pragma, absent in builds without OpenMP */
    const int64_t N = d->N, K = d->K, crs = sz.crs, pq = sz.pq;
    const int64_t T = FC_NAME(tile_width)(crs, pq);
    /* Few output channels (K <= 64, K < C*R*S): compute grad_w^T = col . grad_y^T instead.
     * The GEMM then reads the column tile in place and packs only grad_y's K x tn slice; the
     * other way it packs the whole (transposed) tile, and with M = K rows split over the
     * threads each thread packs all of it. Measured, 2 threads: the 7x7 stem's grad_w 2.19 ->
     * 1.91 ms, ResNet-18 layer1 (batch 16) 21.5 -> 19.9 ms; neutral at K = 128 and slower at
     * K = 256 (18.6 -> 23.2 ms), hence the bound. Each element is the same dot product in the
     * same order either way: the results are bit-identical.                               */
    const int swap = K <= 64 && K < crs;
    const int split = nthr > 1 && sz.w <= FC_GW_SPLIT_MAX && N * pq >= (int64_t)nthr * FC_GW_SPLIT_MIN_PIXELS;
    const int nws = split ? nthr : 1;
    FC_T *ws = (FC_T *)fc_aligned_alloc(nws * crs * T * (int64_t)sizeof(FC_T));
    FC_T *gwt = swap ? (FC_T *)fc_aligned_alloc(crs * K * (int64_t)sizeof(FC_T)) : NULL;
    FC_T *part = split ? (FC_T *)fc_aligned_alloc((nthr - 1) * sz.w * (int64_t)sizeof(FC_T)) : NULL;
    if (ws == NULL || (swap && gwt == NULL) || (split && part == NULL)) {
        fc_aligned_free(part);
        fc_aligned_free(gwt);
        fc_aligned_free(ws);
        return FC_ENOMEM;
    }
    int err = FC_OK;
    FC_T *out = swap ? gwt : grad_w;
    if (split) {
        const fc_ctx one = {fc_ctx_isa(ctx), 1};
        FC_PRAGMA_OMP_FOR(nthr, 1)
        for (int t = 0; t < nthr; t++) {
            /* thread 0 sums straight into out, the others into their partial copies */
            const int64_t g0 = N * pq * t / nthr, g1 = N * pq * (t + 1) / nthr;
            FC_T *acc = t == 0 ? out : part + (int64_t)(t - 1) * sz.w;
            const int s2 = FC_NAME(grad_weight_range)(&one, d, &sz, grad_y, x, g0, g1, T, swap,
                                                      ws + (int64_t)t * crs * T, acc);
            if (s2 != FC_OK) {
                FC_PRAGMA_OMP_CRITICAL
                err = s2;
            }
        }
        FC_PRAGMA_OMP_FOR(nthr, sz.w > 16384)
        for (int64_t i = 0; i < sz.w; i++)
            for (int t = 1; t < nthr; t++) out[i] += part[(int64_t)(t - 1) * sz.w + i];
    } else {
        err = FC_NAME(grad_weight_range)(ctx, d, &sz, grad_y, x, 0, N * pq, T, swap, ws, out);
    }
    if (swap && err == FC_OK) {
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < crs; j++) grad_w[k * crs + j] = gwt[j * K + k];
    }
    fc_aligned_free(part);
    fc_aligned_free(gwt);
    fc_aligned_free(ws);
    return err;
}

#undef FC_NAME
