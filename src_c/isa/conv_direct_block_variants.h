/* conv_direct_block_variants.h -- the variants of one micro-kernel shape (CB_OB, CB_NR,
 * CB_NV, defined by the includer): unmasked and masked row ends, stride 1 and stride 2, and
 * stride 2 on split rows (unmasked only: those rows carry their padding as zeros).          */
#define CB_MASKED 0
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_SW
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_SW
#define CB_SW 3
#include "conv_direct_block_tmpl.h"
#undef CB_SW
#undef CB_MASKED
#define CB_MASKED 1
#define CB_SW 1
#include "conv_direct_block_tmpl.h"
#undef CB_SW
#define CB_SW 2
#include "conv_direct_block_tmpl.h"
#undef CB_SW
#undef CB_MASKED
