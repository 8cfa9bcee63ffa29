/* conv_direct_kernels.c -- direct-convolution inner kernels, compiled once per ISA path
 * (FC_ISA_LEVEL 0/1/2, see isa.h); the dispatchers in conv_direct.c pick one per call.
 * The kernel bodies are written once over a small vector vocabulary (conv_vec.h) and
 * instantiated here for float and double.                                                  */
#include "isa.h"
#include "../conv_internal.h"

#define FC_T float
#define FC_SFX _f32
#include "conv_direct_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX

#define FC_T double
#define FC_SFX _f64
#include "conv_direct_kernels_tmpl.h"
#undef FC_T
#undef FC_SFX
