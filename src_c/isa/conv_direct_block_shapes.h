/* conv_direct_block_shapes.h -- every micro-kernel shape of the ISA: conv_direct_block_tmpl.h
 * included once per (CB_OB channels, CB_NR rows, CB_NV vectors) shape, each in its four
 * variants (conv_direct_block_variants.h: CB_MASKED 0/1 x CB_SW 1/2). Fewer
 * pixels leave registers for more channels (AVX-512 has 32 zmm, AVX2 16 ymm): OB*NR*NV
 * accumulators plus NR*NV input vectors and one broadcast must fit. The dispatcher's chains
 * (CV_CHAIN_*) in conv_direct_kernels_tmpl.h list the same shapes, largest first.          */
#if FC_ISA_LEVEL == 2
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 12
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 8
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 8
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 12
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 8
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 6
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#elif FC_ISA_LEVEL == 1
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 6
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 6
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 3
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#include "conv_direct_block_variants.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#endif
