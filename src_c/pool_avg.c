/* pool_avg.c -- average and adaptive average pooling, forward and backward, float and double.
 * The code is in pool_avg_tmpl.h, instantiated once per dtype.                              */
#include "pool_internal.h"

#define T float
#define SFX(name) name##_f32
#include "pool_avg_tmpl.h"
#undef T
#undef SFX

#define T double
#define SFX(name) name##_f64
#include "pool_avg_tmpl.h"
#undef T
#undef SFX
