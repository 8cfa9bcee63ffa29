/* pool_kernels_tmpl.h -- the SIMD max-pooling row kernel, written once over the primitives
 * that pool_kernels.c defines per ISA and dtype: T, V (values), I (indices), LANES and
 * PK(load), PK(loadn), PK(even), PK(odd), PK(fix_v), PK(fix_i), PK(iset), PK(iadd),
 * PK(zero), PK(lane_col), PK(update), PK(storen), PK(store_idxn), PK(upper_v), PK(upper_i),
 * PK(upper_half); PK_ENTRY is the exported name.
 *
 * A lane is one output. The window is visited in torch's order (rows, then columns) and each
 * element goes through PK(update): taken if greater than the running maximum or NaN. The index
 * kept is the window offset h*W + k (a broadcast constant); the start column of each lane's
 * window is added once at the end. Stride 2 loads two vectors of an input row and splits them
 * into even and odd elements: window columns k and k + 1 come from the same two loads. When a
 * row has at most LANES / 2 outputs (small late feature maps), the two loads come from two
 * output rows instead and one vector computes both rows.                                     */

/* The hardware prefetchers of the machine measured (AMD Zen 4 under KVM) fall behind on these
 * row streams once the planes leave L2; fetching 4 KB ahead (a few input rows) made VGG's
 * first pooling layer 1.5-2x faster. A prefetch never faults, so running past the plane is
 * harmless; the address is formed in integers, not by pointer arithmetic beyond the array.  */
#ifndef PK_PREFETCH_BYTES
#define PK_PREFETCH_BYTES 4096
#endif
#define PK_PREFETCH(p) _mm_prefetch((const char *)((uintptr_t)(p) + PK_PREFETCH_BYTES), _MM_HINT_T0)

/* one vector of input at src (plane offset off): whole while inside the plane, else only the
 * `need` elements that are used (masked, so the end of the array is never read past) */
PK_INLINE V PK(vec)(const T *src, int64_t off, int64_t plane_size, int64_t need, int fetch)
{
    if (off + LANES <= plane_size) {
        if (fetch) PK_PREFETCH(src);
        return PK(load)(src);
    }
    return PK(loadn)(src, need);
}

PK_INLINE void PK(pair)(const T *src, int64_t off, int64_t plane_size, int64_t need, int fetch,
                        V *a, V *b)
{
    if (off + 2 * LANES <= plane_size) {
        if (fetch) {
            PK_PREFETCH(src);
            PK_PREFETCH(src + LANES);
        }
        *a = PK(load)(src);
        *b = PK(load)(src + LANES);
    } else {
        *a = PK(loadn)(src, need < LANES ? need : LANES);
        *b = PK(loadn)(src + LANES, need > LANES ? need - LANES : 0);
    }
}

/* window row h for m outputs whose windows start at column `start`; `first` starts the scan */
PK_INLINE void PK(row)(const T *x, int64_t plane_size, int64_t W, int64_t h, int64_t start,
                       int64_t m, int64_t kw, int64_t sw, int first, V *best, I *at)
{
    const int64_t base = h * W + start;
    if (sw == 1) {
        for (int64_t k = 0; k < kw; ++k) {
            const V v = PK(vec)(x + base + k, base + k, plane_size, m, k == 0);
            const I e = PK(iset)(h * W + k);
            if (first && k == 0) {
                *best = v;
                *at = e;
            } else {
                PK(update)(best, at, v, e);
            }
        }
    } else {
        for (int64_t k = 0; k < kw; k += 2) {
            const int both = k + 1 < kw;
            V a, b;
            PK(pair)(x + base + k, base + k, plane_size, 2 * (m - 1) + 1 + both, k == 0, &a, &b);
            const V ev = PK(even)(a, b);
            const I e = PK(iset)(h * W + k);
            if (first && k == 0) {
                *best = ev;
                *at = e;
            } else {
                PK(update)(best, at, ev, e);
            }
            if (both) PK(update)(best, at, PK(odd)(a, b), PK(iset)(h * W + k + 1));
        }
    }
}

/* stride 2, nq <= LANES / 2: one window row of one output row in the lower half of the lanes
 * (input at x + o1, window-relative index erow + k) and one of another output row, maybe in
 * another plane, in the upper half (input at x + o2); bound = elements readable from x */
