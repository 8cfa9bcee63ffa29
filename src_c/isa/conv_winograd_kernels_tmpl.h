/* conv_winograd_kernels_tmpl.h -- input and output transforms of Winograd F(4x4, 3x3) for one
 * element type FC_T (suffix FC_SFX), included by conv_winograd_kernels.c. Every loop over the
 * FC_WINO_LANES tiles of a group has a fixed trip count and no dependence between lanes, so the
 * compiler turns it into SIMD code of the ISA this file is built for (the arithmetic is the
 * same in every build, without contraction into FMAs: results do not depend on the ISA).     */
#define WL FC_WINO_LANES
#define WN(base) FC_CAT(base, FC_SFX)
#define WK(base) FC_CAT(WN(base), WK_ISA_SFX)   /* the exported name of this build */

/* dst[e] = src[e] for e < n, n < 128 (nothing when n <= 0), as fixed-length copies of 64, 32,
 * ... 1 elements (n's binary digits), each of which compiles to whole vector moves. A plain
 * copy loop of n would become a call to memcpy, slow for these short rows; one fixed-length
 * loop with an "e < n" condition became masked moves in some places and, where the compiler
 * did not manage, a chain of 16 compares and scalar stores per row (40% of the transforms'
 * time with 14-tile groups, a 56x56 image).                                                  */
#define WINO_COPY_CHUNK(len)                                            \
    if (n & (len)) {                                                    \
        for (int e_ = 0; e_ < (len); e_++) dst[o_ + e_] = src[o_ + e_]; \
        o_ += (len);                                                    \
    }
static inline void WN(wino_copy_prefix)(FC_T *restrict dst, const FC_T *restrict src, int64_t n)
{
    int64_t o_ = 0;
    if (n <= 0) return;
    WINO_COPY_CHUNK(64)
    WINO_COPY_CHUNK(32)
    WINO_COPY_CHUNK(16)
    WINO_COPY_CHUNK(8)
    WINO_COPY_CHUNK(4)
    WINO_COPY_CHUNK(2)
    WINO_COPY_CHUNK(1)
}
#undef WINO_COPY_CHUNK

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

/* G applied to the 3 vectors g[0..2] (stride sg) into r[0..5] (stride sr), in double */
static inline void WN(wino_g)(const double *restrict g, int64_t sg, double *restrict r, int64_t sr)
{
    for (int l = 0; l < WL; l++) {
        const double g0 = g[l], g1 = g[sg + l], g2 = g[2 * sg + l];
        const double s02 = g0 + g2, e = g0 * (1.0 / 24) + g2 * (1.0 / 6);
        r[l] = g0 * 0.25;
        r[sr + l] = (s02 + g1) * (-1.0 / 6);
        r[2 * sr + l] = (s02 - g1) * (-1.0 / 6);
        r[3 * sr + l] = e + g1 * (1.0 / 12);
        r[4 * sr + l] = e - g1 * (1.0 / 12);
        r[5 * sr + l] = g2;
    }
}

void WK(fc_wino_weights) FC_WINO_W_ARGS(FC_T)
{
    /* one lane per input channel: gather 16 filters, transform, store 16 consecutive c */
    double gb[9 * WL], t[FC_WINO_A * 3 * WL], u[FC_WINO_XI * WL];
    for (int i = 0; i < 9 * WL; i++) gb[i] = 0;
    for (int64_t k = k0; k < k1; k++) {
        for (int64_t c0 = 0; c0 < C; c0 += WL) {
            const int cnt = (int)fc_min64(WL, C - c0);
            const FC_T *g = w + (k * C + c0) * 9;
            /* full groups get fixed-trip loops (measured 5-7% faster on 14x14 layers than
             * the variable-count loops the compiler versions itself)                      */
            if (cnt == WL) {
                for (int e = 0; e < 9; e++)
                    for (int l = 0; l < WL; l++) gb[e * WL + l] = (double)g[l * 9 + e];
            } else {
                for (int l = 0; l < cnt; l++)
                    for (int e = 0; e < 9; e++) gb[e * WL + l] = (double)g[l * 9 + e];
            }
            for (int s = 0; s < 3; s++)   /* t[:, s] = G g[:, s] */
                WN(wino_g)(gb + s * WL, 3 * WL, t + s * WL, 3 * WL);
            for (int i = 0; i < FC_WINO_A; i++)   /* u[i, :] = G t[i, :] */
                WN(wino_g)(t + i * 3 * WL, WL, u + i * FC_WINO_A * WL, WL);
            FC_T *dst = U + k * C + c0;
            if (cnt == WL) {
                for (int xi = 0; xi < FC_WINO_XI; xi++)
                    for (int l = 0; l < WL; l++) dst[xi * ld_xi + l] = (FC_T)u[xi * WL + l];
            } else {
                for (int xi = 0; xi < FC_WINO_XI; xi++)
                    for (int l = 0; l < cnt; l++) dst[xi * ld_xi + l] = (FC_T)u[xi * WL + l];
            }
        }
    }
}

