/* conv_winograd_internal.h -- the contract between the Winograd driver (conv_winograd.c) and
 * its per-ISA transform kernels (isa/conv_winograd_kernels.c, compiled once per ISA path).
 *
 * F(4x4, 3x3) (Lavin & Gray 2016), interpolation points 0, 1, -1, 2, -2 and infinity:
 * a 6x6 input patch d gives V = B^T d B, a 3x3 filter g gives U = G g G^T, and the 4x4 output
 * tile is A^T (U .* V) A, summed over input channels. Element xi = 6*i + j of a transformed
 * tile is the "frequency" xi: the sum over channels is then 36 independent GEMMs, one per xi.
 *
 * The transforms work on groups of FC_WINO_LANES tiles at once, one tile per SIMD lane: the
 * tiles of a group are consecutive in the order (image, tile row, tile column) and need not
 * share a row, so small images keep every lane busy.                                         */
#ifndef FC_CONV_WINOGRAD_INTERNAL_H
#define FC_CONV_WINOGRAD_INTERNAL_H

#include "conv_internal.h"

#define FC_WINO_M 4       /* output tile 4x4 */
#define FC_WINO_A 6       /* input tile 6x6 = FC_WINO_M + 3 - 1 */
#define FC_WINO_XI 36     /* FC_WINO_A squared: number of GEMMs */
#define FC_WINO_LANES 16  /* tiles per transform group */
#define FC_WINO_ROW_SPAN (FC_WINO_M * FC_WINO_LANES + 4)   /* staged columns of a row run */

/* A group of cnt (1..FC_WINO_LANES) tiles. Tile l covers outputs [p0[l], p0[l] + 4) x
 * [q0[l], q0[l] + 4) of image n[l] (clipped to P x Q) and reads the input patch whose top-left
 * corner is (p0 - pad_h, q0 - pad_w); positions outside the input read as zero.
 * A row run is transformed through a zero-padded copy of its 6 input rows (one contiguous
 * segment per row, then a stride-4 deinterleave) and its outputs leave through a 4-row copy,
 * instead of tile-by-tile gathers and scatters.                                              */
typedef struct {
    int cnt;
    int in_inside;    /* every input patch lies inside the input: no bounds checks */
    int out_inside;   /* every output tile lies inside the output: no clipping */
    int row_run;      /* the tiles are consecutive in one tile row (q0 steps by 4) */
    int64_t n[FC_WINO_LANES], p0[FC_WINO_LANES], q0[FC_WINO_LANES];
} fc_wino_group;

/* Input transform of channels [c0, c1) of a group: v[xi*ld_xi + c*ld_c + l] = (B^T d_{l,c} B)[xi]
 * for c0 <= c < c1, l < g->cnt (lanes past cnt are not written).                             */
#define FC_WINO_IN_ARGS(T) \
    (const fc_conv_desc *d, const fc_wino_group *g, const T *x, int64_t c0, int64_t c1, T *v, \
     int64_t ld_xi, int64_t ld_c)
FC_DECLARE_ISA(void, fc_wino_input_f32, FC_WINO_IN_ARGS(float));
FC_DECLARE_ISA(void, fc_wino_input_f64, FC_WINO_IN_ARGS(double));

/* Output transform of channels k0 .. k0 + kb - 1 of a group: from m[xi*ld_xi + kk*ld_k + l]
 * (kk < kb, l < g->cnt), y[n, k0 + kk, p0 + i, q0 + j] = (A^T m A)[i][j] + bias[k0 + kk]
 * (bias may be NULL), clamped at 0 when relu (NaN kept), for the positions inside P x Q.      */
#define FC_WINO_OUT_ARGS(T) \
    (const fc_conv_desc *d, const fc_wino_group *g, const T *m, int64_t ld_xi, int64_t ld_k, \
     int64_t k0, int64_t kb, const T *bias, int relu, T *y)
FC_DECLARE_ISA(void, fc_wino_output_f32, FC_WINO_OUT_ARGS(float));
FC_DECLARE_ISA(void, fc_wino_output_f64, FC_WINO_OUT_ARGS(double));

/* Filter transform of output channels [k0, k1): U[xi*ld_xi + k*C + c] = (G g_{k,c} G^T)[xi],
 * with g_{k,c} = w[(k*C + c)*9 ...] (3x3, row-major), computed in double whatever T.          */
#define FC_WINO_W_ARGS(T) (const T *w, int64_t C, int64_t k0, int64_t k1, T *U, int64_t ld_xi)
FC_DECLARE_ISA(void, fc_wino_weights_f32, FC_WINO_W_ARGS(float));
FC_DECLARE_ISA(void, fc_wino_weights_f64, FC_WINO_W_ARGS(double));

#endif
