/* pool_kernels.c -- SIMD max pooling (see pool_internal.h, fc_maxpool_rows_*): the primitives
 * of each ISA and dtype, and pool_kernels_tmpl.h instantiated over them. The portable build
 * returns 0 (nothing done) and pool_max.c's generic loop does the work.                      */
#include "isa.h"
#include "../pool_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define PK_INLINE static inline __attribute__((always_inline))
#else
#define PK_INLINE static inline
#endif

int FC_ISA_FN(fc_pool_indices_ok)(const int64_t *idx, int64_t n, int64_t plane_size)
{
    int64_t acc = 0;
    for (int64_t i = 0; i < n; ++i) acc |= idx[i] | (plane_size - 1 - idx[i]);
    return acc >= 0;
}

#if FC_ISA_LEVEL == 2

/* ---- AVX-512, float: 16 lanes, 32-bit indices ------------------------------------------------ */
#define T float
#define V __m512
#define I __m512i
#define LANES 16
#define PK(name) pk_f32_##name
#define PK_ENTRY FC_ISA_FN(fc_maxpool_rows_f32)

PK_INLINE __mmask16 pk_f32_first(int64_t n) { return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1); }
PK_INLINE V pk_f32_zero(void) { return _mm512_setzero_ps(); }
PK_INLINE V pk_f32_load(const T *p) { return _mm512_loadu_ps(p); }
PK_INLINE V pk_f32_loadn(const T *p, int64_t n) { return _mm512_maskz_loadu_ps(pk_f32_first(n), p); }
PK_INLINE V pk_f32_even(V a, V b)
{
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}
PK_INLINE V pk_f32_odd(V a, V b)
{
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
PK_INLINE V pk_f32_fix_v(V v) { return v; }
PK_INLINE I pk_f32_fix_i(I i) { return i; }
PK_INLINE I pk_f32_iset(int64_t v) { return _mm512_set1_epi32((int)v); }
PK_INLINE I pk_f32_iadd(I a, I b) { return _mm512_add_epi32(a, b); }
PK_INLINE I pk_f32_lane_col(int64_t sw)
{
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)sw));
}
PK_INLINE void pk_f32_update(V *best, I *at, V v, I e)
{
    const __mmask16 take = _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    *best = _mm512_mask_mov_ps(*best, take, v);
    *at = _mm512_mask_mov_epi32(*at, take, e);
}
PK_INLINE void pk_f32_storen(T *y, V v, int64_t n)
{
    if (n == LANES) _mm512_storeu_ps(y, v);
    else _mm512_mask_storeu_ps(y, pk_f32_first(n), v);
}
PK_INLINE void pk_f32_store_idxn(int64_t *idx, I at, int64_t n)
{
    const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at));
    if (n <= 8) {
        _mm512_mask_storeu_epi64(idx, (__mmask8)pk_f32_first(n), lo);
        return;
    }
    const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1));
    if (n == LANES) {
        _mm512_storeu_si512((void *)idx, lo);
        _mm512_storeu_si512((void *)(idx + 8), hi);
    } else {
        _mm512_storeu_si512((void *)idx, lo);
        _mm512_mask_storeu_epi64(idx + 8, (__mmask8)(pk_f32_first(n) >> 8), hi);
    }
}
PK_INLINE V pk_f32_upper_v(V v) { return _mm512_shuffle_f32x4(v, v, 0xee); }
PK_INLINE I pk_f32_upper_i(I i) { return _mm512_shuffle_i32x4(i, i, 0xee); }
PK_INLINE I pk_f32_upper_half(int64_t v) { return _mm512_maskz_set1_epi32(0xff00, (int)v); }
#include "pool_kernels_tmpl.h"
#undef T
#undef V
#undef I
#undef LANES
#undef PK
#undef PK_ENTRY

/* ---- AVX-512, double: 8 lanes, 64-bit indices ------------------------------------------------ */
#define T double
#define V __m512d
#define I __m512i
#define LANES 8
#define PK(name) pk_f64_##name
#define PK_ENTRY FC_ISA_FN(fc_maxpool_rows_f64)

