/* pool_internal.h -- what the pooling files (pool*.c, isa/pool_kernels.c) share: descriptor
 * checks, the split of a pooling op over threads, and the SIMD row kernels of max pooling.  */
#ifndef FC_POOL_INTERNAL_H
#define FC_POOL_INTERNAL_H

#include "internal.h"

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

/* SIMD max pooling of one output row segment whose windows lie inside the input horizontally:
 * output j (0 <= j < nq) covers rows [h0, h1) (already clipped, h0 < h1) and columns
 * c0 + j*sw ... c0 + j*sw + kw - 1 (all inside [0, W)) of the plane x (plane_size elements).
 * Writes y[j] and, if idx != NULL, idx[j] = flat index h*W + w, with torch's rule (first
 * maximum in row-major window order, a NaN wins and the last NaN stays). Indices are computed
 * in 32 bits: the caller guarantees plane_size <= INT32_MAX. Returns the number of outputs
 * written from j = 0 (0 if this path does not handle sw, or on the portable path).          */
#define FC_MAXPOOL_ROWSEG_ARGS(T) \
    (const T *x, int64_t plane_size, int64_t W, int64_t h0, int64_t h1, int64_t kw, int64_t sw, \
     int64_t c0, int64_t nq, T *y, int64_t *idx)
FC_DECLARE_ISA(int64_t, fc_maxpool_rowseg_f32, FC_MAXPOOL_ROWSEG_ARGS(float));
FC_DECLARE_ISA(int64_t, fc_maxpool_rowseg_f64, FC_MAXPOOL_ROWSEG_ARGS(double));

#endif
