/* conv_im2col_kernels.c -- the forward im2col tile written straight into the GEMM's packed B
 * slivers (conv_internal.h, fc_im2col_packed_*), with masked vector loads and stores: each
 * piece of an output row that falls in one sliver is one or two loads (stride 2: two, then
 * the even lanes) and one store, its padding lanes zero from the load's mask.             */
#include "isa.h"
#include "../conv_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>

#if defined(__GNUC__)
#define IK_INLINE static inline __attribute__((always_inline))
#else
#define IK_INLINE static inline
#endif

#if FC_ISA_LEVEL == 2
/* ---- AVX-512: k-masks ------------------------------------------------------------------------ */
IK_INLINE unsigned ik_bits(int64_t lo, int64_t hi)   /* bits [lo, hi), 0 <= lo, hi <= 16 */
{
    return lo >= hi ? 0u : ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

#define T float
#define V __m512
#define M __mmask16
#define VL 16
#define IK(name) ik_f32_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f32)
IK_INLINE M ik_f32_mask(int64_t lo, int64_t hi) { return (M)ik_bits(lo, hi); }
IK_INLINE M ik_f32_maskbits(unsigned bits) { return (M)bits; }
IK_INLINE V ik_f32_loadm(const T *p, M m) { return _mm512_maskz_loadu_ps(m, p); }
IK_INLINE void ik_f32_store(T *p, V v) { _mm512_storeu_ps(p, v); }
IK_INLINE void ik_f32_storem(T *p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
IK_INLINE V ik_f32_even(V a, V b)
{
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */

#define T double
#define V __m512d
#define M __mmask8
#define VL 8
#define IK(name) ik_f64_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f64)
IK_INLINE M ik_f64_mask(int64_t lo, int64_t hi) { return (M)ik_bits(lo, hi); }
IK_INLINE M ik_f64_maskbits(unsigned bits) { return (M)bits; }
IK_INLINE V ik_f64_loadm(const T *p, M m) { return _mm512_maskz_loadu_pd(m, p); }
IK_INLINE void ik_f64_store(T *p, V v) { _mm512_storeu_pd(p, v); }
IK_INLINE void ik_f64_storem(T *p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
IK_INLINE V ik_f64_even(V a, V b)
{
    return _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b);
}
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */

#else
/* ---- AVX2: masks are vectors of lanes, all ones where set ----------------------------------- */
#define T float
#define V __m256
#define M __m256i
#define VL 8
#define IK(name) ik_f32_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f32)
IK_INLINE M ik_f32_mask(int64_t lo, int64_t hi)   /* 32-bit lanes [lo, hi) */
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}
IK_INLINE M ik_f32_maskbits(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), bit), bit);
}
IK_INLINE V ik_f32_loadm(const T *p, M m) { return _mm256_maskload_ps(p, m); }
IK_INLINE void ik_f32_store(T *p, V v) { _mm256_storeu_ps(p, v); }
IK_INLINE void ik_f32_storem(T *p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
IK_INLINE V ik_f32_even(V a, V b)   /* a0 a2 a4 a6 b0 b2 b4 b6 */
{
    const __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */

#define T double
#define V __m256d
#define M __m256i
#define VL 4
#define IK(name) ik_f64_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f64)
IK_INLINE M ik_f64_mask(int64_t lo, int64_t hi)   /* 64-bit lanes [lo, hi) */
{
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), lane),
                               _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), lane));
}
IK_INLINE M ik_f64_maskbits(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi64x(1, 2, 4, 8);
    return _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x((long long)bits), bit), bit);
}
IK_INLINE V ik_f64_loadm(const T *p, M m) { return _mm256_maskload_pd(p, m); }
IK_INLINE void ik_f64_store(T *p, V v) { _mm256_storeu_pd(p, v); }
IK_INLINE void ik_f64_storem(T *p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
IK_INLINE V ik_f64_even(V a, V b)   /* a0 a2 b0 b2 */
{
    return _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), _MM_SHUFFLE(3, 1, 2, 0));
}
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */
#endif

#else
/* portable build: no kernel; conv_im2col_tmpl.h unfolds row by row and the GEMM packs */
typedef int fc_im2col_kernels_portable_build;
#endif
