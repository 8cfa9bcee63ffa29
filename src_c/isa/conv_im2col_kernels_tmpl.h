/* conv_im2col_kernels_tmpl.h -- fc_im2col_packed_* for one element type T, vector type V of VL
 * lanes, lane mask type M and simd_lanes.h's primitives for that type, SL(name); IK(name)
 * names this file's functions.
 *
 * A col row (c, r, s) is the same pattern of pieces for every channel c: which columns read
 * the input, from where relative to the channel's plane, which are padding. So the pieces of
 * a kernel tap (r, s) are worked out once (IK(tap_runs) / IK(tap_linear): runs, their
 * bounds, sliver and vector boundaries, with all the branching) and replayed for a block of
 * channels (IK(replay)): one or two masked loads and one store per piece. Deciding piece by piece inside the channel
 * loop instead ran 2x slower than the row-major im2col it replaces (branch mispredictions
 * on pieces of varying width); replayed, ResNet-50's layer2 3x3/2 at batch 1 went from
 * 1.21 to 1.17 ms on 2 threads (1 thread, profile samples of im2col plus the GEMM's
 * packing of the tile: 2,378 -> 1,783).                                                    */

/* pieces planned at a time: a stack array of 4 KiB (AVX-512's bit masks) or 16 KiB (AVX2's
 * vector masks) */
#define IK_PLAN_MAX 128
/* a block of channels reads at most about this many bytes of input, which stay in the L2
 * cache while every tap re-reads them (1 MiB measured the same on ResNet-50's layer2) */
#ifndef IK_BLOCK_BYTES
#define IK_BLOCK_BYTES ((int64_t)128 << 10)
#endif

typedef struct {
    int64_t dst;   /* offset in the col row (sliver and column) */
    int64_t src;   /* offset in the channel's plane of lane 0's element (may be outside it:
                    * lanes outside the masks are never read)                              */
    M m0, m1;      /* load masks: lanes of the first and (stride 2) second source vector */
    M ms;          /* store mask: the piece's columns */
    int whole;     /* the piece may be stored as a whole vector (IK(add_run)) */
} IK(piece);

/* One tap's pieces for a block of channels, and where they go: the plan is replayed (and
 * emptied) whenever it fills up and at the end of the tap.                                */
typedef struct {
    IK(piece) pc[IK_PLAN_MAX];
    int np;
    int64_t nr, ss;   /* the packed layout: column j of a row at (j >> shift)*ss + (j & (nr - 1)) */
    int shift;
    const T *x;       /* the block's first channel plane; the others every plane elements */
    int64_t plane, sw, nc;
    T *row;           /* the tap's col row of the block's first channel; the others every
                       * row_stride elements                                              */
    int64_t row_stride;
} IK(planner);

/* the planned pieces for the block's channels, in the order planned (column order within a
 * row, which the whole-vector stores rely on); the plan is then empty                      */
static void IK(replay)(IK(planner) *pl)
{
    const T *x = pl->x;
    T *row = pl->row;
    const IK(piece) *pc = pl->pc;
    for (int64_t c = 0; c < pl->nc; c++, x += pl->plane, row += pl->row_stride) {
        if (pl->sw == 1) {
            for (int i = 0; i < pl->np; i++) {
                const V v = SL(loadm)(x + pc[i].src, pc[i].m0);
                if (pc[i].whole) SL(store)(row + pc[i].dst, v);
                else SL(storem)(row + pc[i].dst, pc[i].ms, v);
            }
        } else {
            for (int i = 0; i < pl->np; i++) {
                const T *p = x + pc[i].src;
                const V v = SL(even)(SL(loadm)(p, pc[i].m0), SL(loadm)(p + VL, pc[i].m1));
                if (pc[i].whole) SL(store)(row + pc[i].dst, v);
                else SL(storem)(row + pc[i].dst, pc[i].ms, v);
            }
        }
    }
    pl->np = 0;
}

/* a new piece of the plan, replaying it first if it is full */
static IK(piece) *IK(next)(IK(planner) *pl)
{
    if (pl->np == IK_PLAN_MAX) IK(replay)(pl);
    return pl->pc + pl->np++;
}

/* Pieces of columns [j, j + run) of the row: plane[src0 + e*sw] for e in [elo, ehi), zero
 * elsewhere. At most VL columns per piece, never across a sliver.                          */
static void IK(add_run)(IK(planner) *pl, int64_t j, int64_t run, int64_t src0, int64_t elo, int64_t ehi)
{
    const int64_t nr = pl->nr, sw = pl->sw;
    for (int64_t e = 0; e < run;) {
        const int64_t at = j + e, off = at & (nr - 1);
        const int64_t n = fc_min64(VL, fc_min64(run - e, nr - off));
        const int64_t lo = fc_max64(elo - e, 0), hi = fc_max64(lo, fc_min64(ehi - e, n));
        IK(piece) *p = IK(next)(pl);
        p->dst = (at >> pl->shift) * pl->ss + off;
        p->src = src0 + e * sw;
        p->ms = SL(mask)(0, n);
        /* a vector stored whole spills past the piece into the columns of the same sliver
         * row that the next pieces store after it: allowed while the vector ends inside the
         * sliver row. Masked stores only at the ends of slivers (AVX2's are microcoded on AMD
         * CPUs: every piece masked ran ResNet-50's layer2 3x3/2 10% slower than unpacked)   */
        p->whole = off + VL <= nr;
        if (sw == 1) {
            p->m0 = SL(mask)(lo, hi);
            p->m1 = SL(mask)(0, 0);
        } else {   /* lane i is element 2i of the pair of vectors */
            const int64_t plo = 2 * lo, phi = lo < hi ? 2 * hi - 1 : plo;
            p->m0 = SL(mask)(fc_min64(plo, VL), fc_min64(phi, VL));
            p->m1 = SL(mask)(fc_max64(plo - VL, 0), fc_max64(phi - VL, 0));
        }
        e += n;
    }
}

