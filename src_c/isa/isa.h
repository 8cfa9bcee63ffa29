/* isa.h -- included by the files in src_c/isa/, which setup.py compiles once per ISA path with
 * FC_ISA_LEVEL = 0 (portable C), 1 (-mavx2 -mfma) or 2 (AVX-512 F/VL/BW/DQ). FC_ISA_FN(name)
 * gives each compilation its own symbol (name_scalar, name_avx2, name_avx512); the dispatching
 * code in the files of src_c/ picks one from fc_ctx.isa. Nothing in these files may run unless the CPU
 * has the ISA: only the dispatchers call them.                                                */
#ifndef FC_ISA_H
#define FC_ISA_H

#include "../internal.h"

#ifndef FC_ISA_LEVEL
#error "FC_ISA_LEVEL must be defined by the build (0, 1 or 2)"
#endif

#if FC_ISA_LEVEL == 2
#define FC_ISA_FN(name) name##_avx512
#elif FC_ISA_LEVEL == 1
#define FC_ISA_FN(name) name##_avx2
#else
#define FC_ISA_FN(name) name##_scalar
#endif

#endif
