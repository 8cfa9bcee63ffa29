/* gemm_internal.h -- the contract between the GEMM driver (gemm.c) and the per-ISA packing and
 * micro-kernels (isa/gemm_kernels.c, compiled once per ISA path).
 *
 * The driver is BLIS-style and type-agnostic: it blocks the problem (NC columns, KC depth,
 * MC rows), splits it over threads and calls the ISA's routines through a "kit" of function
 * pointers, so one loop nest serves float and double and every ISA. Pointers are void * here;
 * each kit casts to its element type.
 *
 * Packed layouts (MR, NR = the kit's register block):
 *   A block (m x k): ceil(m/MR) slivers, sliver s holds rows s*MR.. as k groups of MR values
 *                    (k-major), rows past m padded with zeros.
 *   B panel (k x n): ceil(n/NR) slivers, sliver s holds columns s*NR.. as k rows of NR values,
 *                    columns past n padded with zeros.                                         */
#ifndef FC_GEMM_INTERNAL_H
#define FC_GEMM_INTERNAL_H

#include "internal.h"

typedef struct fc_gemm_kit {
    int64_t elem;          /* sizeof(element) */
    int64_t mr, nr;        /* register block of the micro-kernel */
    int64_t kc, mc, nc;    /* cache blocks (upper bounds; mc multiple of mr, nc of nr) */
    int64_t a_in_place_n;  /* a non-transposed A is read in place, unpacked, for panels of at
                            * most this many columns (0: always pack) */
    /* pack op(A)[0:m, 0:k]; A points at op(A)[0][0], i.e. the caller already offset it */
    void (*pack_a)(int trans, int64_t m, int64_t k, const void *A, int64_t lda, void *dst);
    /* pack op(B)[0:k, 0:n] likewise */
    void (*pack_b)(int trans, int64_t k, int64_t n, const void *B, int64_t ldb, void *dst);
    /* C[0:m, 0:n] = alpha * A . Bpacked + beta * C, with beta == 0 ignoring old C. Element
     * (i, kk) of A is a[i*a_rs + kk*a_cs] and its MR-row slivers start every a_ss elements:
     * packed (1, MR, MR*k) or read in place from op(A). alpha and beta point at one element
     * of the kit's type. row_tail (A in place only): a remainder of at most the kit's
     * GK_ROW_TAIL_COLS columns is summed along k (GK(row_tail)); the driver allows it only
     * when every thread split
     * of the call reads A in place, so that no element's summation depends on the threads.
     * pb's NR-column slivers start every b_ss elements. */
    void (*macro)(int64_t m, int64_t n, int64_t k, const void *alpha, const void *a,
                  int64_t a_rs, int64_t a_cs, int64_t a_ss, const void *pb, int64_t b_ss,
                  const void *beta, void *C, int64_t ldc, int row_tail);
} fc_gemm_kit;

FC_DECLARE_ISA(void, fc_gemm_kit_f32, (fc_gemm_kit *kit));
FC_DECLARE_ISA(void, fc_gemm_kit_f64, (fc_gemm_kit *kit));

#endif