/* lanes [0, cnt) of the 36 rows of a transformed tile group: dst[xi*ld_dst + l] =
 * src[xi*ld_src + l] (a full group with a fixed trip count, so it vectorises)               */
static inline void WN(wino_copy_lanes)(FC_T *restrict dst, int64_t ld_dst, const FC_T *restrict src,
                                       int64_t ld_src, int cnt)
{
    if (cnt == WL) {
        for (int xi = 0; xi < FC_WINO_XI; xi++)
            for (int l = 0; l < WL; l++) dst[xi * ld_dst + l] = src[xi * ld_src + l];
    } else {
        for (int xi = 0; xi < FC_WINO_XI; xi++)
#ifdef WINO_STORE_LANES
            WN(wino_store_lanes)(dst + xi * ld_dst, src + xi * ld_src, cnt);
#else
            WN(wino_copy_prefix)(dst + xi * ld_dst, src + xi * ld_src, cnt);
#endif
    }
}

/* V for one channel of a group: B^T patch B (columns t[:, j] = B^T patch[:, j], then rows
 * out[i, :] = B^T t[i, :]), stored as 36 rows of the group's cnt lanes at vc (stride ld_xi) */
static inline void WN(wino_input_store)(const FC_T *patch, int cnt, FC_T *vc, int64_t ld_xi)
{
    FC_T t[FC_WINO_A * FC_WINO_A * WL], out[FC_WINO_XI * WL];
    for (int j = 0; j < FC_WINO_A; j++)
        WN(wino_bt)(patch + j * WL, FC_WINO_A * WL, t + j * WL, FC_WINO_A * WL);
    for (int i = 0; i < FC_WINO_A; i++)
        WN(wino_bt)(t + i * FC_WINO_A * WL, WL, out + i * FC_WINO_A * WL, WL);
    WN(wino_copy_lanes)(vc, ld_xi, out, WL, cnt);
}

/* input transform of a row run: stage the 6 input rows (zero padded), deinterleave by 4 */
static void WN(wino_input_row)(const fc_conv_desc *d, const fc_wino_group *g, const FC_T *x,
                               int64_t c0, int64_t c1, FC_T *v, int64_t ld_xi, int64_t ld_c)
{
    enum { SPAN = FC_WINO_ROW_SPAN };
    const int64_t C = d->C, H = d->H, W = d->W, hw = H * W;
    const int cnt = g->cnt;
    const int64_t h0 = g->p0[0] - d->pad_h, w0 = g->q0[0] - d->pad_w;
    /* columns [a, b) of the staged rows come from the input, the rest stay zero */
    const int64_t a = fc_max64(0, -w0), b = fc_min64(FC_WINO_M * cnt + 2, W - w0);
    FC_T stage[FC_WINO_A * SPAN];
    FC_T patch[FC_WINO_A * FC_WINO_A * WL];
    for (int i = 0; i < FC_WINO_A * SPAN; i++) stage[i] = 0;
    const FC_T *img = x + g->n[0] * C * hw;
    for (int64_t c = c0; c < c1; c++) {
        const FC_T *plane = img + c * hw;
        for (int i = 0; i < FC_WINO_A; i++) {
            const int64_t h = h0 + i;
            if (h < 0 || h >= H) continue;   /* zero row */
            /* staged column e is input column w0 + e (only formed for e >= a: in bounds) */
            FC_T *restrict dst = stage + i * SPAN + a;
            const FC_T *restrict src = plane + h * W + (w0 + a);
            WN(wino_copy_prefix)(dst, src, b - a);
        }
        for (int i = 0; i < FC_WINO_A; i++) {
            const FC_T *restrict st = stage + i * SPAN;
            FC_T *restrict p = patch + i * FC_WINO_A * WL;
            /* tile l reads st[4l .. 4l + 5]: columns 0-3 as one interleaved group of 4,
             * columns 4 and 5 are columns 0 and 1 of the next tile                         */
            for (int l = 0; l < WL; l++) {
                const FC_T e0 = st[4 * l], e1 = st[4 * l + 1], e2 = st[4 * l + 2],
                           e3 = st[4 * l + 3];
                p[l] = e0;
                p[WL + l] = e1;
                p[2 * WL + l] = e2;
                p[3 * WL + l] = e3;
            }
            for (int l = 0; l < WL - 1; l++) {
                p[4 * WL + l] = p[l + 1];
                p[5 * WL + l] = p[WL + l + 1];
            }
            p[5 * WL - 1] = st[FC_WINO_M * WL];
            p[6 * WL - 1] = st[FC_WINO_M * WL + 1];
        }
        WN(wino_input_store)(patch, cnt, v + c * ld_c, ld_xi);
    }
}

