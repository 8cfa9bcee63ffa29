/* conv_winograd_kernels.c -- Winograd F(4x4, 3x3) input and output transforms, compiled once
 * per ISA path (see isa.h); conv_winograd.c dispatches. The code is in
 * conv_winograd_kernels_tmpl.h, written over groups of FC_WINO_LANES tiles so that each build
 * vectorises it for its own SIMD width; the lane loads and stores of partial groups below are
 * written per ISA.                                                                            */
#include "isa.h"
#include "../conv_winograd_internal.h"

/* FC_ISA_FN pastes its argument unexpanded; the templates need the suffix on its own */
#if FC_ISA_LEVEL == 2
#define WK_ISA_SFX _avx512
#elif FC_ISA_LEVEL == 1
#define WK_ISA_SFX _avx2
#else
#define WK_ISA_SFX _scalar
#endif

/* dst[l] = l < n ? src[l] : 0 for the group's FC_WINO_LANES (16) lanes, 0 < n <= 16: whole
 * vector stores (a partial group's lanes copied piece by piece, then read back as whole
 * vectors, stalled on store forwarding), masked loads that never touch src[l] for l >= n   */
#if FC_ISA_LEVEL == 2
#include <immintrin.h>
static inline void wino_load_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), src));
}
static inline void wino_load_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    const unsigned bits = (1u << n) - 1u;
    _mm512_storeu_pd(dst, _mm512_maskz_loadu_pd((__mmask8)(bits & 0xffu), src));
    _mm512_storeu_pd(dst + 8, _mm512_maskz_loadu_pd((__mmask8)(bits >> 8), src + 8));
}
/* dst[l] = src[l] for l < n (0 < n <= 16): one masked store per vector (AVX-512's are fast;
 * AVX2's are microcoded on AMD, so the other builds copy n's binary pieces instead)        */
#define WINO_STORE_LANES 1
static inline void wino_store_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1u), _mm512_loadu_ps(src));
}
static inline void wino_store_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    const unsigned bits = (1u << n) - 1u;
    _mm512_mask_storeu_pd(dst, (__mmask8)(bits & 0xffu), _mm512_loadu_pd(src));
    _mm512_mask_storeu_pd(dst + 8, (__mmask8)(bits >> 8), _mm512_loadu_pd(src + 8));
}
#elif FC_ISA_LEVEL == 1
#include <immintrin.h>
static inline void wino_load_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int h = 0; h < 16; h += 8) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - h), lane);
        _mm256_storeu_ps(dst + h, _mm256_maskload_ps(src + h, m));
    }
}
static inline void wino_load_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (int h = 0; h < 16; h += 4) {
        const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - h), lane);
        _mm256_storeu_pd(dst + h, _mm256_maskload_pd(src + h, m));
    }
}
#else
static inline void wino_load_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    for (int l = 0; l < 16; l++) dst[l] = l < n ? src[l] : 0.0f;
}
static inline void wino_load_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    for (int l = 0; l < 16; l++) dst[l] = l < n ? src[l] : 0.0;
}
#endif
#if FC_WINO_LANES != 16
#error "wino_load_lanes_*: written for 16 lanes"
#endif

#define FC_T float
#define FC_SFX _f32
#include "conv_winograd_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX

#define FC_T double
#define FC_SFX _f64
#include "conv_winograd_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX
