/* internal.h -- helpers shared by the C kernels; not part of the public header. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include "fastconv.h"

#ifdef FC_HAVE_OPENMP
#include <omp.h>
#define FC_OMP_THREAD_NUM() omp_get_thread_num()
#else
#define FC_OMP_THREAD_NUM() 0
#endif

/* declare one function for all three ISA paths: FC_DECLARE_ISA(ret, name, (args)) */
#define FC_DECLARE_ISA(ret, name, args) \
    ret name##_scalar args;             \
    ret name##_avx2 args;               \
    ret name##_avx512 args

/* fc_sgemm / fc_dgemm with every element of C one dot product in k order (k_order = 1), or
 * allowed to sum a narrow last column along k where that is faster (k_order = 0, what the
 * public entries do; GK(row_tail)). The convolutions call the GEMM on tiles whose widths
 * depend on the thread count: they pass 1 unless the width is the whole image for any count,
 * so that their results do not depend on the thread count.                                 */
int fc_sgemm_ex(const fc_ctx *ctx, int k_order, int trans_a, int trans_b, int64_t M, int64_t N,
                int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                float beta, float *C, int64_t ldc);
int fc_dgemm_ex(const fc_ctx *ctx, int k_order, int trans_a, int trans_b, int64_t M, int64_t N,
                int64_t K, double alpha, const double *A, int64_t lda, const double *B,
                int64_t ldb, double beta, double *C, int64_t ldc);

/* B packed once for several products (Winograd's V, one per tile block, reused by every chunk
 * of output channels): fc_gemm_pack_b writes op(B) = B (K x N, row stride ldb) in the ISA's
 * GEMM layout, fc_gemm_packed_b_elems(...) elements (-1 on overflow), and fc_sgemm_bp /
 * fc_dgemm_bp compute C = alpha * A . B + beta * C from it (A not transposed). The same
 * products, bit for bit, as fc_sgemm_ex / fc_dgemm_ex on the unpacked B with the same ISA. */
int64_t fc_gemm_packed_b_elems(int isa, int is_double, int64_t K, int64_t N);
/* the packed layout's sliver width NR: column j of row kk is at (j / NR)*K*NR + kk*NR + j % NR,
 * the columns of a last partial sliver zero (for callers that write it themselves: im2col) */
int64_t fc_gemm_nr(int isa, int is_double);
void fc_gemm_pack_b(int isa, int is_double, int64_t K, int64_t N, const void *B, int64_t ldb, void *dst);
int fc_sgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *Bp, float beta, float *C, int64_t ldc);
int fc_dgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, double alpha,
                const double *A, int64_t lda, const double *Bp, double beta, double *C, int64_t ldc);

/* The ISA a kernel uses. The binding builds every fc_ctx with an isa already capped at
 * fc_cpu_isa() (detected once at import; cpuid traps to the hypervisor on VMs, so it is not
 * re-run per call); here we only keep it inside the enum.                                   */
static inline int fc_ctx_isa(const fc_ctx *ctx)
{
    int want = ctx ? ctx->isa : FC_ISA_SCALAR;
    return want < FC_ISA_SCALAR ? FC_ISA_SCALAR : (want > FC_ISA_AVX512 ? FC_ISA_AVX512 : want);
}

static inline int fc_ctx_threads(const fc_ctx *ctx)
{
    return (ctx && ctx->nthreads > 1) ? ctx->nthreads : 1;
}

static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }

#endif