PK_INLINE void PK(row_two)(const T *x, int64_t bound, int64_t o1, int64_t o2, int64_t erow,
                           int64_t nq, int64_t kw, int first, V *best, I *at)
{
    for (int64_t k = 0; k < kw; k += 2) {
        const int both = k + 1 < kw;
        const int64_t need = 2 * (nq - 1) + 1 + both;
        const V a = PK(vec)(x + o1 + k, o1 + k, bound, need, k == 0);
        const V b = PK(vec)(x + o2 + k, o2 + k, bound, need, k == 0);
        const V ev = PK(even)(a, b);
        const I e = PK(iset)(erow + k);
        if (first && k == 0) {
            *best = ev;
            *at = e;
        } else {
            PK(update)(best, at, ev, e);
        }
        if (both) PK(update)(best, at, PK(odd)(a, b), PK(iset)(erow + k + 1));
    }
}

/* Consecutive windows share kh - sh input rows when kh > sh (3x3 stride 2: one row). Then each
 * window row is first reduced on its own (the same scan, started afresh) and the rows are
 * combined in order with the same update: the rule "last NaN, else first maximum" gives the
 * same result whether the window is scanned at once or row by row. The reduction of a window's
 * last row is kept for the next output row, for a chunk of PK_CACHE_BLOCKS vectors of columns
 * at a time (a few KB on the stack, whatever the width).                                     */
#define PK_CACHE_BLOCKS 16

/* output rows [pa, pb), columns [q0, q0 + nq) of one plane, one row of outputs a vector, for
 * windows that share rows (kh > sh): each row reduced on its own, the last one cached */
PK_INLINE void PK(rows_shared)(const fc_pool_desc *d, const T *x, int64_t pa, int64_t pb, int64_t q0,
                               int64_t nq, T *y, int64_t *idx, int64_t kw, int64_t sw, I lane_col)
{
    const int64_t W = d->W, plane_size = d->H * d->W, Q = d->Q, sh = d->stride_h;
    V cache_v[PK_CACHE_BLOCKS];
    I cache_i[PK_CACHE_BLOCKS];
    for (int64_t c0 = 0; c0 < nq; c0 += PK_CACHE_BLOCKS * LANES) {
        const int64_t c1 = nq - c0 < PK_CACHE_BLOCKS * LANES ? nq : c0 + PK_CACHE_BLOCKS * LANES;
        int64_t cached = -1;   /* the input row whose reductions cache_v / cache_i hold */
        for (int64_t p = pa; p < pb; ++p) {
            const int64_t top = p * sh - d->pad_h;
            const int64_t h0 = top > 0 ? top : 0;
            const int64_t h1 = top + d->kh < d->H ? top + d->kh : d->H;
            const int hit = h0 == cached;
            T *yrow = y + p * Q + q0;
            int64_t *irow = idx ? idx + p * Q + q0 : NULL;
            for (int64_t j0 = c0, b = 0; j0 < c1; j0 += LANES, ++b) {
                const int64_t m = c1 - j0 < LANES ? c1 - j0 : LANES;
                const int64_t st = (q0 + j0) * sw - d->pad_w;
                V best = PK(zero)();    /* (overwritten by the first element) */
                I at = PK(iset)(0);
                if (hit) {
                    best = cache_v[b];
                    if (idx) at = cache_i[b];
                } else {
                    PK(row)(x, plane_size, W, h0, st, m, kw, sw, 1, &best, &at);
                }
                V hv = best;
                I hi = at;
                for (int64_t h = h0 + 1; h < h1; ++h) {
                    PK(row)(x, plane_size, W, h, st, m, kw, sw, 1, &hv, &hi);
                    PK(update)(&best, &at, hv, hi);
                }
                cache_v[b] = hv;
                if (idx) cache_i[b] = hi;
                PK(storen)(yrow + j0, sw == 2 ? PK(fix_v)(best) : best, m);
                if (irow) {
                    at = PK(iadd)(sw == 2 ? PK(fix_i)(at) : at, PK(iadd)(PK(iset)(st), lane_col));
                    PK(store_idxn)(irow + j0, at, m);
                }
            }
            cached = h1 - 1;
        }
    }
}

