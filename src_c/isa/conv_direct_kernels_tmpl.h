/* conv_direct_kernels_tmpl.h -- body of conv_direct_kernels.c for one element type FC_T
 * (suffix FC_SFX, vector vocabulary CV_* when FC_ISA_LEVEL >= 1); included once per type.  */
#if FC_ISA_LEVEL == 2
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _avx512)
#elif FC_ISA_LEVEL == 1
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _avx2)
#else
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _scalar)
#endif

/* Portable path, and any horizontal stride: one output row at a time, initialised with the
 * bias, then one axpy per tap over the run of output columns whose input column is inside the
 * row (no per-element test; the compiler vectorises the stride-1 case).                     */
static void FC_CAT(corr_rows_axpy, FC_SFX) FC_CORR_ARGS(FC_T)
{
    const int64_t hwin = g->Hin * g->Win, cs = g->out_cs;
    const int64_t Win = g->Win, Wout = g->Wout, sw = g->sw;
    for (int64_t o = o0; o < o0 + nb; o++) {
        const FC_T *wo = wbase + o * g->w_o;
        const FC_T b = init ? init[o] : (FC_T)0;
        for (int64_t i = i0; i < i1; i++) {
            FC_T *orow = out + o * g->out_ps + i * g->out_rs;
            for (int64_t j = 0; j < Wout; j++) orow[j * cs] = b;
            for (int64_t c = 0; c < g->IC; c++) {
                const FC_T *inc = in + c * hwin;
                const FC_T *wc = wo + c * g->w_c;
                for (int64_t r = 0; r < g->R; r++) {
                    const int64_t h = i * g->sh + r - g->oh;
                    if (h < 0 || h >= g->Hin) continue;
                    const FC_T *irow = inc + h * Win;
                    for (int64_t s = 0; s < g->S; s++) {
                        /* columns j with 0 <= j*sw + s - ow < Win */
                        const int64_t first = g->ow - s;   /* j*sw >= first */
                        int64_t jlo = first <= 0 ? 0 : (first + sw - 1) / sw;
                        const int64_t lim = Win + g->ow - s;   /* j*sw < lim */
                        int64_t jhi = lim <= 0 ? 0 : (lim + sw - 1) / sw;
                        if (jhi > Wout) jhi = Wout;
                        if (jlo >= jhi) continue;
                        const FC_T wv = wc[r * g->w_r + s * g->w_s];
                        const FC_T *src = irow + s - g->ow;
                        if (sw == 1 && cs == 1)
                            for (int64_t j = jlo; j < jhi; j++) orow[j] += src[j] * wv;
                        else
                            for (int64_t j = jlo; j < jhi; j++) orow[j * cs] += src[j * sw] * wv;
                    }
                }
            }
            if (relu)
                for (int64_t j = 0; j < Wout; j++)
                    orow[j * cs] = orow[j * cs] < 0 ? (FC_T)0 : orow[j * cs];
        }
    }
}

#if FC_ISA_LEVEL >= 1
#define CV_NAME(base) FC_CAT(FC_CAT(cv_, base), FC_SFX)
#define CV_BLOCK_NAME(ob, nr, nv, m, sw)                                                       \
    FC_CAT(FC_CAT(FC_CAT(FC_CAT(FC_CAT(cv_block_, ob), FC_CAT(_, nr)), FC_CAT(_, nv)),           \
                  FC_CAT(FC_CAT(_, m), FC_CAT(_, sw))), FC_SFX)

/* mask of the lanes whose input column col + lane is inside [0, Win): the others are neither
 * read nor faulted on by CV_MLOAD and come back as zeros (the padding)                      */
#define CV_SMAX 8
static inline CV_MT CV_NAME(mask_for)(int64_t col, int64_t Win)
{
    const int64_t lo = fc_min64(fc_max64(-col, 0), CV_VL);
    const int64_t hi = fc_max64(fc_min64(Win - col, CV_VL), lo);
    return CV_MASK(lo, hi);
}

