/* alloc.c -- the one audited place kernels get workspace memory from, and overflow checks. */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>

#include "fastconv.h"

void *fc_aligned_alloc(int64_t nbytes)
{
    void *p = NULL;
    if (nbytes < 0) return NULL;
    if (nbytes == 0) nbytes = 64;   /* a valid, freeable pointer for empty workspaces */
    if ((uint64_t)nbytes > (uint64_t)SIZE_MAX) return NULL;
    if (posix_memalign(&p, 64, (size_t)nbytes) != 0) return NULL;
    return p;
}

void fc_aligned_free(void *p)
{
    free(p);
}

int fc_mul_overflow(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return FC_EINVAL;
    if (a != 0 && b > INT64_MAX / a) return FC_EOVERFLOW;
    *out = a * b;
    return FC_OK;
}