/* output rows [pa, pb), columns [q0, q0 + nq) of one plane, one row of outputs a vector */
PK_INLINE void PK(rows_one)(const fc_pool_desc *d, const T *x, int64_t pa, int64_t pb, int64_t q0,
                            int64_t nq, T *y, int64_t *idx, int64_t kw, int64_t sw, I lane_col)
{
    if (d->kh > d->stride_h) {
        PK(rows_shared)(d, x, pa, pb, q0, nq, y, idx, kw, sw, lane_col);
        return;
    }
    /* disjoint windows (2x2 stride 2): the whole window in one scan */
    const int64_t W = d->W, plane_size = d->H * d->W, Q = d->Q;
    for (int64_t p = pa; p < pb; ++p) {
        const int64_t top = p * d->stride_h - d->pad_h;
        const int64_t h0 = top > 0 ? top : 0;
        const int64_t h1 = top + d->kh < d->H ? top + d->kh : d->H;
        T *yrow = y + p * Q + q0;
        int64_t *irow = idx ? idx + p * Q + q0 : NULL;
        for (int64_t j0 = 0; j0 < nq; j0 += LANES) {
            const int64_t m = nq - j0 < LANES ? nq - j0 : LANES;
            const int64_t st = (q0 + j0) * sw - d->pad_w;
            V best = PK(zero)();    /* (overwritten by the first element) */
            I at = PK(iset)(0);
            PK(row)(x, plane_size, W, h0, st, m, kw, sw, 1, &best, &at);
            for (int64_t h = h0 + 1; h < h1; ++h) PK(row)(x, plane_size, W, h, st, m, kw, sw, 0, &best, &at);
            PK(storen)(yrow + j0, sw == 2 ? PK(fix_v)(best) : best, m);
            if (irow) {
                at = PK(iadd)(sw == 2 ? PK(fix_i)(at) : at, PK(iadd)(PK(iset)(st), lane_col));
                PK(store_idxn)(irow + j0, at, m);
            }
        }
    }
}

/* outputs (c1, p1) and (c2, p2), both windows full height, two rows a vector; x is plane 0 */
PK_INLINE void PK(pair_rows)(const fc_pool_desc *d, const T *x, int64_t bound, int64_t c1, int64_t p1,
                             int64_t c2, int64_t p2, int64_t q0, int64_t nq, T *y, int64_t *idx,
                             int64_t kw, I lane_col)
{
    const int64_t W = d->W, HW = d->H * d->W, Q = d->Q, PQ = d->P * d->Q;
    const int64_t top1 = p1 * d->stride_h - d->pad_h, top2 = p2 * d->stride_h - d->pad_h;
    const int64_t start = q0 * 2 - d->pad_w;
    const int64_t o1 = c1 * HW + top1 * W + start, o2 = c2 * HW + top2 * W + start;
    V best = PK(zero)();    /* (overwritten by the first element) */
    I at = PK(iset)(0);
    PK(row_two)(x, bound, o1, o2, top1 * W, nq, kw, 1, &best, &at);
    for (int64_t r = 1; r < d->kh; ++r)
        PK(row_two)(x, bound, o1 + r * W, o2 + r * W, (top1 + r) * W, nq, kw, 0, &best, &at);
    best = PK(fix_v)(best);
    PK(storen)(y + c1 * PQ + p1 * Q + q0, best, nq);
    PK(storen)(y + c2 * PQ + p2 * Q + q0, PK(upper_v)(best), nq);
    if (idx) {
        /* lane i of the upper half: output q0 + i - LANES/2, rows top2 - top1 further down */
        const I cols = PK(iadd)(lane_col, PK(upper_half)((top2 - top1) * W - (LANES / 2) * 2));
        at = PK(iadd)(PK(fix_i)(at), PK(iadd)(PK(iset)(start), cols));
        PK(store_idxn)(idx + c1 * PQ + p1 * Q + q0, at, nq);
        PK(store_idxn)(idx + c2 * PQ + p2 * Q + q0, PK(upper_i)(at), nq);
    }
}

/* 2x2 windows whose top rows were loaded as (ta, tb) and bottom rows as (ba, bb), two vectors
 * each (lane pairs split by PK(even) / PK(odd)): the maximum in torch's scan order and, in
 * *at, its window offset (0, 1, W or W + 1)                                                 */
