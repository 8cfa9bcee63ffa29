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
    const int64_t hwin = g->Hin * g->Win, hwout = g->Hout * g->Wout;
    const int64_t Win = g->Win, Wout = g->Wout, sw = g->sw;
    for (int64_t o = o0; o < o0 + nb; o++) {
        const FC_T *wo = wbase + o * g->w_o;
        const FC_T b = init ? init[o] : (FC_T)0;
        for (int64_t i = i0; i < i1; i++) {
            FC_T *orow = out + o * hwout + i * Wout;
            for (int64_t j = 0; j < Wout; j++) orow[j] = b;
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
                        if (sw == 1)
                            for (int64_t j = jlo; j < jhi; j++) orow[j] += src[j] * wv;
                        else
                            for (int64_t j = jlo; j < jhi; j++) orow[j] += src[j * sw] * wv;
                    }
                }
            }
            if (relu)
                for (int64_t j = 0; j < Wout; j++) orow[j] = orow[j] < 0 ? (FC_T)0 : orow[j];
        }
    }
}

#if FC_ISA_LEVEL >= 1
#define CV_NAME(base) FC_CAT(FC_CAT(cv_, base), FC_SFX)
#define CV_BLOCK_NAME(ob, nv, m, sw) \
    FC_CAT(FC_CAT(FC_CAT(FC_CAT(cv_block_, ob), FC_CAT(_, nv)), FC_CAT(FC_CAT(_, m), FC_CAT(_, sw))), FC_SFX)

/* mask of the lanes whose input column col + lane is inside [0, Win): the others are neither
 * read nor faulted on by CV_MLOAD and come back as zeros (the padding)                      */
#define CV_SMAX 8
static inline CV_MT CV_NAME(mask_for)(int64_t col, int64_t Win)
{
    const int64_t lo = fc_min64(fc_max64(-col, 0), CV_VL);
    const int64_t hi = fc_max64(fc_min64(Win - col, CV_VL), lo);
    return CV_MASK(lo, hi);
}

/* register-blocked micro-kernels, one per (channels, vectors, masked, stride) shape */
#include "conv_direct_block_shapes.h"

/* channels [o0, o0 + nb) of one block of pixels: the largest shape that fits, repeatedly */
#define CV_TRY(ob, nv, m, sw)                                                                  \
    if (left >= ob) {                                                                          \
        CV_BLOCK_NAME(ob, nv, m, sw)(g, in, wo, io, relu, hin0, r0, r1, j0, nj, oo, hwout);    \
        o += ob;                                                                               \
        continue;                                                                              \
    }
#if FC_ISA_LEVEL == 2
#define CV_CHAIN1(m, sw) CV_TRY(8, 1, m, sw) CV_TRY(4, 1, m, sw) CV_TRY(2, 1, m, sw) CV_TRY(1, 1, m, sw)
#define CV_CHAIN2(m, sw) CV_TRY(12, 2, m, sw) CV_TRY(8, 2, m, sw) CV_TRY(4, 2, m, sw) CV_TRY(2, 2, m, sw) CV_TRY(1, 2, m, sw)
#define CV_CHAIN3(m, sw) CV_TRY(8, 3, m, sw) CV_TRY(4, 3, m, sw) CV_TRY(2, 3, m, sw) CV_TRY(1, 3, m, sw)
#else
#define CV_CHAIN1(m, sw) CV_TRY(8, 1, m, sw) CV_TRY(4, 1, m, sw) CV_TRY(2, 1, m, sw) CV_TRY(1, 1, m, sw)
#define CV_CHAIN2(m, sw) CV_TRY(6, 2, m, sw) CV_TRY(4, 2, m, sw) CV_TRY(2, 2, m, sw) CV_TRY(1, 2, m, sw)
#define CV_CHAIN3(m, sw) CV_TRY(4, 3, m, sw) CV_TRY(2, 3, m, sw) CV_TRY(1, 3, m, sw)
#endif
#define CV_CALL_OB(nv, m, sw)                                                                  \
    do {                                                                                       \
        int64_t o = o0;                                                                        \
        while (o < o0 + nb) {                                                                  \
            const int64_t left = o0 + nb - o;                                                  \
            const FC_T *wo = wbase + o * g->w_o;                                               \
            const FC_T *io = init ? init + o : NULL;                                           \
            FC_T *oo = out + o * hwout + i * g->Wout;                                          \
            CV_CHAIN##nv(m, sw)                                                                \
        }                                                                                      \
    } while (0)

