/* conv_direct.c -- direct convolution (no workspace beyond the output): forward, grad_input
 * (as a transposed convolution, gather form: every thread owns the grad_x values it writes)
 * and grad_weight. The loops that matter live in isa/conv_direct_kernels.c, one build per
 * SIMD path; this file validates, splits the work into static per-thread jobs and dispatches. */
#include "conv_internal.h"

#define FC_T float
#define FC_SFX _f32
#include "conv_direct_tmpl.h"
#undef FC_T
#undef FC_SFX

#define FC_T double
#define FC_SFX _f64
#include "conv_direct_tmpl.h"
#undef FC_T
#undef FC_SFX