/* Tap (r, s) of output pixels [t0, t0 + nt) (padded to pad_end), output row by output row */
static void IK(tap_runs)(IK(planner) *pl, const fc_conv_desc *d, int64_t r, int64_t s, int64_t t0,
                         int64_t nt, int64_t pad_end)
{
    const int64_t H = d->H, W = d->W, Q = d->Q;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    int64_t full_lo, full_hi;
    fc_im2col_run_bounds(W, pw, sw, s, 0, Q, &full_lo, &full_hi);
    int64_t p = t0 / Q, q = t0 % Q;
    for (int64_t j = 0; j < nt; q = 0, p++) {
        const int64_t run = fc_min64(Q - q, nt - j), h = p * sh + r - ph;
        int64_t src0 = 0, elo = 0, ehi = 0;   /* a row of padding: all zero */
        if (h >= 0 && h < H) {
            elo = full_lo;
            ehi = full_hi;
            if (q != 0 || run != Q) fc_im2col_run_bounds(W, pw, sw, s, q, run, &elo, &ehi);
            src0 = h * W + q * sw + s - pw;
        }
        IK(add_run)(pl, j, run, src0, elo, ehi);
        j += run;
    }
    IK(add_run)(pl, nt, pad_end - nt, 0, 0, 0);   /* the last sliver's padding */
}

/* The same for stride 1 with Q == W ("same" padding): column j (output pixel t0 + j) reads
 * plane[t0 + j + (r - ph)*W + s - pw], so a whole vector of columns is one load whatever
 * output rows it spans, masked to the columns inside the image (not wrapped around a row
 * edge, not above or below, not past nt). On 7x7 maps, runs of 7 made about ten pieces
 * per 49 columns; this makes four, all stored whole.                                      */
static void IK(tap_linear)(IK(planner) *pl, const fc_conv_desc *d, int64_t r, int64_t s, int64_t t0,
                           int64_t nt, int64_t pad_end)
{
    const int64_t H = d->H, W = d->W, dh = r - d->pad_h, dw = s - d->pad_w;
    int64_t p = t0 / W, q = t0 % W;   /* output pixel of the next column */
    for (int64_t j0 = 0; j0 < pad_end; j0 += VL) {
        unsigned bits = 0;
        for (int i = 0; i < VL && j0 + i < nt; i++) {
            if (p + dh >= 0 && p + dh < H && q + dw >= 0 && q + dw < W) bits |= 1u << i;
            if (++q == W) {
                q = 0;
                p++;
            }
        }
        IK(piece) *pp = IK(next)(pl);
        pp->dst = (j0 >> pl->shift) * pl->ss + (j0 & (pl->nr - 1));
        pp->src = t0 + j0 + dh * W + dw;
        pp->m0 = SL(maskbits)(bits);
        pp->m1 = SL(mask)(0, 0);
        pp->ms = SL(mask)(0, VL);
        pp->whole = 1;
    }
}

void IK_ENTRY FC_IM2COL_PACKED_ARGS(T)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sh = d->stride_h;
    const int linear = sh == 1 && d->stride_w == 1 && Q == W;
    /* channels per block: the input rows the tile reads stay in cache while every tap
     * re-reads them, and each tap's plan serves the whole block                          */
    const int64_t in_rows = fc_min64(H, ((t0 % Q + nt + Q - 1) / Q - 1) * sh + R);
    const int64_t cb = fc_max64(1, IK_BLOCK_BYTES / fc_max64(1, in_rows * W * (int64_t)sizeof(T)));
    IK(planner) pl;
    pl.np = 0;
    pl.nr = nr;
    pl.ss = d->C * R * S * nr;
    for (pl.shift = 0; ((int64_t)1 << pl.shift) < nr; pl.shift++) {}
    pl.plane = H * W;
    pl.sw = d->stride_w;
    pl.row_stride = R * S * nr;
    const int64_t pad_end = ((nt + nr - 1) >> pl.shift) << pl.shift;
    for (int64_t cs = c0; cs < c1; cs += cb) {
        pl.nc = fc_min64(cb, c1 - cs);
        pl.x = x_n + cs * H * W;
        for (int64_t r = r0; r < r1; r++) {
            for (int64_t s = 0; s < S; s++) {
                pl.row = col + (((cs - c0) * R + r) * S + s) * nr;
                if (linear) IK(tap_linear)(&pl, d, r, s, t0, nt, pad_end);
                else IK(tap_runs)(&pl, d, r, s, t0, nt, pad_end);
                IK(replay)(&pl);
            }
        }
    }
}

/* this file's parameters, for the next element type */
#undef T
#undef V
#undef M
#undef VL
#undef SL
#undef IK
#undef IK_ENTRY
