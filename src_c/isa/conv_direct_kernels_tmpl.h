/* conv_direct_kernels_tmpl.h -- body of conv_direct_kernels.c for one element type FC_T
 * (suffix FC_SFX); included once per type.                                                  */
#if FC_ISA_LEVEL == 2
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _avx512)
#elif FC_ISA_LEVEL == 1
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _avx2)
#else
#define FC_KNAME(base) FC_CAT(FC_CAT(base, FC_SFX), _scalar)
#endif

/* Generic correlation (any stride, any offsets): one output at a time, bounds per tap. */
static void FC_CAT(corr_rows_generic, FC_SFX) FC_CORR_ARGS(FC_T)
{
    const int64_t hwin = g->Hin * g->Win, hwout = g->Hout * g->Wout;
    for (int64_t o = o0; o < o0 + nb; o++) {
        const FC_T *wo = wbase + o * g->w_o;
        const FC_T b = init ? init[o] : (FC_T)0;
        for (int64_t i = i0; i < i1; i++) {
            FC_T *orow = out + o * hwout + i * g->Wout;
            for (int64_t j = 0; j < g->Wout; j++) {
                FC_T acc = b;
                for (int64_t c = 0; c < g->IC; c++) {
                    const FC_T *inc = in + c * hwin;
                    const FC_T *wc = wo + c * g->w_c;
                    for (int64_t r = 0; r < g->R; r++) {
                        const int64_t h = i * g->sh + r - g->oh;
                        if (h < 0 || h >= g->Hin) continue;
                        for (int64_t s = 0; s < g->S; s++) {
                            const int64_t w = j * g->sw + s - g->ow;
                            if (w < 0 || w >= g->Win) continue;
                            acc += inc[h * g->Win + w] * wc[r * g->w_r + s * g->w_s];
                        }
                    }
                }
                orow[j] = (relu && acc < 0) ? (FC_T)0 : acc;
            }
        }
    }
}

void FC_KNAME(fc_corr_rows) FC_CORR_ARGS(FC_T)
{
    FC_CAT(corr_rows_generic, FC_SFX)(g, in, wbase, init, relu, o0, nb, i0, i1, out);
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
