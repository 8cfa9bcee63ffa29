/* pool_kernels.c -- SIMD max pooling of an output row segment (see pool_internal.h).
 *
 * Each vector lane is one output. For every element of the window in row-major order the lane
 * takes the element if it is greater than the running maximum or NaN (torch's rule, two
 * compares and two masked moves, no branches); the index kept is the window-relative offset
 * h*W + k as a broadcast constant, and the column of the window's start is added once at the
 * end. Stride 2 loads two vectors of the input row and keeps the even elements.              */
#include "isa.h"
#include "../pool_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

#if FC_ISA_LEVEL == 2

int64_t FC_ISA_FN(fc_maxpool_rowseg_f32) FC_MAXPOOL_ROWSEG_ARGS(float)
{
    if (sw != 1 && sw != 2) return 0;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i lane_col = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32((int)sw));
    for (int64_t j0 = 0; j0 < nq; j0 += 16) {
        const int64_t m = fc_min64(16, nq - j0);
        const __mmask16 kq = (__mmask16)((1u << m) - 1);
        const int64_t span = (m - 1) * sw + 1;   /* input elements one window column spans */
        const __mmask16 ka = (__mmask16)(span >= 16 ? 0xffffu : (1u << span) - 1);
        const __mmask16 kb = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1 : 0);
        const int64_t start = c0 + j0 * sw;
        __m512 best = _mm512_setzero_ps();
        __m512i at = _mm512_setzero_si512();
        for (int64_t h = h0; h < h1; ++h) {
            for (int64_t k = 0; k < kw; ++k) {
                const int64_t off = h * W + start + k;
                const float *src = x + off;
                __m512 v;
                /* whole-vector loads while they stay inside the plane, masked ones at its end */
                if (sw == 1) {
                    v = off + 16 <= plane_size ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(kq, src);
                } else {
                    __m512 a, b;
                    if (off + 32 <= plane_size) {
                        a = _mm512_loadu_ps(src);
                        b = _mm512_loadu_ps(src + 16);
                    } else {
                        a = _mm512_maskz_loadu_ps(ka, src);
                        b = _mm512_maskz_loadu_ps(kb, src + 16);
                    }
                    v = _mm512_permutex2var_ps(a, even, b);
                }
                const __m512i e = _mm512_set1_epi32((int)(h * W + k));
                if (h == h0 && k == 0) {
                    best = v;
                    at = e;
                } else {
                    const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                           _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    best = _mm512_mask_mov_ps(best, take, v);
                    at = _mm512_mask_mov_epi32(at, take, e);
                }
            }
        }
        _mm512_mask_storeu_ps(y + j0, kq, best);
        if (idx) {
            at = _mm512_add_epi32(at, _mm512_add_epi32(_mm512_set1_epi32((int)start), lane_col));
            _mm512_mask_storeu_epi64(idx + j0, (__mmask8)kq,
                                     _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
            _mm512_mask_storeu_epi64(idx + j0 + 8, (__mmask8)(kq >> 8),
                                     _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
        }
    }
    return nq;
}

