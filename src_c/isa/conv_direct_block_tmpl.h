/* conv_direct_block_tmpl.h -- one register-blocked micro-kernel of the correlation, included
 * by conv_direct_kernels_tmpl.h once per shape: CB_OB output channels x CB_NR output rows x
 * CB_NV vectors of output pixels per row, horizontal stride CB_SW (1 or 2; 3 = stride 2 on
 * rows stored split into even and odd columns, see fc_corr_geom.split_w), CB_MASKED = 1
 * when some input columns fall outside the row (padding, the right edge): those lanes are
 * loaded masked, as zeros, and never read. Each weight broadcast feeds CB_NR * CB_NV FMAs,
 * each input vector CB_OB.
 *
 * Computes out rows i .. i + CB_NR - 1, pixels [j0, j0 + nj), channels o0 .. o0 + CB_OB - 1:
 *   wo = wbase + o0*w_o, init_o = init + o0 (or NULL), out_o = out + o0*out_ps + i*out_rs,
 *   hin0 = i*sh - oh; kernel rows [r0, r1) (with CB_NR > 1, every row reads all of them). */
static inline void CV_BLOCK_NAME(CB_OB, CB_NR, CB_NV, CB_MASKED, CB_SW)(
    const fc_corr_geom *g, const FC_T *in, const FC_T *wo, const FC_T *init_o, int relu,
    int64_t hin0, int64_t r0, int64_t r1, int64_t j0, int64_t nj, FC_T *out_o)
{
    CV_VT acc[CB_OB][CB_NR * CB_NV];
    CV_UNROLL
    for (int o = 0; o < CB_OB; o++) {
        const CV_VT b = init_o ? CV_SET1(init_o[o]) : CV_ZERO();
        CV_UNROLL
        for (int u = 0; u < CB_NR * CB_NV; u++) acc[o][u] = b;
    }
    const int64_t row_step = g->sh * g->Win;   /* input distance between output rows */
    const int64_t hwin = g->Hin * g->Win, Win = g->Win, S = g->S;
    const int64_t w_o = g->w_o, w_c = g->w_c, w_r = g->w_r, w_s = g->w_s;
#if CB_SW == 3
    const int64_t jin0 = j0;   /* split rows (g->split_w): lane 0 of tap s = 0 is even column j0 */
    const int64_t half = g->split_w;
#else
    const int64_t jin0 = j0 * CB_SW - g->ow;   /* input column of lane 0 for tap s = 0 */
#endif
#if CB_MASKED
    /* the masks depend on the tap column and the vector only: computed once per block for the
     * first CV_SMAX taps (wider kernels compute the rest on the fly)                         */
    CV_MT mk[CV_SMAX][CB_NV * CB_SW];
    for (int64_t s = 0; s < fc_min64(S, CV_SMAX); s++) {
        CV_UNROLL
        for (int u = 0; u < CB_NV * CB_SW; u++) mk[s][u] = CV_NAME(mask_for)(jin0 + s + u * CV_VL, Win);
    }
#endif
    for (int64_t c = 0; c < g->IC; c++) {
        const FC_T *inc = in + c * hwin + jin0;
        const FC_T *wc = wo + c * w_c;
        for (int64_t r = r0; r < r1; r++) {
            const FC_T *row0 = inc + (hin0 + r) * Win;
            const FC_T *wr = wc + r * w_r;
            for (int64_t s = 0; s < S; s++) {
                CV_VT xv[CB_NR * CB_NV];
                CV_UNROLL
                for (int rr = 0; rr < CB_NR; rr++) {
                    const FC_T *row = row0 + rr * row_step;
                    (void)row;
#if CB_SW == 3
                    /* stride 2 on split rows: tap s reads the even (s even) or odd half,
                     * s / 2 further on -- one plain load, no shuffle                       */
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++)
                        xv[rr * CB_NV + v] = CV_LOAD(row + (s & 1) * half + (s >> 1) + v * CV_VL);
#elif CB_SW == 1 && CB_MASKED
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++)
                        xv[rr * CB_NV + v] = CV_MLOAD(row + s + v * CV_VL,
                            s < CV_SMAX ? mk[s][v] : CV_NAME(mask_for)(jin0 + s + v * CV_VL, Win));
#elif CB_SW == 1
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++) xv[rr * CB_NV + v] = CV_LOAD(row + s + v * CV_VL);
#elif CB_MASKED
                    /* stride 2: lanes are every other input column; load the 2*VL columns
                     * they span and keep the even ones                                      */
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++) {
                        const CV_VT lo = CV_MLOAD(row + s + 2 * v * CV_VL,
                            s < CV_SMAX ? mk[s][2 * v] : CV_NAME(mask_for)(jin0 + s + 2 * v * CV_VL, Win));
                        const CV_VT hi = CV_MLOAD(row + s + (2 * v + 1) * CV_VL,
                            s < CV_SMAX ? mk[s][2 * v + 1] : CV_NAME(mask_for)(jin0 + s + (2 * v + 1) * CV_VL, Win));
                        xv[rr * CB_NV + v] = CV_EVEN(lo, hi);
                    }
#else
                    CV_UNROLL
                    for (int v = 0; v < CB_NV; v++)
                        xv[rr * CB_NV + v] = CV_EVEN(CV_LOAD(row + s + 2 * v * CV_VL),
                                                     CV_LOAD(row + s + (2 * v + 1) * CV_VL));
#endif
                }
                const FC_T *ws = wr + s * w_s;
                CV_UNROLL
                for (int o = 0; o < CB_OB; o++) {
                    const CV_VT wv = CV_SET1(ws[o * w_o]);
                    CV_UNROLL
                    for (int u = 0; u < CB_NR * CB_NV; u++) acc[o][u] = CV_FMA(xv[u], wv, acc[o][u]);
                }
            }
        }
    }
    CV_UNROLL
    for (int o = 0; o < CB_OB; o++) {
        CV_UNROLL
        for (int rr = 0; rr < CB_NR; rr++) {
            FC_T *dst = out_o + o * g->out_ps + rr * g->out_rs + j0 * g->out_cs;
            CV_UNROLL
            for (int v = 0; v < CB_NV; v++) {
                const CV_VT a = relu ? CV_MAX0(acc[o][rr * CB_NV + v]) : acc[o][rr * CB_NV + v];
                const int64_t lanes = nj - (int64_t)v * CV_VL;
                if (g->out_cs != 1) {
                    /* a strided sub-grid (one phase of a strided grad_input): lane by lane */
                    FC_T lane[CV_VL];
                    CV_STORE(lane, a);
                    for (int64_t l = 0; l < fc_min64(lanes, CV_VL); l++)
                        dst[(v * CV_VL + l) * g->out_cs] = lane[l];
                } else if (lanes >= CV_VL) {
                    CV_STORE(dst + v * CV_VL, a);
                } else if (lanes > 0) {
                    CV_MSTORE(dst + v * CV_VL, CV_MASK(0, lanes), a);
                }
            }
        }
    }
}
