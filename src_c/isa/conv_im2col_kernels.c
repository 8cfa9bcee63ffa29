/* conv_im2col_kernels.c -- the forward im2col tile written straight into the GEMM's packed B
 * slivers (conv_internal.h, fc_im2col_packed_*), with masked vector loads and stores
 * (simd_lanes.h): each piece of an output row that falls in one sliver is one or two loads
 * (stride 2: two, then the even lanes) and one store, its padding lanes zero from the load's
 * mask.                                                                                      */
#include "isa.h"
#include "../conv_internal.h"
#include "simd_lanes.h"

#if FC_ISA_LEVEL >= 1
#define T float
#define V sl_f32_v
#define M sl_f32_m
#define VL SL_F32_VL
#define SL(name) sl_f32_##name
#define IK(name) ik_f32_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f32)
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */

#define T double
#define V sl_f64_v
#define M sl_f64_m
#define VL SL_F64_VL
#define SL(name) sl_f64_##name
#define IK(name) ik_f64_##name
#define IK_ENTRY FC_ISA_FN(fc_im2col_packed_f64)
#include "conv_im2col_kernels_tmpl.h"   /* undefines T ... IK_ENTRY */

#else
/* portable build: no kernel; conv_im2col_tmpl.h unfolds row by row and the GEMM packs */
typedef int fc_im2col_kernels_portable_build;
#endif