static void FC_CAT(corr_rows_simd, FC_SFX) FC_CORR_ARGS(FC_T)
{
    const int64_t hwout = g->Hout * g->Wout, Wout = g->Wout, sw = g->sw;
    for (int64_t i = i0; i < i1; i++) {
        /* kernel rows r with 0 <= i*sh + r - oh < Hin */
        const int64_t hin0 = i * g->sh - g->oh;
        const int64_t r0 = fc_max64(0, -hin0);
        const int64_t r1 = fc_max64(r0, fc_min64(g->R, g->Hin - hin0));
        int64_t j0 = 0;
        while (j0 < Wout) {
            const int64_t vec_left = (Wout - j0 + CV_VL - 1) / CV_VL;
            /* 4 vectors left: 2 + 2 rather than 3 + 1 */
            const int64_t nv = vec_left >= 5 ? 3 : (vec_left == 4 ? 2 : vec_left);
            const int64_t nj = fc_min64(nv * CV_VL, Wout - j0);
            /* every input column read, j0 + lane + s - ow for all lanes and taps, in the row? */
            /* every input column read, (j0 + lane)*sw + s - ow (and for stride 2 the odd
             * column after the last lane) for all lanes and taps, inside the row?         */
            const int inside = j0 * sw - g->ow >= 0 &&
                               (j0 + nv * CV_VL) * sw - 1 + g->S - 1 - g->ow < g->Win;
            if (sw == 1) {
                if (inside) {
                    if (nv == 3) CV_CALL_OB(3, 0, 1);
                    else if (nv == 2) CV_CALL_OB(2, 0, 1);
                    else CV_CALL_OB(1, 0, 1);
                } else {
                    if (nv == 3) CV_CALL_OB(3, 1, 1);
                    else if (nv == 2) CV_CALL_OB(2, 1, 1);
                    else CV_CALL_OB(1, 1, 1);
                }
            } else {
                if (inside) {
                    if (nv == 3) CV_CALL_OB(3, 0, 2);
                    else if (nv == 2) CV_CALL_OB(2, 0, 2);
                    else CV_CALL_OB(1, 0, 2);
                } else {
                    if (nv == 3) CV_CALL_OB(3, 1, 2);
                    else if (nv == 2) CV_CALL_OB(2, 1, 2);
                    else CV_CALL_OB(1, 1, 2);
                }
            }
            j0 += nj;
        }
    }
}
#undef CV_CALL_OB
#undef CV_TRY
#undef CV_CHAIN1
#undef CV_CHAIN2
#undef CV_CHAIN3
#undef CV_BLOCK_NAME
#undef CV_NAME
#undef CV_SMAX
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

void FC_KNAME(fc_conv_gw_accum) FC_GW_ARGS(FC_T)
{
    const int64_t P = d->P, Q = d->Q, R = d->R, S = d->S, H = d->H, W = d->W;
    for (int64_t kk = 0; kk < kb; kk++) {
        const FC_T *gk = gy_n + (k0 + kk) * P * Q;
        for (int64_t r = 0; r < R; r++) {
            for (int64_t s = 0; s < S; s++) {
                FC_T sum = 0;
                for (int64_t p = 0; p < P; p++) {
                    const int64_t h = p * d->stride_h + r - d->pad_h;
                    if (h < 0 || h >= H) continue;
                    for (int64_t q = 0; q < Q; q++) {
                        const int64_t w = q * d->stride_w + s - d->pad_w;
                        if (w < 0 || w >= W) continue;
                        sum += gk[p * Q + q] * xc[h * W + w];
                    }
                }
                acc[kk * acc_k + r * S + s] += sum;
            }
        }
    }
}

#undef FC_KNAME
