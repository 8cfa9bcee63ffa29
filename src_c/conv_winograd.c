/* conv_winograd.c -- Winograd F(4x4, 3x3) forward convolution for 3x3 kernels, stride 1, any
 * padding (Lavin & Gray 2016). Per call:
 *   1. U = G g G^T for every (k, c): 36 matrices K x C (weights only, once per call);
 *   2. for each block of tiles (output 4x4 tiles, flattened over the batch): input transform
 *      V = B^T d B into 36 matrices C x tiles, 36 GEMMs M = U . V, output transform
 *      y = A^T M A + bias (+ ReLU) written straight into y (partial tiles clipped).
 * Blocks are sized so the block's V and M stay near the L2 cache (FC_WINO_BLOCK_BYTES), which
 * also bounds the workspace whatever the image size. Threads take whole jobs (a tile block, or
 * a tile block x an output-channel range when there are few blocks, e.g. batch 1 on a small
 * image), static schedule, single-threaded GEMMs inside. Each output element is one GEMM dot
 * product over channels (in channel order) followed by fixed transforms, so results do not
 * depend on the thread count or the blocking.                                               */
#include "conv_winograd_internal.h"

/* per-thread budget for one tile block's V and M (both 36 x channels x tiles) */
#ifndef FC_WINO_BLOCK_BYTES
#define FC_WINO_BLOCK_BYTES ((int64_t)1 << 20)
#endif
#define FC_WINO_MAX_TILES 512   /* tiles per block at most (small C and K) */

typedef struct {
    int64_t tiles_y, tiles_x, ntiles;   /* output tiles per column, per row, in total */
    int64_t T, nblocks, ld;             /* tiles per block, blocks, row stride of V and M */
    int64_t kb, ksplit;                 /* output channels per job, jobs per block */
    int64_t v_elems, ws_elems, nws;     /* per-thread workspace: V then M; workspaces */
    int64_t u_elems;                    /* 36 * K * C */
} wino_plan;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

static int wino_check(const fc_conv_desc *d, int flags, fc_conv_sizes_t *sz)
{
    if (d == NULL || d->R != 3 || d->S != 3 || d->stride_h != 1 || d->stride_w != 1)
        return FC_EINVAL;
    if ((flags & ~FC_FUSE_RELU) != 0) return FC_EINVAL;
    return fc_conv_sizes(d, sz);
}

/* rows of G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 * applied to (g0, g1, g2): out[0], out[stride], ... out[5 * stride]                          */
static void fc_wino_g_col(double g0, double g1, double g2, double *out, int stride)
{
    out[0] = g0 / 4;
    out[stride] = -(g0 + g1 + g2) / 6;
    out[2 * stride] = -(g0 - g1 + g2) / 6;
    out[3 * stride] = g0 / 24 + g1 / 12 + g2 / 6;
    out[4 * stride] = g0 / 24 - g1 / 12 + g2 / 6;
    out[5 * stride] = g2;
}

static int wino_make_plan(const fc_conv_desc *d, int64_t elem, int nthr, wino_plan *pl)
{
    const int64_t L = FC_WINO_LANES, C = d->C, K = d->K;
    int st;
    pl->tiles_y = ceil_div(d->P, FC_WINO_M);
    pl->tiles_x = ceil_div(d->Q, FC_WINO_M);
    pl->ntiles = d->N * pl->tiles_y * pl->tiles_x;   /* <= N * P * Q, already checked */
    /* tiles per block: V and M of one block within the budget, a multiple of the lanes */
    const int64_t per_tile = FC_WINO_XI * (C + K) * elem;
    int64_t T = FC_WINO_BLOCK_BYTES / (per_tile > 0 ? per_tile : 1);
    T = fc_max64(L, fc_min64(FC_WINO_MAX_TILES, T - T % L));
    int64_t nblocks = ceil_div(pl->ntiles, T);
    /* few blocks: as many as a multiple of the threads, if that leaves blocks of a few lanes */
    if (nthr > 1 && nblocks < 4 * nthr && nblocks % nthr != 0 &&
        pl->ntiles >= round_up(nblocks, nthr) * 2 * L)
        nblocks = round_up(nblocks, nthr);
    T = round_up(ceil_div(pl->ntiles, nblocks), L);
    nblocks = ceil_div(pl->ntiles, T);
    pl->T = T;
    pl->nblocks = nblocks;
    pl->ld = T;
    /* still too few blocks for the threads (batch 1, small image): split output channels */
    pl->ksplit = 1;
    pl->kb = K;
    if (nthr > 1 && nblocks % nthr != 0 && nblocks < 4 * nthr && K >= 2 * L) {
        pl->kb = round_up(ceil_div(K, nthr), L);
        pl->ksplit = ceil_div(K, pl->kb);
    }
    const int64_t njobs = pl->nblocks * pl->ksplit;
    pl->nws = (nthr > 1 && njobs > 1) ? nthr : 1;
    int64_t v, m, u;
    if ((st = fc_mul_overflow(FC_WINO_XI * C, pl->ld, &v)) != FC_OK) return st;
    if ((st = fc_mul_overflow(FC_WINO_XI * pl->kb, pl->ld, &m)) != FC_OK) return st;
    if ((st = fc_mul_overflow(FC_WINO_XI * K, C, &u)) != FC_OK) return st;
    pl->v_elems = round_up(v, 16);
    pl->ws_elems = pl->v_elems + round_up(m, 16);
    pl->u_elems = u;
    int64_t bytes;
    if ((st = fc_mul_overflow(pl->ws_elems, pl->nws * elem, &bytes)) != FC_OK) return st;
    if ((st = fc_mul_overflow(u, elem, &bytes)) != FC_OK) return st;
    return FC_OK;
}

/* tiles [t, t + cnt) of the flattened order as a transform group */
static void wino_make_group(const fc_conv_desc *d, const wino_plan *pl, int64_t t, int64_t cnt,
                            fc_wino_group *g)
{
    const int64_t per_image = pl->tiles_y * pl->tiles_x;
    g->cnt = (int)cnt;
    g->in_inside = 1;
    g->out_inside = 1;
    for (int64_t l = 0; l < cnt; l++) {
        const int64_t ti = t + l, n = ti / per_image, r = ti % per_image;
        const int64_t p0 = (r / pl->tiles_x) * FC_WINO_M, q0 = (r % pl->tiles_x) * FC_WINO_M;
        const int64_t h0 = p0 - d->pad_h, w0 = q0 - d->pad_w;
        g->n[l] = n;
        g->p0[l] = p0;
        g->q0[l] = q0;
        if (h0 < 0 || w0 < 0 || h0 + FC_WINO_A > d->H || w0 + FC_WINO_A > d->W) g->in_inside = 0;
        if (p0 + FC_WINO_M > d->P || q0 + FC_WINO_M > d->Q) g->out_inside = 0;
    }
}

#define FC_T float
#define FC_SFX _f32
#define FC_GEMM fc_sgemm
#include "conv_winograd_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm
#include "conv_winograd_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