PK_INLINE V PK(window_2x2)(V ta, V tb, V ba, V bb, int64_t W, I *at)
{
    V best = PK(even)(ta, tb);
    *at = PK(iset)(0);
    PK(update)(&best, at, PK(odd)(ta, tb), PK(iset)(1));
    PK(update)(&best, at, PK(even)(ba, bb), PK(iset)(W));
    PK(update)(&best, at, PK(odd)(ba, bb), PK(iset)(W + 1));
    return best;
}

/* 2x2 windows, stride 2, no padding, H = 2P, whole rows of at most LANES / 2 outputs (VGG's
 * last 14x14 -> 7x7 pooling): output row R of the planes, counted across planes, reads input
 * rows 2R and 2R + 1 of the same flat array, so the rows go two a vector in one plain loop
 * (the general pairing logic cost twice the vector work here). Same loads, same update order
 * and same lane layout as pair_rows, hence the same values and indices.                   */
PK_INLINE void PK(small_2x2)(const fc_pool_desc *d, const T *x, int64_t nplanes, T *y, int64_t *idx,
                             I lane_col)
{
    const int64_t W = d->W, P = d->P, Q = d->Q, rows = nplanes * P, bound = nplanes * d->H * d->W;
    const int64_t need = 2 * Q;
    const I cols = PK(iadd)(lane_col, PK(upper_half)(-(LANES / 2) * 2));   /* 2q in each half */
    int64_t R = 0, p = 0;   /* p: R's row within its plane */
    for (; R + 1 < rows; R += 2) {
        const int64_t o1 = R * 2 * W, o2 = o1 + 2 * W;
        const V ta = PK(vec)(x + o1, o1, bound, need, 0), tb = PK(vec)(x + o2, o2, bound, need, 0);
        const V ba = PK(vec)(x + o1 + W, o1 + W, bound, need, 0);
        const V bb = PK(vec)(x + o2 + W, o2 + W, bound, need, 0);
        I at;
        const V best = PK(fix_v)(PK(window_2x2)(ta, tb, ba, bb, W, &at));
        PK(storen)(y + R * Q, best, Q);
        PK(storen)(y + (R + 1) * Q, PK(upper_v)(best), Q);
        const int64_t p2 = p + 1 < P ? p + 1 : 0;
        if (idx) {
            const I rowoff = PK(iadd)(PK(iset)(2 * p * W), PK(upper_half)(2 * (p2 - p) * W));
            at = PK(iadd)(PK(fix_i)(at), PK(iadd)(cols, rowoff));
            PK(store_idxn)(idx + R * Q, at, Q);
            PK(store_idxn)(idx + (R + 1) * Q, PK(upper_i)(at), Q);
        }
        p = p2 + 1 < P ? p2 + 1 : 0;
    }
    if (R < rows) {   /* an odd count of rows: the last one alone */
        const int64_t c = R / P, HW = d->H * d->W, PQ = P * Q;
        PK(rows_one)(d, x + c * HW, p, p + 1, 0, Q, y + c * PQ, idx ? idx + c * PQ : NULL, 2, 2, lane_col);
    }
}

/* The same 2x2/2 case with wider rows (VGG's other pooling layers): one output row at a
 * time, a vector of outputs per pair of loads of each input row, in one flat loop; the same
 * operations in the same order as rows_one's disjoint-window path.                        */
PK_INLINE void PK(flat_2x2)(const fc_pool_desc *d, const T *x, int64_t nplanes, T *y, int64_t *idx,
                            I lane_col)
{
    const int64_t W = d->W, P = d->P, Q = d->Q, rows = nplanes * P, bound = nplanes * d->H * d->W;
    for (int64_t R = 0, p = 0; R < rows; ++R) {
        const int64_t o = R * 2 * W;
        for (int64_t j0 = 0; j0 < Q; j0 += LANES) {
            const int64_t m = Q - j0 < LANES ? Q - j0 : LANES, ot = o + 2 * j0, ob = ot + W;
            V ta, tb, ba, bb;
            PK(pair)(x + ot, ot, bound, 2 * m, 1, &ta, &tb);
            PK(pair)(x + ob, ob, bound, 2 * m, 1, &ba, &bb);
            I at;
            PK(storen)(y + R * Q + j0, PK(fix_v)(PK(window_2x2)(ta, tb, ba, bb, W, &at)), m);
            if (idx) {
                at = PK(iadd)(PK(fix_i)(at), PK(iadd)(lane_col, PK(iset)(2 * p * W + 2 * j0)));
                PK(store_idxn)(idx + R * Q + j0, at, m);
            }
        }
        p = p + 1 < P ? p + 1 : 0;
    }
}

