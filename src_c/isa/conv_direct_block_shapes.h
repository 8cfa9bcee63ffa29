/* conv_direct_block_shapes.h -- every micro-kernel shape of the ISA: conv_direct_block_tmpl.h
 * included once per (CB_OB channels, CB_NR rows, CB_NV vectors, CB_MASKED, CB_SW). Fewer
 * pixels leave registers for more channels (AVX-512 has 32 zmm, AVX2 16 ymm): OB*NR*NV
 * accumulators plus NR*NV input vectors and one broadcast must fit. The dispatcher's chains
 * (CV_CHAIN_*) in conv_direct_kernels_tmpl.h list the same shapes, largest first.          */
#if FC_ISA_LEVEL == 2
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 12
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#elif FC_ISA_LEVEL == 1
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 8
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 1
#define CB_NV 3
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 6
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 4
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 1
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 3
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 3
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 3
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 3
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 2
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 0
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#define CB_OB 1
#define CB_NR 2
#define CB_NV 2
#define CB_MASKED 1
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#undef CB_NR
#undef CB_NV
#undef CB_MASKED
#undef CB_SW
#endif
