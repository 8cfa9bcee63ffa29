/* simd_lanes.h -- vector primitives over lane masks, for the kernels in src_c/isa/ that move
 * partial vectors (conv_im2col_kernels.c, conv_winograd_kernels.c); AVX2 and AVX-512 builds
 * only. For each element type (f32, f64), SL_F32_VL / SL_F64_VL lanes of sl_f32_v / sl_f64_v
 * under lane masks sl_f32_m / sl_f64_m:
 *   sl_*_mask(lo, hi)      lanes [lo, hi): none when lo >= hi; 0 <= lo, hi <= 31, lanes from
 *                          VL on ignored
 *   sl_*_maskbits(bits)    lane i where bit i is set
 *   sl_*_load(p)           every lane
 *   sl_*_loadm(p, m)       the masked lanes, the others zero; no other lane is read
 *   sl_*_store(p, v)       every lane
 *   sl_*_storem(p, m, v)   the masked lanes only (AVX2's are microcoded on AMD CPUs: callers
 *                          use whole stores where they can)
 *   sl_*_even(a, b)        lanes 0, 2, 4, ... of the pair a, b
 * AVX-512's masks are bit masks, AVX2's vectors of lanes (all ones where set).               */
#ifndef FC_SIMD_LANES_H
#define FC_SIMD_LANES_H

#include "isa.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>

#if defined(__GNUC__)
#define SL_INLINE static inline __attribute__((always_inline))
#else
#define SL_INLINE static inline
#endif

#if FC_ISA_LEVEL == 2
SL_INLINE unsigned sl_bits(int64_t lo, int64_t hi)   /* bits [lo, hi) */
{
    return lo >= hi ? 0u : ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

typedef __m512 sl_f32_v;
typedef __mmask16 sl_f32_m;
#define SL_F32_VL 16
SL_INLINE sl_f32_m sl_f32_mask(int64_t lo, int64_t hi) { return (sl_f32_m)sl_bits(lo, hi); }
SL_INLINE sl_f32_m sl_f32_maskbits(unsigned bits) { return (sl_f32_m)bits; }
SL_INLINE sl_f32_v sl_f32_load(const float *p) { return _mm512_loadu_ps(p); }
SL_INLINE sl_f32_v sl_f32_loadm(const float *p, sl_f32_m m) { return _mm512_maskz_loadu_ps(m, p); }
SL_INLINE void sl_f32_store(float *p, sl_f32_v v) { _mm512_storeu_ps(p, v); }
SL_INLINE void sl_f32_storem(float *p, sl_f32_m m, sl_f32_v v) { _mm512_mask_storeu_ps(p, m, v); }
SL_INLINE sl_f32_v sl_f32_even(sl_f32_v a, sl_f32_v b)
{
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}

typedef __m512d sl_f64_v;
typedef __mmask8 sl_f64_m;
#define SL_F64_VL 8
SL_INLINE sl_f64_m sl_f64_mask(int64_t lo, int64_t hi) { return (sl_f64_m)sl_bits(lo, hi); }
SL_INLINE sl_f64_m sl_f64_maskbits(unsigned bits) { return (sl_f64_m)bits; }
SL_INLINE sl_f64_v sl_f64_load(const double *p) { return _mm512_loadu_pd(p); }
SL_INLINE sl_f64_v sl_f64_loadm(const double *p, sl_f64_m m) { return _mm512_maskz_loadu_pd(m, p); }
SL_INLINE void sl_f64_store(double *p, sl_f64_v v) { _mm512_storeu_pd(p, v); }
SL_INLINE void sl_f64_storem(double *p, sl_f64_m m, sl_f64_v v) { _mm512_mask_storeu_pd(p, m, v); }
SL_INLINE sl_f64_v sl_f64_even(sl_f64_v a, sl_f64_v b)
{
    return _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b);
}

#else
typedef __m256 sl_f32_v;
typedef __m256i sl_f32_m;
#define SL_F32_VL 8
SL_INLINE sl_f32_m sl_f32_mask(int64_t lo, int64_t hi)   /* 32-bit lanes */
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}
SL_INLINE sl_f32_m sl_f32_maskbits(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}
SL_INLINE sl_f32_v sl_f32_load(const float *p) { return _mm256_loadu_ps(p); }
SL_INLINE sl_f32_v sl_f32_loadm(const float *p, sl_f32_m m) { return _mm256_maskload_ps(p, m); }
SL_INLINE void sl_f32_store(float *p, sl_f32_v v) { _mm256_storeu_ps(p, v); }
SL_INLINE void sl_f32_storem(float *p, sl_f32_m m, sl_f32_v v) { _mm256_maskstore_ps(p, m, v); }
SL_INLINE sl_f32_v sl_f32_even(sl_f32_v a, sl_f32_v b)   /* a0 a2 a4 a6 b0 b2 b4 b6 */
{
    const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

typedef __m256d sl_f64_v;
typedef __m256i sl_f64_m;
#define SL_F64_VL 4
SL_INLINE sl_f64_m sl_f64_mask(int64_t lo, int64_t hi)   /* 64-bit lanes */
{
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), lane),
                               _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), lane));
}
SL_INLINE sl_f64_m sl_f64_maskbits(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x((long long)bits), bit), bit);
}
SL_INLINE sl_f64_v sl_f64_load(const double *p) { return _mm256_loadu_pd(p); }
SL_INLINE sl_f64_v sl_f64_loadm(const double *p, sl_f64_m m) { return _mm256_maskload_pd(p, m); }
SL_INLINE void sl_f64_store(double *p, sl_f64_v v) { _mm256_storeu_pd(p, v); }
SL_INLINE void sl_f64_storem(double *p, sl_f64_m m, sl_f64_v v) { _mm256_maskstore_pd(p, m, v); }
SL_INLINE sl_f64_v sl_f64_even(sl_f64_v a, sl_f64_v b)   /* a0 a2 b0 b2 */
{
    return _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), _MM_SHUFFLE(3, 1, 2, 0));
}
#endif

#endif
#endif