int64_t FC_ISA_FN(fc_maxpool_rowseg_f64) FC_MAXPOOL_ROWSEG_ARGS(double)
{
    if (sw != 1 && sw != 2) return 0;
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i lane_col = _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(sw));
    for (int64_t j0 = 0; j0 < nq; j0 += 8) {
        const int64_t m = fc_min64(8, nq - j0);
        const __mmask8 kq = (__mmask8)((1u << m) - 1);
        const int64_t span = (m - 1) * sw + 1;
        const __mmask8 ka = (__mmask8)(span >= 8 ? 0xffu : (1u << span) - 1);
        const __mmask8 kb = (__mmask8)(span > 8 ? (1u << (span - 8)) - 1 : 0);
        const int64_t start = c0 + j0 * sw;
        __m512d best = _mm512_setzero_pd();
        __m512i at = _mm512_setzero_si512();
        for (int64_t h = h0; h < h1; ++h) {
            for (int64_t k = 0; k < kw; ++k) {
                const int64_t off = h * W + start + k;
                const double *src = x + off;
                __m512d v;
                if (sw == 1) {
                    v = off + 8 <= plane_size ? _mm512_loadu_pd(src) : _mm512_maskz_loadu_pd(kq, src);
                } else {
                    __m512d a, b;
                    if (off + 16 <= plane_size) {
                        a = _mm512_loadu_pd(src);
                        b = _mm512_loadu_pd(src + 8);
                    } else {
                        a = _mm512_maskz_loadu_pd(ka, src);
                        b = _mm512_maskz_loadu_pd(kb, src + 8);
                    }
                    v = _mm512_permutex2var_pd(a, even, b);
                }
                const __m512i e = _mm512_set1_epi64(h * W + k);
                if (h == h0 && k == 0) {
                    best = v;
                    at = e;
                } else {
                    const __mmask8 take = _mm512_cmp_pd_mask(v, best, _CMP_GT_OQ) |
                                          _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
                    best = _mm512_mask_mov_pd(best, take, v);
                    at = _mm512_mask_mov_epi64(at, take, e);
                }
            }
        }
        _mm512_mask_storeu_pd(y + j0, kq, best);
        if (idx) {
            at = _mm512_add_epi64(at, _mm512_add_epi64(_mm512_set1_epi64(start), lane_col));
            _mm512_mask_storeu_epi64(idx + j0, kq, at);
        }
    }
    return nq;
}

#elif FC_ISA_LEVEL == 1

/* lanes i < n all ones (32-bit lanes) */
static inline __m256i first_lanes32(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)fc_max64(fc_min64(n, 8), 0)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* lanes i < n all ones (64-bit lanes) */
static inline __m256i first_lanes64(int64_t n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(fc_max64(fc_min64(n, 4), 0)), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* Stride 2 keeps the even elements with one in-lane shuffle, which leaves the outputs in the
 * order 0 1 4 5 2 3 6 7 (float) or 0 2 1 3 (double); one 64-bit permute puts them back at the
 * end. The order does not matter before: lanes are independent.                              */
#define UNSCRAMBLE 0xd8   /* _MM_SHUFFLE(3, 1, 2, 0) */

int64_t FC_ISA_FN(fc_maxpool_rowseg_f32) FC_MAXPOOL_ROWSEG_ARGS(float)
{
    if (sw != 1 && sw != 2) return 0;
    const __m256i lane_col = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
    for (int64_t j0 = 0; j0 < nq; j0 += 8) {
        const int64_t m = fc_min64(8, nq - j0);
        const int64_t span = (m - 1) * sw + 1;
        const __m256i mq = first_lanes32(m), ma = first_lanes32(span), mb = first_lanes32(span - 8);
        const int64_t start = c0 + j0 * sw;
        __m256 best = _mm256_setzero_ps();
        __m256i at = _mm256_setzero_si256();
        for (int64_t h = h0; h < h1; ++h) {
            for (int64_t k = 0; k < kw; ++k) {
                const int64_t off = h * W + start + k;
                const float *src = x + off;
                __m256 v;
                if (sw == 1) {
                    v = off + 8 <= plane_size ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mq);
                } else {
                    __m256 a, b;
                    if (off + 16 <= plane_size) {
                        a = _mm256_loadu_ps(src);
                        b = _mm256_loadu_ps(src + 8);
                    } else {
                        a = _mm256_maskload_ps(src, ma);
                        b = _mm256_maskload_ps(src + 8, mb);
                    }
                    v = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
                }
                const __m256i e = _mm256_set1_epi32((int)(h * W + k));
                if (h == h0 && k == 0) {
                    best = v;
                    at = e;
                } else {
                    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    best = _mm256_blendv_ps(best, v, take);
                    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(e), take));
                }
            }
        }
        if (sw == 2) {
            best = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(best), UNSCRAMBLE));
            at = _mm256_permute4x64_epi64(at, UNSCRAMBLE);
        }
        if (m == 8) _mm256_storeu_ps(y + j0, best);
        else _mm256_maskstore_ps(y + j0, mq, best);
        if (idx) {
            at = _mm256_add_epi32(at, _mm256_add_epi32(_mm256_set1_epi32((int)start), lane_col));
            const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at));
            const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1));
            if (m == 8) {
                _mm256_storeu_si256((__m256i *)(idx + j0), lo);
                _mm256_storeu_si256((__m256i *)(idx + j0 + 4), hi);
            } else {
                _mm256_maskstore_epi64((long long *)(idx + j0), first_lanes64(m), lo);
                _mm256_maskstore_epi64((long long *)(idx + j0 + 4), first_lanes64(m - 4), hi);
            }
        }
    }
    return nq;
}

