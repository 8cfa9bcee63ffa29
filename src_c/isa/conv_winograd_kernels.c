/* conv_winograd_kernels.c -- Winograd F(4x4, 3x3) input and output transforms, compiled once
 * per ISA path (see isa.h); conv_winograd.c dispatches. The code is in
 * conv_winograd_kernels_tmpl.h, written over groups of FC_WINO_LANES tiles so that each build
 * vectorises it for its own SIMD width.                                                       */
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
