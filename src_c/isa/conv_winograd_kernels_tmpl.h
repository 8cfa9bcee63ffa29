/* conv_winograd_kernels_tmpl.h -- input and output transforms of Winograd F(4x4, 3x3) for one
 * element type FC_T (suffix FC_SFX), included by conv_winograd_kernels.c. Every loop over the
 * FC_WINO_LANES tiles of a group has a fixed trip count and no dependence between lanes, so the
 * compiler turns it into SIMD code of the ISA this file is built for (the arithmetic is the
 * same in every build, without contraction into FMAs: results do not depend on the ISA).     */
#define WL FC_WINO_LANES
#define WN(base) FC_CAT(base, FC_SFX)
#define WK(base) FC_CAT(WN(base), WK_ISA_SFX)   /* the exported name of this build */

/* B^T applied to the 6 vectors d[0..5] (stride sd) into r[0..5] (stride sr), lane by lane */
static inline void WN(wino_bt)(const FC_T *restrict d, int64_t sd, FC_T *restrict r, int64_t sr)
{
    for (int l = 0; l < WL; l++) {
        const FC_T d0 = d[l], d1 = d[sd + l], d2 = d[2 * sd + l], d3 = d[3 * sd + l],
                   d4 = d[4 * sd + l], d5 = d[5 * sd + l];
        const FC_T a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1);
        r[l] = (4 * d0 - 5 * d2) + d4;
        r[sr + l] = a + b;
        r[2 * sr + l] = a - b;
        r[3 * sr + l] = c + e;
        r[4 * sr + l] = c - e;
        r[5 * sr + l] = (4 * d1 - 5 * d3) + d5;
    }
}

/* A^T applied to the 6 vectors m[0..5] (stride sm) into o[0..3] (stride so) */
static inline void WN(wino_at)(const FC_T *restrict m, int64_t sm, FC_T *restrict o, int64_t so)
{
    for (int l = 0; l < WL; l++) {
        const FC_T m0 = m[l], m1 = m[sm + l], m2 = m[2 * sm + l], m3 = m[3 * sm + l],
                   m4 = m[4 * sm + l], m5 = m[5 * sm + l];
        const FC_T s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        o[l] = (m0 + s12) + s34;
        o[so + l] = d12 + 2 * d34;
        o[2 * so + l] = s12 + 4 * s34;
        o[3 * so + l] = (d12 + 8 * d34) + m5;
    }
}

void WK(fc_wino_input) FC_WINO_IN_ARGS(FC_T)
{
    const int64_t C = d->C, H = d->H, W = d->W, hw = H * W;
    const int cnt = g->cnt;
    /* patch[i][j][l] then the column pass t[i][j][l], the row pass into out[i][j][l] */
    FC_T patch[FC_WINO_A * FC_WINO_A * WL], t[FC_WINO_A * FC_WINO_A * WL];
    FC_T out[FC_WINO_XI * WL];
    const FC_T *base[WL];
    for (int i = 0; i < FC_WINO_A * FC_WINO_A * WL; i++) patch[i] = 0;   /* idle lanes: zeros */
    for (int l = 0; l < cnt; l++)
        base[l] = x + g->n[l] * C * hw + (g->p0[l] - d->pad_h) * W + (g->q0[l] - d->pad_w);
    for (int64_t c = 0; c < C; c++) {
        const int64_t co = c * hw;
        if (g->in_inside) {
            for (int l = 0; l < cnt; l++) {
                const FC_T *src = base[l] + co;
                for (int i = 0; i < FC_WINO_A; i++)
                    for (int j = 0; j < FC_WINO_A; j++)
                        patch[(i * FC_WINO_A + j) * WL + l] = src[i * W + j];
            }
        } else {
            for (int l = 0; l < cnt; l++) {
                const int64_t h0 = g->p0[l] - d->pad_h, w0 = g->q0[l] - d->pad_w;
                const FC_T *plane = x + g->n[l] * C * hw + co;
                for (int i = 0; i < FC_WINO_A; i++) {
                    const int64_t h = h0 + i;
                    for (int j = 0; j < FC_WINO_A; j++) {
                        const int64_t w = w0 + j;
                        patch[(i * FC_WINO_A + j) * WL + l] =
                            (h >= 0 && h < H && w >= 0 && w < W) ? plane[h * W + w] : (FC_T)0;
                    }
                }
            }
        }
        /* columns: t[:, j] = B^T patch[:, j]; rows: out[i, :] = B^T t[i, :] */
        for (int j = 0; j < FC_WINO_A; j++)
            WN(wino_bt)(patch + j * WL, FC_WINO_A * WL, t + j * WL, FC_WINO_A * WL);
        for (int i = 0; i < FC_WINO_A; i++)
            WN(wino_bt)(t + i * FC_WINO_A * WL, WL, out + i * FC_WINO_A * WL, WL);
        FC_T *vc = v + c * ld_c;
        if (cnt == WL) {
            for (int xi = 0; xi < FC_WINO_XI; xi++)
                for (int l = 0; l < WL; l++) vc[xi * ld_xi + l] = out[xi * WL + l];
        } else {
            for (int xi = 0; xi < FC_WINO_XI; xi++)
                for (int l = 0; l < cnt; l++) vc[xi * ld_xi + l] = out[xi * WL + l];
        }
    }
}

