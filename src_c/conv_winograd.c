/* conv_winograd.c -- Winograd F(4x4, 3x3) forward convolution for 3x3 kernels, stride 1, any
 * padding (Lavin & Gray 2016). Per call:
 *   1. U = G g G^T for every (k, c): 36 matrices K x C (weights only, once per call);
 *   2. for each block of tiles (output 4x4 tiles, flattened over the batch): input transform
 *      V = B^T d B into 36 matrices C x tiles, packed once in the GEMM's layout (Vp), 36 GEMMs
 *      M = U . V per chunk of output channels reading Vp as it is, output transform
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

#ifndef FC_WINO_MIN_TILES
#define FC_WINO_MIN_TILES 64    /* tiles per block at least: the GEMMs' N dimension */
#endif
#define FC_WINO_MAX_TILES 512   /* tiles per block at most (small C and K) */
#ifndef FC_WINO_KC
/* output channels per chunk (a multiple of every GEMM kit's MR: 12, 6, 4). 96 ran batch-1
 * layers 5-10% faster (fewer GEMM calls, so V is packed fewer times: 14x14 256 channels 0.87
 * -> 0.83 ms, 28x28 128 channels 0.61 -> 0.55 ms) but a chunk's transformed filters (36 x kc
 * x C per thread, inline mode) then raised ResNet-50's batch-1 inference peak from 31 to 38
 * MB, above torch's: memory is a target, so 48.                                            */
#define FC_WINO_KC 48
#endif
#ifndef FC_WINO_ONE_CHUNK_BYTES
#define FC_WINO_ONE_CHUNK_BYTES ((int64_t)5 << 18)   /* 1.25 MiB */
#endif
#ifndef FC_WINO_EVEN_BLOCKS
#define FC_WINO_EVEN_BLOCKS 8   /* blocks per thread below which their count is made even */
#endif
#ifndef FC_WINO_INLINE_BLOCKS
#define FC_WINO_INLINE_BLOCKS 2 /* at most this many tile blocks: filters transformed per job */
#endif

#ifndef FC_WINO_CH_PAD
#define FC_WINO_CH_PAD 16
#endif
/* U's 36 matrices lie this many elements more than K*C (or a chunk's kc*C) apart: at exactly
 * K*C (a multiple of 4 KB from 64 channels up) the filter transform's 36 stores of one lane
 * group all fall into the same L1 set. Measured, batch 1, 2 threads: 256 channels on 14x14
 * 1.02 -> 0.92 ms (0.87 with the fixed-trip loops of the transform), 512 on 14x14 4.17 ->
 * 3.62 (3.36).                                                                              */
#define FC_WINO_U_PAD 16
#ifndef FC_WINO_ROW_MIN_TILES
#define FC_WINO_ROW_MIN_TILES 12  /* tile rows this long: groups never straddle two rows */
#endif

