/* conv_im2col_kernels_tmpl.h -- fc_im2col_packed_* for one element type T, vector type V of VL
 * lanes, lane mask type M and the primitives IK(mask) (lanes [lo, hi)), IK(maskbits) (lane i
 * where bit i is set), IK(loadm) (masked lanes from memory, the rest zero; no other lane is
 * read), IK(store), IK(storem) (masked lanes only) and IK(even) (lanes 0, 2, 4, ... of the
 * pair a, b).
 *
 * A col row (c, r, s) is the same pattern of pieces for every channel c: which columns read
 * the input, from where relative to the channel's plane, which are padding. So the pieces of
 * a kernel tap (r, s) are worked out once (IK(plan): runs, their bounds, sliver and vector
 * boundaries, with all the branching) and replayed for a block of channels (IK(replay)): one
 * or two masked loads and one store per piece. Deciding piece by piece inside the channel
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
    int whole;     /* the piece may be stored as a whole vector (below) */
} IK(piece);

/* Pieces of columns [j, j + run) of a row (column j at (j >> shift)*ss + (j & (nr - 1))):
 * plane[src0 + e*sw] for e in [elo, ehi), zero elsewhere; appended to pc from *np on. At most
 * VL columns per piece, never across a sliver. Returns how far into the run it got (the plan
 * may fill up).                                                                              */
static int64_t IK(plan)(IK(piece) *pc, int *np, int64_t nr, int shift, int64_t ss, int64_t j,
                        int64_t run, int64_t e, int64_t src0, int64_t sw, int64_t elo, int64_t ehi)
{
    while (e < run && *np < IK_PLAN_MAX) {
        const int64_t at = j + e, off = at & (nr - 1);
        const int64_t n = fc_min64(VL, fc_min64(run - e, nr - off));
        const int64_t lo = fc_max64(elo - e, 0), hi = fc_max64(lo, fc_min64(ehi - e, n));
        IK(piece) *p = pc + (*np)++;
        p->dst = (at >> shift) * ss + off;
        p->src = src0 + e * sw;
        p->ms = IK(mask)(0, n);
        /* a vector stored whole spills past the piece into the columns of the same sliver
         * row that the next pieces store after it: allowed while the vector ends inside the
         * sliver row. Masked stores only at the ends of slivers (AVX2's are microcoded on AMD
         * CPUs: every piece masked ran ResNet-50's layer2 3x3/2 10% slower than unpacked)   */
        p->whole = off + VL <= nr;
        if (sw == 1) {
            p->m0 = IK(mask)(lo, hi);
            p->m1 = IK(mask)(0, 0);
        } else {   /* lane i is element 2i of the pair of vectors */
            const int64_t plo = 2 * lo, phi = lo < hi ? 2 * hi - 1 : plo;
            p->m0 = IK(mask)(fc_min64(plo, VL), fc_min64(phi, VL));
            p->m1 = IK(mask)(fc_max64(plo - VL, 0), fc_max64(phi - VL, 0));
        }
        e += n;
    }
    return e;
}

/* the planned pieces for channels [0, nc): planes every plane_stride, rows every row_stride.
 * Pieces are stored in the order planned, which is column order within a row.              */
static void IK(replay)(const IK(piece) *pc, int np, int64_t sw, const T *x, int64_t plane_stride,
                       T *row, int64_t row_stride, int64_t nc)
{
    for (int64_t c = 0; c < nc; c++, x += plane_stride, row += row_stride) {
        if (sw == 1) {
            for (int i = 0; i < np; i++) {
                const V v = IK(loadm)(x + pc[i].src, pc[i].m0);
                if (pc[i].whole) IK(store)(row + pc[i].dst, v);
                else IK(storem)(row + pc[i].dst, pc[i].ms, v);
            }
        } else {
            for (int i = 0; i < np; i++) {
                const T *p = x + pc[i].src;
                const V v = IK(even)(IK(loadm)(p, pc[i].m0), IK(loadm)(p + VL, pc[i].m1));
                if (pc[i].whole) IK(store)(row + pc[i].dst, v);
                else IK(storem)(row + pc[i].dst, pc[i].ms, v);
            }
        }
    }
}

/* Channel block x (nc planes of H*W), tap (r, s), rows at row (channel c's R*S*nr further):
 * output row by output row, each run's pieces planned by IK(plan).                          */
