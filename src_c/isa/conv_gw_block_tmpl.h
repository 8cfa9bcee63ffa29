/* conv_gw_block_tmpl.h -- one register block of the direct grad_weight, included by
 * conv_direct_kernels_tmpl.h once per shape: CG_KB output channels x CG_TB taps (r, s) of the
 * kernel, accumulated over one image. Vectors run along a grad_y row (the reduction): each
 * grad_y vector is loaded once for all CG_TB taps, each input vector once for all CG_KB
 * channels; at the end each accumulator is summed across its lanes, in a fixed order.
 * Lanes past the row end, over the padding, or of channels/taps past the block's end load as
 * zeros (masks, no branches in the loop, so the accumulators stay in registers).
 *
 * Horizontal stride CG_SW (1 or 2). Channels k0 .. k0 + kn - 1 (kn <= CG_KB), taps
 * t0 .. t0 + tb - 1 (tb <= CG_TB; tap = r*S + s); acc points at channel k0's sums.        */
static void CG_NAME(CG_KB, CG_TB, CG_SW)(
    const fc_conv_desc *d, const FC_T *gy_n, const FC_T *xc, int64_t k0, int64_t kn,
    int64_t t0, int64_t tb, FC_T *acc, int64_t acc_k)
{
    const int64_t P = d->P, Q = d->Q, S = d->S, H = d->H, W = d->W;
    const int64_t sh = d->stride_h, sw = d->stride_w, ph = d->pad_h, pw = d->pad_w;
    const int64_t pq = P * Q;
    const FC_T *gk = gy_n + k0 * pq;
    int64_t tr[CG_TB], ts[CG_TB];
    CV_UNROLL
    for (int t = 0; t < CG_TB; t++) {
        const int64_t tap = t0 + fc_min64(t, tb - 1);
        tr[t] = tap / S;
        ts[t] = tap % S;
    }
    CV_VT a[CG_KB][CG_TB];
    CV_UNROLL
    for (int kk = 0; kk < CG_KB; kk++) {
        CV_UNROLL
        for (int t = 0; t < CG_TB; t++) a[kk][t] = CV_ZERO();
    }
    for (int64_t j0 = 0; j0 < Q; j0 += CV_VL) {
        const int64_t nq = fc_min64(CV_VL, Q - j0);
        CV_MT gm[CG_KB], xm[CG_TB][2];
        CV_UNROLL
        for (int kk = 0; kk < CG_KB; kk++) gm[kk] = CV_MASK(0, kk < kn ? nq : 0);
        CV_UNROLL
        for (int t = 0; t < CG_TB; t++) {
            const int64_t col = j0 * sw + ts[t] - pw;
            const int64_t lim = t < tb ? nq * sw : 0;
            xm[t][0] = CV_NAME(mask_lim)(col, W, lim);
            xm[t][1] = CV_NAME(mask_lim)(col + CV_VL, W, lim - CV_VL);
        }
        for (int64_t p = 0; p < P; p++) {
            const FC_T *gr = gk + p * Q + j0;
            CV_VT gv[CG_KB];
            CV_UNROLL
            for (int kk = 0; kk < CG_KB; kk++) gv[kk] = CV_MLOAD(gr + kk * pq, gm[kk]);
            const int64_t hp = p * sh - ph;
            CV_UNROLL
            for (int t = 0; t < CG_TB; t++) {
                const int64_t h = hp + tr[t];
                /* a padding row reads as zeros; computed without branches, which would make
                 * the compiler keep the accumulators in memory                           */
                const int row_ok = (uint64_t)h < (uint64_t)H;
                const FC_T *xr = xc + (h & -(int64_t)row_ok) * W + j0 * sw - pw + ts[t];
                CV_VT xv;
#if CG_SW == 1
                xv = CV_MLOAD(xr, CV_MASK_IF(xm[t][0], row_ok));
#else
                xv = CV_EVEN(CV_MLOAD(xr, CV_MASK_IF(xm[t][0], row_ok)),
                             CV_MLOAD(xr + CV_VL, CV_MASK_IF(xm[t][1], row_ok)));
#endif
                CV_UNROLL
                for (int kk = 0; kk < CG_KB; kk++) a[kk][t] = CV_FMA(gv[kk], xv, a[kk][t]);
            }
        }
    }
    /* constant indices only (unrolled loops): a runtime index into a[][] would force the
     * whole array into memory                                                             */
    CV_UNROLL
    for (int kk = 0; kk < CG_KB; kk++) {
        CV_UNROLL
        for (int t = 0; t < CG_TB; t++)
            if (kk < kn && t < tb) acc[kk * acc_k + t0 + t] += CV_HSUM(a[kk][t]);
    }
}