typedef struct {
    int64_t tiles_y, tiles_x, ntiles;   /* output tiles per column, per row, in total */
    int64_t T, nblocks, ld;             /* tiles per block, blocks, stride between xi in V, M */
    int64_t ld_ch;                      /* stride between channels in V and M: 36 ld + pad */
    int64_t kb, ksplit;                 /* output channels per job, jobs per block */
    int64_t kc;                         /* output channels per chunk of a job */
    int inline_w;                       /* filters transformed inside each job, chunk by chunk */
    int row_groups;                     /* transform groups are runs within one tile row */
    int64_t v_elems, m_elems, ws_elems, nws;   /* per-thread workspace: V and Vp, M [, U chunk] */
    int64_t vp_off, vp_xi;              /* Vp, V packed for the GEMMs once per block (36 packed
                                           C x T matrices vp_xi apart), at V + vp_off        */
    int64_t u_ld, u_elems;              /* U's xi stride (K*C + pad) and size, when the filters
                                           are transformed upfront                          */
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

/* First tile of block b: the tiles split into nblocks nearly equal runs, each starting on a
 * multiple of the lanes. Equal multiples of T would leave a runt last block (196 tiles of a
 * 56x56 image in 4 blocks: 64, 64, 64, 4, so one thread of two did 128 tiles and the other 68);
 * here 48, 48, 48, 52.                                                                      */
static int64_t wino_block_start(const wino_plan *pl, int64_t b)
{
    if (b >= pl->nblocks) return pl->ntiles;
    /* b * ntiles / nblocks without the product (which could overflow): the first r blocks of
     * an exact split get q + 1 tiles, the others q */
    const int64_t q = pl->ntiles / pl->nblocks, r = pl->ntiles % pl->nblocks;
    const int64_t t = q * b + fc_min64(b, r);
    return t - t % FC_WINO_LANES;
}

/* Blocking and work split. Every tile block reads all of U (36 K C) once, so blocks are kept
 * large (at least FC_WINO_MIN_TILES tiles, the GEMMs' N); when there are only a few, threads
 * split the output channels instead of the tiles (each reads half the filters), and the
 * filters are transformed inside the jobs, chunk by chunk, instead of into one big U that
 * would go through memory.                                                                  */
static int wino_make_plan(const fc_conv_desc *d, int isa, int64_t elem, int nthr, wino_plan *pl)
{
    const int64_t L = FC_WINO_LANES, C = d->C, K = d->K;
    int st;
    pl->tiles_y = ceil_div(d->P, FC_WINO_M);
    pl->tiles_x = ceil_div(d->Q, FC_WINO_M);
    pl->ntiles = d->N * pl->tiles_y * pl->tiles_x;   /* <= N * P * Q, already checked */
    /* tiles per block: one block's V and M within the budget, a multiple of the lanes */
    const int64_t per_tile = FC_WINO_XI * (C + fc_min64(K, FC_WINO_KC)) * elem;
    int64_t T = FC_WINO_BLOCK_BYTES / (per_tile > 0 ? per_tile : 1);
    T = fc_max64(FC_WINO_MIN_TILES, fc_min64(FC_WINO_MAX_TILES, T - T % L));
    int64_t nblocks = ceil_div(pl->ntiles, T);
    /* several threads: a multiple of the thread count, so that the static schedule gives every
     * thread the same number of (nearly equal) blocks. With few blocks only if they stay
     * large (else the channel split below); with more, up to FC_WINO_EVEN_BLOCKS per thread:
     * 13 blocks (784 tiles: batch 16 on 28x28, or 112x112) ran as 7 + 6. (Not with many:
     * 49 blocks of exactly 64 tiles ran 4-6% faster than 50 of 48 or 64, whose narrower GEMMs
     * cost more than 25 + 24 blocks' imbalance.)                                             */
    if (nthr > 1 && nblocks % nthr != 0 && nblocks < FC_WINO_EVEN_BLOCKS * nthr &&
        (nblocks < 4 * nthr ? pl->ntiles >= round_up(nblocks, nthr) * FC_WINO_MIN_TILES
                            : pl->ntiles >= round_up(nblocks, nthr) * L))
        nblocks = round_up(nblocks, nthr);
    pl->nblocks = nblocks;
    /* blocks of nearly equal size (wino_block_start): the largest sets the workspace stride;
     * each is at most q + L tiles (q + 1 of the exact split, plus the rounding to the lanes) */
    if (nblocks <= 65536) {
        pl->T = 0;
        for (int64_t b = 0; b < nblocks; b++)
            pl->T = fc_max64(pl->T, wino_block_start(pl, b + 1) - wino_block_start(pl, b));
        pl->T = round_up(pl->T, L);
    } else {
        pl->T = round_up(pl->ntiles / nblocks + L, L);
    }
    T = pl->T;
    pl->ld = T;
    /* a channel's 36 rows plus one cache line, so that the GEMMs' rows (ld_ch apart) do not
     * all fall into the same few cache sets                                                 */
    pl->ld_ch = FC_WINO_XI * T + FC_WINO_CH_PAD;
    /* still too few blocks for the threads (batch 1, small image): split output channels */
    pl->ksplit = 1;
    pl->kb = K;
    if (nthr > 1 && nblocks % nthr != 0 && nblocks < 4 * nthr && K >= 2 * L) {
        pl->kb = round_up(ceil_div(K, nthr), L);
        pl->ksplit = ceil_div(K, pl->kb);
    }
    pl->kc = fc_min64(FC_WINO_KC, pl->kb);
    /* a job of a channel split in one chunk when its transformed filters stay small: every
     * chunk reads the whole packed V again, so 64 channels as 48 + 16 read it twice (28x28,
     * 128 channels, batch 1: 2 threads read V 4 times where 1 thread read it 3 times)      */
    if (pl->ksplit > 1 && pl->kb <= 2 * FC_WINO_KC &&
        FC_WINO_XI * pl->kb * C * elem <= FC_WINO_ONE_CHUNK_BYTES)
        pl->kc = pl->kb;
    pl->inline_w = nblocks <= FC_WINO_INLINE_BLOCKS;
    pl->row_groups = pl->tiles_x >= FC_WINO_ROW_MIN_TILES;
    const int64_t njobs = pl->nblocks * pl->ksplit;
    pl->nws = (nthr > 1 && njobs > 1) ? nthr : 1;
    int64_t v, m, u, uc = 0;
    if ((st = fc_mul_overflow(C, pl->ld_ch, &v)) != FC_OK) return st;
    if ((st = fc_mul_overflow(pl->kc, pl->ld_ch, &m)) != FC_OK) return st;
    if ((st = fc_mul_overflow(K, C, &u)) != FC_OK) return st;
    pl->u_ld = u + FC_WINO_U_PAD;
    if ((st = fc_mul_overflow(FC_WINO_XI, pl->u_ld, &u)) != FC_OK) return st;
    if (pl->inline_w && (st = fc_mul_overflow(pl->kc, C, &uc)) != FC_OK) return st;
    if (pl->inline_w && (st = fc_mul_overflow(FC_WINO_XI, uc + FC_WINO_U_PAD, &uc)) != FC_OK) return st;
    /* V packed in the GEMM's layout once per block: every chunk of output channels then reads
     * it as it is (packing V[xi] inside each GEMM call repeated it K / kc times)            */
    pl->vp_xi = fc_gemm_packed_b_elems(isa, elem == (int64_t)sizeof(double), C, T);
    if (pl->vp_xi < 0) return FC_EOVERFLOW;
    pl->vp_xi = round_up(pl->vp_xi, 16);
    pl->vp_off = round_up(v, 16);
    int64_t vp;
    if ((st = fc_mul_overflow(FC_WINO_XI, pl->vp_xi, &vp)) != FC_OK) return st;
    pl->v_elems = pl->vp_off + vp;
    pl->m_elems = round_up(m, 16);
    pl->ws_elems = pl->v_elems + pl->m_elems + round_up(uc, 16);
    pl->u_elems = u;
    int64_t bytes;
    if ((st = fc_mul_overflow(pl->ws_elems, pl->nws * elem, &bytes)) != FC_OK) return st;
    if ((st = fc_mul_overflow(u, elem, &bytes)) != FC_OK) return st;
    return FC_OK;
}

/* tiles in the next transform group from tile t on, at most left: a full group, or with row
 * groups up to the end of t's tile row                                                      */
static int64_t wino_group_len(const wino_plan *pl, int64_t t, int64_t left)
{
    int64_t cnt = fc_min64(FC_WINO_LANES, left);
    if (pl->row_groups) cnt = fc_min64(cnt, pl->tiles_x - t % pl->tiles_x);
    return cnt;
}

/* tiles [t, t + cnt) of the flattened order as a transform group */
static void wino_make_group(const fc_conv_desc *d, const wino_plan *pl, int64_t t, int64_t cnt,
                            fc_wino_group *g)
{
    const int64_t per_image = pl->tiles_y * pl->tiles_x;
    g->cnt = (int)cnt;
    g->row_run = pl->row_groups;
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
#define FC_GEMM fc_sgemm_bp
#include "conv_winograd_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM

#define FC_T double
#define FC_SFX _f64
#define FC_GEMM fc_dgemm_bp
#include "conv_winograd_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef FC_GEMM