/* the same, also limited to lanes e < lim (the end of a grad_y row) */
static inline CV_MT CV_NAME(mask_lim)(int64_t col, int64_t Win, int64_t lim)
{
    const int64_t lo = fc_min64(fc_max64(-col, 0), CV_VL);
    const int64_t hi = fc_max64(fc_min64(fc_min64(Win - col, lim), CV_VL), lo);
    return CV_MASK(lo, hi);
}

/* register-blocked micro-kernels, one per (channels, vectors, masked, stride) shape */
#include "conv_direct_block_shapes.h"

/* channels [o0, o0 + nb) of one block of pixels: the largest shape that fits, repeatedly */
#define CV_TRY(ob, nr, nv, m, sw)                                                              \
    if (left >= ob) {                                                                          \
        CV_BLOCK_NAME(ob, nr, nv, m, sw)(g, in, wo, io, relu, hin0, r0, r1, j0, nj, oo);       \
        o += ob;                                                                               \
        continue;                                                                              \
    }
#if FC_ISA_LEVEL == 2
#define CV_CHAIN_1_1(m, sw) CV_TRY(8, 1, 1, m, sw) CV_TRY(4, 1, 1, m, sw) CV_TRY(2, 1, 1, m, sw) CV_TRY(1, 1, 1, m, sw)
#define CV_CHAIN_1_2(m, sw) CV_TRY(12, 1, 2, m, sw) CV_TRY(8, 1, 2, m, sw) CV_TRY(4, 1, 2, m, sw) CV_TRY(2, 1, 2, m, sw) CV_TRY(1, 1, 2, m, sw)
#define CV_CHAIN_1_3(m, sw) CV_TRY(8, 1, 3, m, sw) CV_TRY(4, 1, 3, m, sw) CV_TRY(2, 1, 3, m, sw) CV_TRY(1, 1, 3, m, sw)
#define CV_CHAIN_2_1(m, sw) CV_TRY(12, 2, 1, m, sw) CV_TRY(8, 2, 1, m, sw) CV_TRY(4, 2, 1, m, sw) CV_TRY(2, 2, 1, m, sw) CV_TRY(1, 2, 1, m, sw)
#define CV_CHAIN_2_2(m, sw) CV_TRY(6, 2, 2, m, sw) CV_TRY(4, 2, 2, m, sw) CV_TRY(2, 2, 2, m, sw) CV_TRY(1, 2, 2, m, sw)
#else
#define CV_CHAIN_1_1(m, sw) CV_TRY(8, 1, 1, m, sw) CV_TRY(4, 1, 1, m, sw) CV_TRY(2, 1, 1, m, sw) CV_TRY(1, 1, 1, m, sw)
#define CV_CHAIN_1_2(m, sw) CV_TRY(6, 1, 2, m, sw) CV_TRY(4, 1, 2, m, sw) CV_TRY(2, 1, 2, m, sw) CV_TRY(1, 1, 2, m, sw)
#define CV_CHAIN_1_3(m, sw) CV_TRY(4, 1, 3, m, sw) CV_TRY(2, 1, 3, m, sw) CV_TRY(1, 1, 3, m, sw)
#define CV_CHAIN_2_1(m, sw) CV_TRY(6, 2, 1, m, sw) CV_TRY(4, 2, 1, m, sw) CV_TRY(2, 2, 1, m, sw) CV_TRY(1, 2, 1, m, sw)
#define CV_CHAIN_2_2(m, sw) CV_TRY(3, 2, 2, m, sw) CV_TRY(2, 2, 2, m, sw) CV_TRY(1, 2, 2, m, sw)
#endif
#define CV_CALL_OB(nr, nv, m, sw)                                                              \
    do {                                                                                       \
        int64_t o = o0;                                                                        \
        while (o < o0 + nb) {                                                                  \
            const int64_t left = o0 + nb - o;                                                  \
            const FC_T *wo = wbase + o * g->w_o;                                               \
            const FC_T *io = init ? init + o : NULL;                                           \
            FC_T *oo = out + o * g->out_ps + i * g->out_rs;                                    \
            CV_CHAIN_##nr##_##nv(m, sw)                                                        \
        }                                                                                      \
    } while (0)