void WK(fc_wino_input) FC_WINO_IN_ARGS(FC_T)
{
    const int64_t C = d->C, H = d->H, W = d->W, hw = H * W;
    const int cnt = g->cnt;
    if (g->row_run) {
        WN(wino_input_row)(d, g, x, c0, c1, v, ld_xi, ld_c);
        return;
    }
    /* patch[i][j][l]: the 6x6 input patch of lane l's tile */
    FC_T patch[FC_WINO_A * FC_WINO_A * WL];
    const FC_T *base[WL];
    for (int i = 0; i < FC_WINO_A * FC_WINO_A * WL; i++) patch[i] = 0;   /* idle lanes: zeros */
    for (int l = 0; l < cnt && g->in_inside; l++)   /* patch corners, inside x */
        base[l] = x + g->n[l] * C * hw + (g->p0[l] - d->pad_h) * W + (g->q0[l] - d->pad_w);
    for (int64_t c = c0; c < c1; c++) {
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
        WN(wino_input_store)(patch, cnt, v + c * ld_c, ld_xi);
    }
}

void WK(fc_wino_output) FC_WINO_OUT_ARGS(FC_T)
{
    const int64_t K = d->K, P = d->P, Q = d->Q, pq = P * Q;
    const int cnt = g->cnt;
    FC_T mm[FC_WINO_XI * WL], t[FC_WINO_M * FC_WINO_A * WL], o[FC_WINO_M * FC_WINO_M * WL];
    FC_T orow[FC_WINO_M * FC_WINO_M * WL];   /* a row run's 4 output rows */
    for (int64_t kk = 0; kk < kb; kk++) {
        const int64_t k = k0 + kk;
        const FC_T *mk = m + kk * ld_k;
        if (cnt == WL) {
            WN(wino_copy_lanes)(mm, WL, mk, ld_xi, cnt);
        } else {
            for (int xi = 0; xi < FC_WINO_XI; xi++)
                WN(wino_load_lanes)(mm + xi * WL, mk + xi * ld_xi, cnt);
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
        if (g->row_run) {   /* interleave the tiles' columns into 4 output rows, copy out */
            for (int i = 0; i < FC_WINO_M; i++) {
                const FC_T *oi = o + i * FC_WINO_M * WL;
                FC_T *restrict r = orow + i * FC_WINO_M * WL;
                for (int l = 0; l < WL; l++) {
                    r[4 * l] = oi[l];
                    r[4 * l + 1] = oi[WL + l];
                    r[4 * l + 2] = oi[2 * WL + l];
                    r[4 * l + 3] = oi[3 * WL + l];
                }
            }
            const int64_t p0 = g->p0[0], q0 = g->q0[0];
            const int64_t ni = fc_min64(FC_WINO_M, P - p0), nq = fc_min64(FC_WINO_M * cnt, Q - q0);
            FC_T *dst = y + (g->n[0] * K + k) * pq + p0 * Q + q0;
            for (int64_t i = 0; i < ni; i++) {
                FC_T *restrict yr = dst + i * Q;
                const FC_T *restrict r = orow + i * FC_WINO_M * WL;
                WN(wino_copy_prefix)(yr, r, nq);
            }
            continue;
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