PK_INLINE __mmask8 pk_f64_first(int64_t n) { return (__mmask8)(n >= 8 ? 0xffu : (1u << n) - 1); }
PK_INLINE V pk_f64_zero(void) { return _mm512_setzero_pd(); }
PK_INLINE V pk_f64_load(const T *p) { return _mm512_loadu_pd(p); }
PK_INLINE V pk_f64_loadn(const T *p, int64_t n) { return _mm512_maskz_loadu_pd(pk_f64_first(n), p); }
PK_INLINE V pk_f64_even(V a, V b) { return _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b); }
PK_INLINE V pk_f64_odd(V a, V b) { return _mm512_permutex2var_pd(a, _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15), b); }
PK_INLINE V pk_f64_fix_v(V v) { return v; }
PK_INLINE I pk_f64_fix_i(I i) { return i; }
PK_INLINE I pk_f64_iset(int64_t v) { return _mm512_set1_epi64(v); }
PK_INLINE I pk_f64_iadd(I a, I b) { return _mm512_add_epi64(a, b); }
PK_INLINE I pk_f64_lane_col(int64_t sw)
{
    return _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(sw));
}
PK_INLINE void pk_f64_update(V *best, I *at, V v, I e)
{
    const __mmask8 take = _mm512_cmp_pd_mask(v, *best, _CMP_GT_OQ) | _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q);
    *best = _mm512_mask_mov_pd(*best, take, v);
    *at = _mm512_mask_mov_epi64(*at, take, e);
}
PK_INLINE void pk_f64_storen(T *y, V v, int64_t n)
{
    if (n == LANES) _mm512_storeu_pd(y, v);
    else _mm512_mask_storeu_pd(y, pk_f64_first(n), v);
}
PK_INLINE void pk_f64_store_idxn(int64_t *idx, I at, int64_t n)
{
    if (n == LANES) _mm512_storeu_si512((void *)idx, at);
    else _mm512_mask_storeu_epi64(idx, pk_f64_first(n), at);
}
PK_INLINE V pk_f64_upper_v(V v) { return _mm512_shuffle_f64x2(v, v, 0xee); }
PK_INLINE I pk_f64_upper_i(I i) { return _mm512_shuffle_i64x2(i, i, 0xee); }
PK_INLINE I pk_f64_upper_half(int64_t v) { return _mm512_maskz_set1_epi64(0xf0, v); }
#include "pool_kernels_tmpl.h"

#elif FC_ISA_LEVEL == 1

/* lanes i < n all ones, 32-bit and 64-bit lanes */
static inline __m256i first_lanes32(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 0 ? 0 : (n > 8 ? 8 : n))),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i first_lanes64(int64_t n)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n < 0 ? 0 : (n > 4 ? 4 : n)), _mm256_setr_epi64x(0, 1, 2, 3));
}

/* Stride 2 splits with in-lane shuffles, which leave outputs in the order 0 1 4 5 2 3 6 7
 * (float) or 0 2 1 3 (double); lanes are independent, so one 64-bit permute at the end
 * (fix_v, fix_i) puts them back.                                                             */
#define UNSCRAMBLE 0xd8   /* _MM_SHUFFLE(3, 1, 2, 0) */

/* ---- AVX2, float: 8 lanes, 32-bit indices ---------------------------------------------------- */
#define T float
#define V __m256
#define I __m256i
#define LANES 8
#define PK(name) pk_f32_##name
#define PK_ENTRY FC_ISA_FN(fc_maxpool_rows_f32)

PK_INLINE V pk_f32_zero(void) { return _mm256_setzero_ps(); }
PK_INLINE V pk_f32_load(const T *p) { return _mm256_loadu_ps(p); }
PK_INLINE V pk_f32_loadn(const T *p, int64_t n) { return _mm256_maskload_ps(p, first_lanes32(n)); }
PK_INLINE V pk_f32_even(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
PK_INLINE V pk_f32_odd(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
PK_INLINE V pk_f32_fix_v(V v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), UNSCRAMBLE)); }
PK_INLINE I pk_f32_fix_i(I i) { return _mm256_permute4x64_epi64(i, UNSCRAMBLE); }
PK_INLINE I pk_f32_iset(int64_t v) { return _mm256_set1_epi32((int)v); }
PK_INLINE I pk_f32_iadd(I a, I b) { return _mm256_add_epi32(a, b); }
PK_INLINE I pk_f32_lane_col(int64_t sw)
{
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
}
PK_INLINE void pk_f32_update(V *best, I *at, V v, I e)
{
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, *best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    *best = _mm256_blendv_ps(*best, v, take);
    *at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*at), _mm256_castsi256_ps(e), take));
}
PK_INLINE void pk_f32_storen(T *y, V v, int64_t n)
{
    if (n == LANES) _mm256_storeu_ps(y, v);
    else _mm256_maskstore_ps(y, first_lanes32(n), v);
}
PK_INLINE void pk_f32_store_idxn(int64_t *idx, I at, int64_t n)
{
    const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at));
    if (n <= 4) {
        _mm256_maskstore_epi64((long long *)idx, first_lanes64(n), lo);
        return;
    }
    const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1));
    if (n == LANES) {
        _mm256_storeu_si256((__m256i *)idx, lo);
        _mm256_storeu_si256((__m256i *)(idx + 4), hi);
    } else {
        _mm256_maskstore_epi64((long long *)idx, first_lanes64(n), lo);
        _mm256_maskstore_epi64((long long *)(idx + 4), first_lanes64(n - 4), hi);
    }
}
PK_INLINE V pk_f32_upper_v(V v) { return _mm256_permute2f128_ps(v, v, 0x11); }
PK_INLINE I pk_f32_upper_i(I i) { return _mm256_permute2x128_si256(i, i, 0x11); }
PK_INLINE I pk_f32_upper_half(int64_t v) { return _mm256_setr_epi32(0, 0, 0, 0, (int)v, (int)v, (int)v, (int)v); }
#include "pool_kernels_tmpl.h"
#undef T
#undef V
#undef I
#undef LANES
#undef PK
#undef PK_ENTRY

