/* pool_max.c -- max pooling forward (values and indices) and backward, float and double.
 * The code is in pool_max_tmpl.h, instantiated once per dtype.                              */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pool_internal.h"

#define T float
#define TBITS uint32_t
#define SFX(name) name##_f32
#define ROWS(isa) fc_maxpool_rows_f32_##isa
#include "pool_max_tmpl.h"
#undef T
#undef TBITS
#undef SFX
#undef ROWS

#define T double
#define TBITS uint64_t
#define SFX(name) name##_f64
#define ROWS(isa) fc_maxpool_rows_f64_##isa
#include "pool_max_tmpl.h"
#undef T
#undef TBITS
#undef SFX
#undef ROWS
