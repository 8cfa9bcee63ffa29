/* pool_internal.h -- what the pooling files (pool*.c, isa/pool_kernels.c) share: descriptor
 * checks, the split of a pooling op over threads, and the SIMD row kernels of max pooling.  */
#ifndef FC_POOL_INTERNAL_H
#define FC_POOL_INTERNAL_H

#include "internal.h"

/* a read prefetch where the compiler has one (harmless past the end of an array: it never
 * faults, and the address is formed in integers) */
#if defined(__GNUC__)
#define FC_POOL_PREFETCH(p) __builtin_prefetch((const void *)((uintptr_t)(p)), 0, 3)
#else
#define FC_POOL_PREFETCH(p) ((void)0)
#endif

/* Outputs [*lo, *hi) along one axis whose windows lie inside the input (start >= 0 and
 * start + k <= in), the ones the fast paths take; lo <= hi <= out                         */
static inline void fc_pool_inside(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad,
                                  int64_t *lo, int64_t *hi)
{
    *lo = fc_min64((pad + stride - 1) / stride, out);
    *hi = in - k + pad >= 0 ? fc_max64(*lo, fc_min64((in - k + pad) / stride + 1, out)) : *lo;
}

/* max pooling with edge columns (padded windows) runs plane by plane from planes this large
 * up (max_planes in pool_max_tmpl.h); smaller planes keep one kernel call for all of them  */
#define FC_POOL_EDGE_PLANE_BYTES ((int64_t)16384)

/* Output size of one pooling axis, torch's rule (dilation 1): floor or ceil division, and in
 * ceil mode the last window must start inside the input or the left padding. < 1 if none.    */
int64_t fc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int ceil_mode);

/* Full descriptor of max/avg pooling: sizes >= 0, H, W, kernel, stride >= 1, 0 <= pad <= k/2
 * (torch's limit, so no window lies in the padding only), P and Q equal to the floor- or the
 * ceil-mode size, element counts fit in int64_t. FC_OK or FC_EINVAL / FC_EOVERFLOW.         */
int fc_pool_check_window(const fc_pool_desc *d);
/* Only N, C, H, W, P, Q (max backward, adaptive pooling): >= 0 and counts fit in int64_t.    */
int fc_pool_check_sizes(const fc_pool_desc *d);

/* A pooling op runs over (plane, row chunk) items: whole planes when there are enough of them
 * for the threads, else each plane's rows cut into `chunks` pieces. Which rows are cut
 * (output rows for forward passes, input rows for backward) is the caller's business.        */
typedef struct {
    int64_t items;    /* planes * chunks */
    int64_t chunks;   /* row chunks per plane, >= 1 */
    int nthreads;     /* threads worth starting for this much work, >= 1 */
} fc_pool_plan;

fc_pool_plan fc_pool_plan_make(const fc_ctx *ctx, int64_t planes, int64_t rows, int64_t work);

/* plane and row range [*r0, *r1) of item `item` */
static inline void fc_pool_item(const fc_pool_plan *pl, int64_t item, int64_t rows,
                                int64_t *plane, int64_t *r0, int64_t *r1)
{
    const int64_t chunk = item % pl->chunks;
    *plane = item / pl->chunks;
    *r0 = rows * chunk / pl->chunks;
    *r1 = rows * (chunk + 1) / pl->chunks;
}

/* SIMD max pooling of the interior columns [q0, q0 + nq) -- whose windows lie inside the
 * input horizontally -- of output rows [pa, pb) of `nplanes` consecutive planes: x is the first
 * plane (H*W elements each), y and idx (may be NULL) its outputs (P*Q each, row stride Q). Same results as the generic loop
 * in pool_max_tmpl.h, bit for bit: torch's rule (first maximum in row-major window order, a
 * NaN wins and the last NaN stays). Float indices are computed in 32 bits: the caller
 * guarantees H*W <= INT32_MAX. Returns nq, or 0 if this path does not handle the window
 * (stride > 2, the portable build): then nothing was written.                                */
#define FC_MAXPOOL_ROWS_ARGS(T) \
    (const fc_pool_desc *d, const T *x, int64_t nplanes, int64_t pa, int64_t pb, int64_t q0, int64_t nq, \
     T *y, int64_t *idx)
FC_DECLARE_ISA(int64_t, fc_maxpool_rows_f32, FC_MAXPOOL_ROWS_ARGS(float));
FC_DECLARE_ISA(int64_t, fc_maxpool_rows_f64, FC_MAXPOOL_ROWS_ARGS(double));


/* 1 if every idx[i] (i < n) lies in [0, plane_size), else 0. Plain C compiled per ISA: the
 * compiler vectorises it (an unsigned 64-bit compare has no SSE2 form, so the portable
 * build is several times slower; the OR of idx and plane_size - 1 - idx has its sign bit set
 * exactly when some index is out of range).                                                   */
FC_DECLARE_ISA(int, fc_pool_indices_ok, (const int64_t *idx, int64_t n, int64_t plane_size));

#endif