/* one block of pixels (rows i .. i + nr - 1, columns [j0, j0 + nj)) for every channel of the
 * job, with the micro-kernel shape (nr, nv, masked, sw) chosen at run time                 */
static void CV_NAME(block_all_channels)(const fc_corr_geom *g, const FC_T *in, const FC_T *wbase,
                                        const FC_T *init, int relu, int64_t o0, int64_t nb,
                                        FC_T *out, int64_t i, int64_t hin0, int64_t r0, int64_t r1,
                                        int64_t j0, int64_t nj, int nr, int nv, int m, int sw)
{
#define CV_KEY(nr, nv, m, sw) ((((nr) * 4 + (nv)) * 2 + (m)) * 4 + (sw))
    switch (CV_KEY(nr, nv, m, sw)) {
    case CV_KEY(1, 1, 0, 1): CV_CALL_OB(1, 1, 0, 1); break;
    case CV_KEY(1, 1, 0, 2): CV_CALL_OB(1, 1, 0, 2); break;
    case CV_KEY(1, 1, 0, 3): CV_CALL_OB(1, 1, 0, 3); break;
    case CV_KEY(1, 1, 1, 1): CV_CALL_OB(1, 1, 1, 1); break;
    case CV_KEY(1, 1, 1, 2): CV_CALL_OB(1, 1, 1, 2); break;
    case CV_KEY(1, 2, 0, 1): CV_CALL_OB(1, 2, 0, 1); break;
    case CV_KEY(1, 2, 0, 2): CV_CALL_OB(1, 2, 0, 2); break;
    case CV_KEY(1, 2, 0, 3): CV_CALL_OB(1, 2, 0, 3); break;
    case CV_KEY(1, 2, 1, 1): CV_CALL_OB(1, 2, 1, 1); break;
    case CV_KEY(1, 2, 1, 2): CV_CALL_OB(1, 2, 1, 2); break;
    case CV_KEY(1, 3, 0, 1): CV_CALL_OB(1, 3, 0, 1); break;
    case CV_KEY(1, 3, 0, 2): CV_CALL_OB(1, 3, 0, 2); break;
    case CV_KEY(1, 3, 0, 3): CV_CALL_OB(1, 3, 0, 3); break;
    case CV_KEY(1, 3, 1, 1): CV_CALL_OB(1, 3, 1, 1); break;
    case CV_KEY(1, 3, 1, 2): CV_CALL_OB(1, 3, 1, 2); break;
    case CV_KEY(2, 1, 0, 1): CV_CALL_OB(2, 1, 0, 1); break;
    case CV_KEY(2, 1, 0, 2): CV_CALL_OB(2, 1, 0, 2); break;
    case CV_KEY(2, 1, 0, 3): CV_CALL_OB(2, 1, 0, 3); break;
    case CV_KEY(2, 1, 1, 1): CV_CALL_OB(2, 1, 1, 1); break;
    case CV_KEY(2, 1, 1, 2): CV_CALL_OB(2, 1, 1, 2); break;
    case CV_KEY(2, 2, 0, 1): CV_CALL_OB(2, 2, 0, 1); break;
    case CV_KEY(2, 2, 0, 2): CV_CALL_OB(2, 2, 0, 2); break;
    case CV_KEY(2, 2, 0, 3): CV_CALL_OB(2, 2, 0, 3); break;
    case CV_KEY(2, 2, 1, 1): CV_CALL_OB(2, 2, 1, 1); break;
    case CV_KEY(2, 2, 1, 2): CV_CALL_OB(2, 2, 1, 2); break;
    default: break;
    }
#undef CV_KEY
}