/* ---- AVX2, double: 4 lanes, 64-bit indices --------------------------------------------------- */
#define T double
#define V __m256d
#define I __m256i
#define LANES 4
#define PK(name) pk_f64_##name
#define PK_ENTRY FC_ISA_FN(fc_maxpool_rows_f64)

PK_INLINE V pk_f64_zero(void) { return _mm256_setzero_pd(); }
PK_INLINE V pk_f64_load(const T *p) { return _mm256_loadu_pd(p); }
PK_INLINE V pk_f64_loadn(const T *p, int64_t n) { return _mm256_maskload_pd(p, first_lanes64(n)); }
PK_INLINE V pk_f64_even(V a, V b) { return _mm256_unpacklo_pd(a, b); }
PK_INLINE V pk_f64_odd(V a, V b) { return _mm256_unpackhi_pd(a, b); }
PK_INLINE V pk_f64_fix_v(V v) { return _mm256_permute4x64_pd(v, UNSCRAMBLE); }
PK_INLINE I pk_f64_fix_i(I i) { return _mm256_permute4x64_epi64(i, UNSCRAMBLE); }
PK_INLINE I pk_f64_iset(int64_t v) { return _mm256_set1_epi64x(v); }
PK_INLINE I pk_f64_iadd(I a, I b) { return _mm256_add_epi64(a, b); }
PK_INLINE I pk_f64_lane_col(int64_t sw) { return _mm256_setr_epi64x(0, sw, 2 * sw, 3 * sw); }
PK_INLINE void pk_f64_update(V *best, I *at, V v, I e)
{
    const __m256d take = _mm256_or_pd(_mm256_cmp_pd(v, *best, _CMP_GT_OQ), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
    *best = _mm256_blendv_pd(*best, v, take);
    *at = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(*at), _mm256_castsi256_pd(e), take));
}
PK_INLINE void pk_f64_storen(T *y, V v, int64_t n)
{
    if (n == LANES) _mm256_storeu_pd(y, v);
    else _mm256_maskstore_pd(y, first_lanes64(n), v);
}
PK_INLINE void pk_f64_store_idxn(int64_t *idx, I at, int64_t n)
{
    if (n == LANES) _mm256_storeu_si256((__m256i *)idx, at);
    else _mm256_maskstore_epi64((long long *)idx, first_lanes64(n), at);
}
PK_INLINE V pk_f64_upper_v(V v) { return _mm256_permute2f128_pd(v, v, 0x11); }
PK_INLINE I pk_f64_upper_i(I i) { return _mm256_permute2x128_si256(i, i, 0x11); }
PK_INLINE I pk_f64_upper_half(int64_t v) { return _mm256_setr_epi64x(0, 0, v, v); }
#include "pool_kernels_tmpl.h"

#else /* portable build */

int64_t FC_ISA_FN(fc_maxpool_rows_f32) FC_MAXPOOL_ROWS_ARGS(float)
{
    (void)d, (void)x, (void)nplanes, (void)pa, (void)pb, (void)q0, (void)nq, (void)y, (void)idx;
    return 0;
}

int64_t FC_ISA_FN(fc_maxpool_rows_f64) FC_MAXPOOL_ROWS_ARGS(double)
{
    (void)d, (void)x, (void)nplanes, (void)pa, (void)pb, (void)q0, (void)nq, (void)y, (void)idx;
    return 0;
}

#endif