int64_t FC_ISA_FN(fc_maxpool_rowseg_f64) FC_MAXPOOL_ROWSEG_ARGS(double)
{
    if (sw != 1 && sw != 2) return 0;
    const __m256i lane_col = _mm256_setr_epi64x(0, sw, 2 * sw, 3 * sw);
    for (int64_t j0 = 0; j0 < nq; j0 += 4) {
        const int64_t m = fc_min64(4, nq - j0);
        const int64_t span = (m - 1) * sw + 1;
        const __m256i mq = first_lanes64(m), ma = first_lanes64(span), mb = first_lanes64(span - 4);
        const int64_t start = c0 + j0 * sw;
        __m256d best = _mm256_setzero_pd();
        __m256i at = _mm256_setzero_si256();
        for (int64_t h = h0; h < h1; ++h) {
            for (int64_t k = 0; k < kw; ++k) {
                const int64_t off = h * W + start + k;
                const double *src = x + off;
                __m256d v;
                if (sw == 1) {
                    v = off + 4 <= plane_size ? _mm256_loadu_pd(src) : _mm256_maskload_pd(src, mq);
                } else {
                    __m256d a, b;
                    if (off + 8 <= plane_size) {
                        a = _mm256_loadu_pd(src);
                        b = _mm256_loadu_pd(src + 4);
                    } else {
                        a = _mm256_maskload_pd(src, ma);
                        b = _mm256_maskload_pd(src + 4, mb);
                    }
                    v = _mm256_unpacklo_pd(a, b);
                }
                const __m256i e = _mm256_set1_epi64x(h * W + k);
                if (h == h0 && k == 0) {
                    best = v;
                    at = e;
                } else {
                    const __m256d take = _mm256_or_pd(_mm256_cmp_pd(v, best, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
                    best = _mm256_blendv_pd(best, v, take);
                    at = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(at), _mm256_castsi256_pd(e), take));
                }
            }
        }
        if (sw == 2) {
            best = _mm256_permute4x64_pd(best, UNSCRAMBLE);
            at = _mm256_permute4x64_epi64(at, UNSCRAMBLE);
        }
        if (m == 4) _mm256_storeu_pd(y + j0, best);
        else _mm256_maskstore_pd(y + j0, mq, best);
        if (idx) {
            at = _mm256_add_epi64(at, _mm256_add_epi64(_mm256_set1_epi64x(start), lane_col));
            if (m == 4) _mm256_storeu_si256((__m256i *)(idx + j0), at);
            else _mm256_maskstore_epi64((long long *)(idx + j0), mq, at);
        }
    }
    return nq;
}

#else /* portable build: the generic code in pool_max.c does everything */

int64_t FC_ISA_FN(fc_maxpool_rowseg_f32) FC_MAXPOOL_ROWSEG_ARGS(float)
{
    (void)x, (void)plane_size, (void)W, (void)h0, (void)h1, (void)kw, (void)sw, (void)c0, (void)nq;
    (void)y, (void)idx;
    return 0;
}

int64_t FC_ISA_FN(fc_maxpool_rowseg_f64) FC_MAXPOOL_ROWSEG_ARGS(double)
{
    (void)x, (void)plane_size, (void)W, (void)h0, (void)h1, (void)kw, (void)sw, (void)c0, (void)nq;
    (void)y, (void)idx;
    return 0;
}

#endif