static void IK(tap_runs)(const fc_conv_desc *d, const T *x, int64_t nc, int64_t r, int64_t s,
                         int64_t t0, int64_t nt, T *row, int64_t nr, int shift, int64_t ss,
                         IK(piece) *pc)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    const int64_t pad_end = ((nt + nr - 1) >> shift) << shift;
    int64_t full_lo, full_hi;
    fc_im2col_run_bounds(W, pw, sw, s, 0, Q, &full_lo, &full_hi);
    int64_t p = t0 / Q, q = t0 % Q, j = 0, e = 0;
    int np = 0;
    while (j < pad_end) {
        int64_t run, src0 = 0, elo = 0, ehi = 0;   /* defaults: padding, all zero */
        if (j < nt) {
            run = fc_min64(Q - q, nt - j);
            const int64_t h = p * sh + r - ph;
            if (h >= 0 && h < H) {
                elo = full_lo;
                ehi = full_hi;
                if (q != 0 || run != Q) fc_im2col_run_bounds(W, pw, sw, s, q, run, &elo, &ehi);
                src0 = h * W + q * sw + s - pw;
            }
        } else {
            run = pad_end - nt;   /* the last sliver's padding */
        }
        e = IK(plan)(pc, &np, nr, shift, ss, j, run, e, src0, sw, elo, ehi);
        if (np == IK_PLAN_MAX) {
            IK(replay)(pc, np, sw, x, H * W, row, R * S * nr, nc);
            np = 0;
        }
        if (e == run) {   /* next run */
            j += run;
            e = 0;
            q = 0;
            p++;
        }
    }
    IK(replay)(pc, np, sw, x, H * W, row, R * S * nr, nc);
}

/* The same for stride 1 with Q == W ("same" padding): column j (output pixel t0 + j) reads
 * plane[t0 + j + (r - ph)*W + s - pw], so a whole vector of columns is one load whatever
 * output rows it spans, masked to the columns inside the image (not wrapped around a row
 * edge, not above or below, not past nt). On 7x7 maps, runs of 7 made about ten pieces
 * per 49 columns; this makes four, all stored whole.                                      */
static void IK(tap_linear)(const fc_conv_desc *d, const T *x, int64_t nc, int64_t r, int64_t s,
                           int64_t t0, int64_t nt, T *row, int64_t nr, int shift, int64_t ss,
                           IK(piece) *pc)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, ph = d->pad_h, pw = d->pad_w;
    const int64_t pad_end = ((nt + nr - 1) >> shift) << shift;
    const int64_t dh = r - ph, dw = s - pw;
    int64_t p = t0 / W, q = t0 % W;   /* output pixel of the next column */
    int np = 0;
    for (int64_t j0 = 0; j0 < pad_end; j0 += VL) {
        unsigned bits = 0;
        for (int i = 0; i < VL && j0 + i < nt; i++) {
            if (p + dh >= 0 && p + dh < H && q + dw >= 0 && q + dw < W) bits |= 1u << i;
            if (++q == W) {
                q = 0;
                p++;
            }
        }
        IK(piece) *pp = pc + np++;
        pp->dst = (j0 >> shift) * ss + (j0 & (nr - 1));
        pp->src = t0 + j0 + dh * W + dw;
        pp->m0 = IK(maskbits)(bits);
        pp->m1 = IK(mask)(0, 0);
        pp->ms = IK(mask)(0, VL);
        pp->whole = 1;
        if (np == IK_PLAN_MAX) {
            IK(replay)(pc, np, 1, x, H * W, row, R * S * nr, nc);
            np = 0;
        }
    }
    IK(replay)(pc, np, 1, x, H * W, row, R * S * nr, nc);
}

void IK_ENTRY FC_IM2COL_PACKED_ARGS(T)
{
    const int64_t H = d->H, W = d->W, R = d->R, S = d->S, Q = d->Q, sh = d->stride_h;
    const int linear = sh == 1 && d->stride_w == 1 && Q == W;
    /* channels per block: the input rows the tile reads stay in cache while every tap
     * re-reads them, and each tap's plan serves the whole block                          */
    const int64_t in_rows = fc_min64(H, ((t0 % Q + nt + Q - 1) / Q - 1) * sh + R);
    const int64_t cb = fc_max64(1, IK_BLOCK_BYTES / fc_max64(1, in_rows * W * (int64_t)sizeof(T)));
    IK(piece) pc[IK_PLAN_MAX];
    for (int64_t cs = c0; cs < c1; cs += cb) {
        const int64_t nc = fc_min64(cb, c1 - cs);
        const T *x = x_n + cs * H * W;
        for (int64_t r = r0; r < r1; r++) {
            for (int64_t s = 0; s < S; s++) {
                T *row = col + (((cs - c0) * R + r) * S + s) * nr;
                if (linear) IK(tap_linear)(d, x, nc, r, s, t0, nt, row, nr, shift, ss, pc);
                else IK(tap_runs)(d, x, nc, r, s, t0, nt, row, nr, shift, ss, pc);
            }
        }
    }
}