/* output rows [pa, pb) of nplanes planes, columns [q0, q0 + nq); kw and sw are constants in
 * the specialised instances below, so the window loops unroll */
PK_INLINE void PK(planes)(const fc_pool_desc *d, const T *x, int64_t nplanes, int64_t pa, int64_t pb,
                          int64_t q0, int64_t nq, T *y, int64_t *idx, int64_t kw, int64_t sw)
{
    const int64_t HW = d->H * d->W, PQ = d->P * d->Q;
    const I lane_col = PK(lane_col)(sw);
    if (kw == 2 && sw == 2 && d->kh == 2 && d->stride_h == 2 && d->pad_h == 0 && d->pad_w == 0 &&
        d->H == 2 * d->P && q0 == 0 && nq == d->Q && pa == 0 && pb == d->P) {
        /* whole planes of 2x2/2 windows without padding: flat loops over the output rows */
        if (2 * nq <= LANES) PK(small_2x2)(d, x, nplanes, y, idx, lane_col);
        else PK(flat_2x2)(d, x, nplanes, y, idx, lane_col);
        return;
    }
    if (!(sw == 2 && 2 * nq <= LANES)) {
        for (int64_t c = 0; c < nplanes; ++c)
            PK(rows_one)(d, x + c * HW, pa, pb, q0, nq, y + c * PQ, idx ? idx + c * PQ : NULL, kw, sw, lane_col);
        return;
    }
    /* small maps: output rows whose windows are full height go two a vector, paired in order
     * across plane boundaries too; the others (clipped by the padding) one a vector */
    int64_t wait_c = -1, wait_p = 0;   /* a full-height row waiting for its partner */
    for (int64_t c = 0; c < nplanes; ++c) {
        for (int64_t p = pa; p < pb; ++p) {
            const int64_t top = p * d->stride_h - d->pad_h;
            if (top < 0 || top + d->kh > d->H) {
                PK(rows_one)(d, x + c * HW, p, p + 1, q0, nq, y + c * PQ, idx ? idx + c * PQ : NULL, kw, sw, lane_col);
            } else if (wait_c < 0) {
                wait_c = c;
                wait_p = p;
            } else {
                PK(pair_rows)(d, x, nplanes * HW, wait_c, wait_p, c, p, q0, nq, y, idx, kw, lane_col);
                wait_c = -1;
            }
        }
    }
    if (wait_c >= 0)
        PK(rows_one)(d, x + wait_c * HW, wait_p, wait_p + 1, q0, nq, y + wait_c * PQ,
                     idx ? idx + wait_c * PQ : NULL, kw, sw, lane_col);
}

/* kw and sw as constants for the common windows; idx either the caller's or a literal NULL,
 * so that without indices (inference) the inlined code keeps no index arithmetic at all: the
 * running indices only flow into stores guarded by `if (idx)`, and the compiler drops them. */
#define PK_DISPATCH(IDX)                                                                          \
    do {                                                                                          \
        if (sw == 2 && kw == 2) PK(planes)(d, x, nplanes, pa, pb, q0, nq, y, IDX, 2, 2); /* VGG */   \
        else if (sw == 2 && kw == 3) PK(planes)(d, x, nplanes, pa, pb, q0, nq, y, IDX, 3, 2); /* ResNet */ \
        else if (sw == 1 && kw == 3) PK(planes)(d, x, nplanes, pa, pb, q0, nq, y, IDX, 3, 1);    \
        else if (sw == 2) PK(planes)(d, x, nplanes, pa, pb, q0, nq, y, IDX, kw, 2);              \
        else PK(planes)(d, x, nplanes, pa, pb, q0, nq, y, IDX, kw, 1);                           \
    } while (0)

int64_t PK_ENTRY FC_MAXPOOL_ROWS_ARGS(T)
{
    const int64_t kw = d->kw, sw = d->stride_w;
    if (kw > 4096) return 0;   /* absurd windows: the portable loop is as good */
    if (sw != 1 && sw != 2) return 0;
    if (idx) PK_DISPATCH(idx);
    else PK_DISPATCH((int64_t *)NULL);
    return nq;
}
#undef PK_DISPATCH