static void FC_CAT(corr_rows_simd, FC_SFX) FC_CORR_ARGS(FC_T)
{
    const int64_t Wout = g->Wout, sw = g->sw;
    int64_t i = i0;
    while (i < i1) {
        /* kernel rows r with 0 <= i*sh + r - oh < Hin */
        const int64_t hin0 = i * g->sh - g->oh;
        const int64_t r0 = fc_max64(0, -hin0);
        const int64_t r1 = fc_max64(r0, fc_min64(g->R, g->Hin - hin0));
        /* two rows at once when both see every kernel row (not at the top or bottom border) */
        const int nr = (i + 1 < i1 && r0 == 0 && r1 == g->R && hin0 + g->sh + g->R <= g->Hin) ? 2 : 1;
        int64_t j0 = 0;
        while (j0 < Wout) {
            const int64_t vec_left = (Wout - j0 + CV_VL - 1) / CV_VL;
            /* 4 vectors left: 2 + 2 rather than 3 + 1 */
            const int nv = vec_left >= 5 ? 3 : (vec_left == 4 ? 2 : (int)vec_left);
            const int64_t nj = fc_min64(nv * CV_VL, Wout - j0);
            /* every input column read, (j0 + lane)*sw + s - ow (and for stride 2 the odd
             * column after the last lane) for all lanes and taps, inside the row?         */
            const int inside = g->split_w ||
                               (j0 * sw - g->ow >= 0 && (j0 + nv * CV_VL) * sw - 1 + g->S - 1 - g->ow < g->Win);
            const int kind = g->split_w ? 3 : (int)sw;   /* the CB_SW of the micro-kernel */
            if (nr == 2 && nv == 3) {   /* wide rows: 8 x 3 blocks already fill the registers */
                for (int64_t rr = 0; rr < 2; rr++)
                    CV_NAME(block_all_channels)(g, in, wbase, init, relu, o0, nb, out, i + rr,
                                                hin0 + rr * g->sh, r0, r1, j0, nj, 1, 3, !inside, kind);
            } else {
                CV_NAME(block_all_channels)(g, in, wbase, init, relu, o0, nb, out, i, hin0, r0, r1,
                                            j0, nj, nr, nv, !inside, kind);
            }
            j0 += nj;
        }
        i += nr;
    }
}
#undef CV_CALL_OB
#undef CV_TRY
#undef CV_CHAIN_1_1
#undef CV_CHAIN_1_2
#undef CV_CHAIN_1_3
#undef CV_CHAIN_2_1
#undef CV_CHAIN_2_2
#undef CV_BLOCK_NAME
#endif

void FC_KNAME(fc_corr_rows) FC_CORR_ARGS(FC_T)
{
#if FC_ISA_LEVEL >= 1
    if (g->sw <= 2) {
        FC_CAT(corr_rows_simd, FC_SFX)(g, in, wbase, init, relu, o0, nb, i0, i1, out);
        return;
    }
#endif
    FC_CAT(corr_rows_axpy, FC_SFX)(g, in, wbase, init, relu, o0, nb, i0, i1, out);
}

/* grad_weight, portable path: for each tap, a dot product of grad_y rows with the input rows
 * they saw, over the run of columns inside the input (no per-element test).               */
static void FC_CAT(gw_accum_portable, FC_SFX) FC_GW_ARGS(FC_T)
{
    const int64_t P = d->P, Q = d->Q, R = d->R, S = d->S, H = d->H, W = d->W;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    for (int64_t kk = 0; kk < kb; kk++) {
        const FC_T *gk = gy_n + (k0 + kk) * P * Q;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                /* columns q with 0 <= q*sw + s - pw < W */
                const int64_t first = pw - s, lim = W + pw - s;
                const int64_t qlo = first <= 0 ? 0 : (first + sw - 1) / sw;
                const int64_t qhi = fc_min64(Q, lim <= 0 ? 0 : (lim + sw - 1) / sw);
                FC_T sum = 0;
                for (int64_t p = 0; p < P; p++) {
                    const int64_t h = p * sh + r - ph;
                    if (h < 0 || h >= H) continue;
                    const FC_T *g = gk + p * Q;
                    const FC_T *xr = xc + h * W + s - pw;
                    for (int64_t q = qlo; q < qhi; q++) sum += g[q] * xr[q * sw];
                }
                acc[kk * acc_k + r * S + s] += sum;
            }
        }
    }
}