void WK(fc_wino_output) FC_WINO_OUT_ARGS(FC_T)
{
    const int64_t K = d->K, P = d->P, Q = d->Q, pq = P * Q;
    const int cnt = g->cnt;
    FC_T mm[FC_WINO_XI * WL], t[FC_WINO_M * FC_WINO_A * WL], o[FC_WINO_M * FC_WINO_M * WL];
    for (int i = 0; i < FC_WINO_XI * WL; i++) mm[i] = 0;
    for (int64_t kk = 0; kk < kb; kk++) {
        const int64_t k = k0 + kk;
        const FC_T *mk = m + kk * ld_k;
        if (cnt == WL) {
            for (int xi = 0; xi < FC_WINO_XI; xi++)
                for (int l = 0; l < WL; l++) mm[xi * WL + l] = mk[xi * ld_xi + l];
        } else {
            for (int xi = 0; xi < FC_WINO_XI; xi++)
                for (int l = 0; l < cnt; l++) mm[xi * WL + l] = mk[xi * ld_xi + l];
        }
        /* columns: t[:, j] = A^T mm[:, j] (6 -> 4 rows); rows: o[i, :] = A^T t[i, :] */
        for (int j = 0; j < FC_WINO_A; j++)
            WN(wino_at)(mm + j * WL, FC_WINO_A * WL, t + j * WL, FC_WINO_A * WL);
        for (int i = 0; i < FC_WINO_M; i++)
            WN(wino_at)(t + i * FC_WINO_A * WL, WL, o + i * FC_WINO_M * WL, WL);
        const FC_T b = bias ? bias[k] : (FC_T)0;
        for (int e = 0; e < FC_WINO_M * FC_WINO_M * WL; e++) {
            FC_T val = o[e] + b;
            if (relu) val = val < 0 ? (FC_T)0 : val;
            o[e] = val;
        }
        for (int l = 0; l < cnt; l++) {
            FC_T *dst = y + (g->n[l] * K + k) * pq + g->p0[l] * Q + g->q0[l];
            if (g->out_inside) {
                for (int i = 0; i < FC_WINO_M; i++)
                    for (int j = 0; j < FC_WINO_M; j++)
                        dst[i * Q + j] = o[(i * FC_WINO_M + j) * WL + l];
            } else {
                const int64_t ni = fc_min64(FC_WINO_M, P - g->p0[l]);
                const int64_t nj = fc_min64(FC_WINO_M, Q - g->q0[l]);
                for (int64_t i = 0; i < ni; i++)
                    for (int64_t j = 0; j < nj; j++)
                        dst[i * Q + j] = o[(i * FC_WINO_M + j) * WL + l];
            }
        }
    }
}

#undef WL
#undef WN
#undef WK
