/* conv_direct_block_shapes.h -- instantiate conv_direct_block_tmpl.h for CB_NV vectors and
 * every channel count the ISA uses (CV_OBMAX), unmasked and masked.                        */
#define CB_MASKED 0
#define CB_OB 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#define CB_OB 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#define CB_OB 4
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#if CV_OBMAX >= 8
#define CB_OB 8
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#endif
#undef CB_MASKED
#define CB_MASKED 1
#define CB_OB 1
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#define CB_OB 2
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#define CB_OB 4
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#if CV_OBMAX >= 8
#define CB_OB 8
#include "conv_direct_block_tmpl.h"
#undef CB_OB
#endif
#undef CB_MASKED
