/* conv_winograd_kernels.c -- Winograd F(4x4, 3x3) input and output transforms, compiled once
 * per ISA path (see isa.h); conv_winograd.c dispatches. The code is in
 * conv_winograd_kernels_tmpl.h, written over groups of FC_WINO_LANES tiles so that each build
 * vectorises it for its own SIMD width; the lane loads and stores of partial groups below use
 * simd_lanes.h's masked primitives.                                                          */
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
#if FC_ISA_LEVEL >= 1
#include "simd_lanes.h"
static inline void wino_load_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    for (int h = 0; h < 16; h += SL_F32_VL)
        sl_f32_store(dst + h, sl_f32_loadm(src + h, sl_f32_mask(0, n - h)));
}
static inline void wino_load_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    for (int h = 0; h < 16; h += SL_F64_VL)
        sl_f64_store(dst + h, sl_f64_loadm(src + h, sl_f64_mask(0, n - h)));
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
#if FC_ISA_LEVEL == 2
/* dst[l] = src[l] for l < n (0 < n <= 16): one masked store per vector (AVX-512's are fast;
 * AVX2's are microcoded on AMD, so the other builds copy n's binary pieces instead)        */
#define WINO_STORE_LANES 1
static inline void wino_store_lanes_f32(float *restrict dst, const float *restrict src, int n)
{
    for (int h = 0; h < 16; h += SL_F32_VL)
        sl_f32_storem(dst + h, sl_f32_mask(0, n - h), sl_f32_load(src + h));
}
static inline void wino_store_lanes_f64(double *restrict dst, const double *restrict src, int n)
{
    for (int h = 0; h < 16; h += SL_F64_VL)
        sl_f64_storem(dst + h, sl_f64_mask(0, n - h), sl_f64_load(src + h));
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
