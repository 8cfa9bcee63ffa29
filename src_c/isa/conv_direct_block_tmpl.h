/* conv_direct_block_tmpl.h -- one register-blocked micro-kernel of the correlation, included
 * by conv_direct_kernels_tmpl.h once per shape: CB_OB output channels x CB_NV vectors of
 * output pixels, CB_MASKED = 1 when some input columns fall outside the row (padding, the
 * right edge): those lanes are loaded masked, as zeros, and never read.
 *
 * Computes out rows i (one row) pixels [j0, j0 + nj) for channels o0 .. o0 + CB_OB - 1:
 *   wo = wbase + o0*w_o, init_o = init + o0 (or NULL), out_o = out + o0*hwout + i*Wout.    */
/* the loops over o and v must be unrolled completely, so that acc and xv live in registers */
#ifndef CV_UNROLL
#define CV_UNROLL _Pragma("GCC unroll 8")
#endif
static inline void FC_CAT(FC_CAT(FC_CAT(cv_block_, CB_OB), FC_CAT(_, CB_NV)),
                          FC_CAT(FC_CAT(_, CB_MASKED), FC_SFX))(
    const fc_corr_geom *g, const FC_T *in, const FC_T *wo, const FC_T *init_o, int relu,
    int64_t hin0, int64_t r0, int64_t r1, int64_t j0, int64_t nj, FC_T *out_o, int64_t hwout)
{
    CV_VT acc[CB_OB][CB_NV];
    CV_UNROLL
    for (int o = 0; o < CB_OB; o++) {
        const CV_VT b = init_o ? CV_SET1(init_o[o]) : CV_ZERO();
        CV_UNROLL
        for (int v = 0; v < CB_NV; v++) acc[o][v] = b;
    }
    const int64_t hwin = g->Hin * g->Win, Win = g->Win, S = g->S;
    const int64_t w_o = g->w_o, w_c = g->w_c, w_r = g->w_r, w_s = g->w_s;
    const int64_t jin0 = j0 - g->ow;   /* input column of lane 0 for tap s = 0 */
    for (int64_t c = 0; c < g->IC; c++) {
        const FC_T *inc = in + c * hwin + jin0;
        const FC_T *wc = wo + c * w_c;
        for (int64_t r = r0; r < r1; r++) {
            const FC_T *row = inc + (hin0 + r) * Win;
            const FC_T *wr = wc + r * w_r;
            for (int64_t s = 0; s < S; s++) {
                CV_VT xv[CB_NV];
#if CB_MASKED
                CV_UNROLL
                for (int v = 0; v < CB_NV; v++) {
                    const int64_t col = jin0 + s + (int64_t)v * CV_VL;
                    const int64_t lo = fc_min64(fc_max64(-col, 0), CV_VL);
                    const int64_t hi = fc_max64(fc_min64(Win - col, CV_VL), lo);
                    /* masked-off lanes are neither read nor faulted on */
                    xv[v] = hi > lo ? CV_MLOAD(row + s + v * CV_VL, CV_MASK(lo, hi)) : CV_ZERO();
                }
#else
                CV_UNROLL
                for (int v = 0; v < CB_NV; v++) xv[v] = CV_LOAD(row + s + v * CV_VL);
#endif
                const FC_T *ws = wr + s * w_s;
                CV_UNROLL
                for (int o = 0; o < CB_OB; o++) {
                    const CV_VT wv = CV_SET1(ws[o * w_o]);
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++) acc[o][v] = CV_FMA(xv[v], wv, acc[o][v]);
                }
            }
        }
    }
    CV_UNROLL
    for (int o = 0; o < CB_OB; o++) {
        FC_T *dst = out_o + o * hwout + j0;
        CV_UNROLL
        for (int v = 0; v < CB_NV; v++) {
            const CV_VT a = relu ? CV_MAX0(acc[o][v]) : acc[o][v];
            const int64_t lanes = nj - (int64_t)v * CV_VL;
            if (lanes >= CV_VL)
                CV_STORE(dst + v * CV_VL, a);
            else if (lanes > 0)
                CV_MSTORE(dst + v * CV_VL, CV_MASK(0, lanes), a);
        }
    }
}