#if FC_ISA_LEVEL >= 1
/* grad_weight, SIMD: register blocks of channels x kernel taps (conv_gw_block_tmpl.h), built
 * per horizontal stride (1, 2) and shape: 9 taps (a whole 3x3 kernel) x few channels, 3 taps
 * x more channels, 1 tap x many channels (1x1 kernels); the taps of any kernel are covered
 * by chunks of 9, 3 and 1.                                                                  */
#define CG_NAME(kb, tb, sw) \
    FC_CAT(FC_CAT(FC_CAT(FC_CAT(gw_block_, kb), FC_CAT(_, tb)), FC_CAT(_, sw)), FC_SFX)
#if FC_ISA_LEVEL == 2
#define CG_KB 2
#define CG_TB 9
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 2
#define CG_TB 9
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 6
#define CG_TB 3
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 6
#define CG_TB 3
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 16
#define CG_TB 1
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 16
#define CG_TB 1
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB9 2
#define CG_KB3 6
#define CG_KB1 16
#else
#define CG_KB 1
#define CG_TB 9
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 1
#define CG_TB 9
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 4
#define CG_TB 3
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 4
#define CG_TB 3
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 8
#define CG_TB 1
#define CG_SW 1
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB 8
#define CG_TB 1
#define CG_SW 2
#include "conv_gw_block_tmpl.h"
#undef CG_KB
#undef CG_TB
#undef CG_SW
#define CG_KB9 1
#define CG_KB3 4
#define CG_KB1 8
#endif

#define CG_RUN(kbs, tbs, sw)                                                                   \
    for (int64_t k = 0; k < kb; k += kbs)                                                      \
        CG_NAME(kbs, tbs, sw)(d, gy_n, xc, k0 + k, fc_min64(kbs, kb - k), t0, tn, acc + k * acc_k, acc_k)
static void FC_CAT(gw_accum_simd, FC_SFX) FC_GW_ARGS(FC_T)
{
    const int64_t ntaps = d->R * d->S;
    const int sw = (int)d->stride_w;
    int64_t t0 = 0;
    while (t0 < ntaps) {
        const int64_t rem = ntaps - t0;
        const int64_t tn = rem >= 7 ? fc_min64(9, rem) : (rem >= 3 ? 3 : 1);
        if (tn > 3) {
            if (sw == 1) CG_RUN(CG_KB9, 9, 1); else CG_RUN(CG_KB9, 9, 2);
        } else if (tn == 3) {
            if (sw == 1) CG_RUN(CG_KB3, 3, 1); else CG_RUN(CG_KB3, 3, 2);
        } else {
            if (sw == 1) CG_RUN(CG_KB1, 1, 1); else CG_RUN(CG_KB1, 1, 2);
        }
        t0 += tn;
    }
}
#undef CG_RUN
#undef CG_NAME
#undef CG_KB9
#undef CG_KB3
#undef CG_KB1
#endif

void FC_KNAME(fc_conv_gw_accum) FC_GW_ARGS(FC_T)
{
#if FC_ISA_LEVEL >= 1
    if (d->stride_w <= 2) {
        FC_CAT(gw_accum_simd, FC_SFX)(d, gy_n, xc, k0, kb, acc, acc_k);
        return;
    }
#endif
    FC_CAT(gw_accum_portable, FC_SFX)(d, gy_n, xc, k0, kb, acc, acc_k);
}

#undef FC_KNAME
