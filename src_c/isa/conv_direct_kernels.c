/* conv_direct_kernels.c -- direct-convolution inner kernels, compiled once per ISA path
 * (FC_ISA_LEVEL 0/1/2, see isa.h); the dispatchers in conv_direct.c pick one per call.
 * The code (conv_direct_kernels_tmpl.h, conv_direct_block_tmpl.h) is written once over the
 * small vector vocabulary CV_* defined here for each (ISA, element type).
 *
 * Register blocking of the forward / stride-1 grad_input kernel: OB output channels x NV
 * vectors of consecutive output pixels of one row; the accumulators stay in registers for the
 * whole C*R*S reduction, each input vector load feeds OB FMAs, each weight broadcast NV.
 *   AVX-512: OB x NV = 8 x 3, 12 x 2, 24 x 1 (24 zmm accumulators of 32)
 *   AVX2:    OB x NV = 4 x 3,  6 x 2, 12 x 1 (12 ymm accumulators of 16)
 * (conv_direct_block_shapes.h lists them, with the smaller channel counts for the rest).   */
#include "isa.h"
#include "../conv_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

/* the loops over a register block must be unrolled completely, so that the accumulator arrays
 * live in registers                                                                          */
#define CV_UNROLL _Pragma("GCC unroll 32")

/* ---------------------------------- float ------------------------------------------------ */
#define FC_T float
#define FC_SFX _f32
#if FC_ISA_LEVEL == 2
#define CV_VL 16
#define CV_VT __m512
#define CV_MT __mmask16
#define CV_LOAD(p) _mm512_loadu_ps(p)
#define CV_STORE(p, v) _mm512_storeu_ps(p, v)
#define CV_MLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define CV_MSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
/* lanes [lo, hi) on, 0 <= lo <= hi <= CV_VL */
#define CV_MASK(lo, hi) ((__mmask16)(((1u << (hi)) - 1u) & ~((1u << (lo)) - 1u)))
#define CV_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define CV_SET1(x) _mm512_set1_ps(x)
#define CV_ZERO() _mm512_setzero_ps()
#define CV_MAX0(v) _mm512_max_ps(_mm512_setzero_ps(), v)   /* NaN in v kept: max returns src2 */
#define CV_HSUM(v) _mm512_reduce_add_ps(v)
#define CV_MASK_IF(m, cond) ((__mmask16)((m) & (0u - (unsigned)(cond))))
/* even lanes of the concatenation a|b (stride-2 rows) */
#define CV_EVEN(a, b) _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, \
                                             18, 20, 22, 24, 26, 28, 30), b)
#elif FC_ISA_LEVEL == 1
#define CV_VL 8
#define CV_VT __m256
#define CV_MT __m256i
#define CV_LOAD(p) _mm256_loadu_ps(p)
#define CV_STORE(p, v) _mm256_storeu_ps(p, v)
#define CV_MLOAD(p, m) _mm256_maskload_ps(p, m)
#define CV_MSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define CV_MASK(lo, hi)                                                                      \
    _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(hi)), cv_iota32()),          \
                     _mm256_cmpgt_epi32(cv_iota32(), _mm256_set1_epi32((int)(lo) - 1)))
#define CV_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define CV_SET1(x) _mm256_set1_ps(x)
#define CV_ZERO() _mm256_setzero_ps()
#define CV_MAX0(v) _mm256_max_ps(_mm256_setzero_ps(), v)
/* [a0 a2 b0 b2 | a4 a6 b4 b6], then 64-bit pairs reordered 0 2 1 3 */
#define CV_EVEN(a, b) \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8))
#define CV_HSUM(v) cv_hsum_ps(v)
#define CV_MASK_IF(m, cond) _mm256_and_si256(m, _mm256_set1_epi32(-(int)(cond)))
static inline __m256i cv_iota32(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
static inline float cv_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
#endif
#include "conv_direct_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX
#undef CV_VL
#undef CV_VT
#undef CV_MT
#undef CV_LOAD
#undef CV_STORE
#undef CV_MLOAD
#undef CV_MSTORE
#undef CV_MASK
#undef CV_FMA
#undef CV_SET1
#undef CV_ZERO
#undef CV_MAX0
#undef CV_EVEN
#undef CV_HSUM
#undef CV_MASK_IF

/* ---------------------------------- double ----------------------------------------------- */
#define FC_T double
#define FC_SFX _f64
#if FC_ISA_LEVEL == 2
#define CV_VL 8
#define CV_VT __m512d
#define CV_MT __mmask8
#define CV_LOAD(p) _mm512_loadu_pd(p)
#define CV_STORE(p, v) _mm512_storeu_pd(p, v)
#define CV_MLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define CV_MSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define CV_MASK(lo, hi) ((__mmask8)(((1u << (hi)) - 1u) & ~((1u << (lo)) - 1u)))
#define CV_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define CV_SET1(x) _mm512_set1_pd(x)
#define CV_ZERO() _mm512_setzero_pd()
#define CV_MAX0(v) _mm512_max_pd(_mm512_setzero_pd(), v)
#define CV_HSUM(v) _mm512_reduce_add_pd(v)
#define CV_MASK_IF(m, cond) ((__mmask8)((m) & (0u - (unsigned)(cond))))
#define CV_EVEN(a, b) _mm512_permutex2var_pd(a, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), b)
#elif FC_ISA_LEVEL == 1
#define CV_VL 4
#define CV_VT __m256d
#define CV_MT __m256i
#define CV_LOAD(p) _mm256_loadu_pd(p)
#define CV_STORE(p, v) _mm256_storeu_pd(p, v)
#define CV_MLOAD(p, m) _mm256_maskload_pd(p, m)
#define CV_MSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#define CV_MASK(lo, hi)                                                                      \
    _mm256_and_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(hi)), cv_iota64()),   \
                     _mm256_cmpgt_epi64(cv_iota64(), _mm256_set1_epi64x((long long)(lo) - 1)))
#define CV_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define CV_SET1(x) _mm256_set1_pd(x)
#define CV_ZERO() _mm256_setzero_pd()
#define CV_MAX0(v) _mm256_max_pd(_mm256_setzero_pd(), v)
/* [a0 b0 | a2 b2] -> [a0 a2 b0 b2] */
#define CV_EVEN(a, b) _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8)
#define CV_HSUM(v) cv_hsum_pd(v)
#define CV_MASK_IF(m, cond) _mm256_and_si256(m, _mm256_set1_epi32(-(int)(cond)))
static inline __m256i cv_iota64(void) { return _mm256_setr_epi64x(0, 1, 2, 3); }
static inline double cv_hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif
#include "conv_direct_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX
