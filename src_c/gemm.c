/* gemm.c -- fc_sgemm / fc_dgemm: argument checks, blocking, threading and ISA dispatch.
 *
 * BLIS-style loop nest over the packed panels of isa/gemm_kernels.c:
 *   for jc in N by NC:  for pc in K by KC:  pack B[pc:, jc:] (KC x NC panel, NR-wide slivers)
 *     for ic in M by MC:  pack A[ic:, pc:] (MC x KC block, MR-tall slivers)
 *       macro-kernel: for each B sliver, for each A sliver: MR x NR micro-kernel
 * The first KC block applies beta, the following ones accumulate (beta = 1).
 *
 * Threads split either the rows or the columns of C, whichever balances the register tiles
 * better, and each runs the loop nest on its share with private buffers (no barriers). The
 * tile grid (multiples of MR rows and NR columns from the origin) and the KC
 * blocks do not depend on the thread count, and each C element is reduced in the same order
 * whatever tile or thread computes it, so results are bit-identical for any thread count
 * (for a given ISA path).                                                                    */
#include <string.h>

#include "gemm_internal.h"

/* below this many multiply-adds a parallel region costs more than it saves */
#define GEMM_MIN_FMA_PER_THREAD (1 << 19)

static void gemm_get_kit(int isa, int is_double, fc_gemm_kit *kit)
{
#ifndef FC_ONLY_SCALAR
    if (isa == FC_ISA_AVX512) {
        if (is_double) fc_gemm_kit_f64_avx512(kit);
        else fc_gemm_kit_f32_avx512(kit);
        return;
    }
    if (isa == FC_ISA_AVX2) {
        if (is_double) fc_gemm_kit_f64_avx2(kit);
        else fc_gemm_kit_f32_avx2(kit);
        return;
    }
#else
    (void)isa;
#endif
    if (is_double) fc_gemm_kit_f64_scalar(kit);
    else fc_gemm_kit_f32_scalar(kit);
}

typedef struct {
    fc_gemm_kit kit;
    int trans_a, trans_b;
    int64_t M, N, K;
    const void *alpha, *beta, *one;
    const char *A, *B;
    char *C;
    int64_t lda, ldb, ldc;
    int64_t kc;          /* depth block: K split into equal blocks of at most kit.kc */
    int64_t mc;          /* row block bound (multiple of MR): an A buffer holds mc x kc */
    int64_t nc;          /* column block bound (multiple of NR): a B buffer holds kc x nc */
    int split_rows;      /* 1: threads split M; 0: threads split N */
    int a_readable;      /* A may be read in place (not transposed, rows not aliasing in L1) */
    int row_tail;        /* A is read in place for any split (N <= a_in_place_n): narrow column
                          * remainders may be summed along k (GK(row_tail))                    */
    const char *bp;      /* B packed whole by the caller (K x N in NR-column slivers, each
                          * K x NR), or NULL: panels are packed here                        */
    char *work;          /* per thread: [B panel][A block], 64-byte aligned pieces */
    int64_t b_bytes, a_bytes;
} gemm_plan;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* equal blocks of at most bmax, rounded up to a multiple of unit */
static int64_t balanced_block(int64_t total, int64_t bmax, int64_t unit)
{
    if (total <= 0) return unit;
    const int64_t nblocks = ceil_div(total, bmax);
    return fc_min64(bmax, round_up(ceil_div(total, nblocks), unit));
}

/* part [lo, hi) of `count` units for thread t of nt (contiguous, balanced) */
static void thread_range(int64_t count, int t, int nt, int64_t *lo, int64_t *hi)
{
    *lo = count * t / nt;
    *hi = count * (t + 1) / nt;
}

static const char *offset_of(const char *base, int trans, int64_t row, int64_t col, int64_t ld,
                             int64_t elem)
{
    /* element (row, col) of op(X), X row-major with leading dimension ld */
    return base + (trans ? col * ld + row : row * ld + col) * elem;
}

/* Rows of A whose byte stride is a multiple of 4 KiB fall in the same set of a 32 KiB 8-way L1
 * (64 sets of 64 bytes): reading MR (> 8) of them in place, in step, evicts each other's lines
 * on every k (measured: 512 x 2048 . 2048 x 49 ran at 0.7x the aliasing-free speed). Such A is
 * packed instead.                                                                          */
static int rows_alias_in_l1(int64_t row_bytes) { return row_bytes % 4096 == 0; }

/* C[ic:+mcur, jc:+ncur] (+)= A[ic:+mcur, pc:+kcur] . packed B panel. A is packed first only
 * when the panel is wide enough to repay it: each A sliver is read once per B sliver, and for
 * a narrow panel (N = 49 pixels of a 7x7 layer) packing A would cost as much as the product. */
static void gemm_a_block(const gemm_plan *p, int64_t ic, int64_t mcur, int64_t pc, int64_t kcur,
                         int64_t jc, int64_t ncur, const char *bbuf, int64_t b_ss, char *abuf,
                         const void *beta)
{
    const fc_gemm_kit *kit = &p->kit;
    const int64_t e = kit->elem;
    const char *a = offset_of(p->A, p->trans_a, ic, pc, p->lda, e);
    char *c = p->C + (ic * p->ldc + jc) * e;
    if (p->a_readable && ncur <= kit->a_in_place_n) {
        /* rows of A are read in place: MR sequential streams the prefetcher follows (a
         * transposed A would be read across rows, one cache line per k: packing wins there) */
        kit->macro(mcur, ncur, kcur, p->alpha, a, p->lda, 1, kit->mr * p->lda, bbuf, b_ss, beta,
                   c, p->ldc, p->row_tail);
        return;
    }
    kit->pack_a(p->trans_a, mcur, kcur, a, p->lda, abuf);
    kit->macro(mcur, ncur, kcur, p->alpha, abuf, 1, kit->mr, kit->mr * kcur, bbuf, b_ss, beta, c,
               p->ldc, 0);
}

/* rows [m0, m1) x columns [n0, n1) with private buffers: the whole loop nest, no barriers */
static void gemm_block_private(const gemm_plan *p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                               char *bbuf, char *abuf)
{
    const fc_gemm_kit *kit = &p->kit;
    const int64_t e = kit->elem;
    if (m1 <= m0 || n1 <= n0) return;
    const int64_t nc = balanced_block(n1 - n0, p->nc, kit->nr);
    const int64_t mc = balanced_block(m1 - m0, p->mc, kit->mr);
    for (int64_t jc = n0; jc < n1; jc += nc) {
        const int64_t ncur = fc_min64(nc, n1 - jc);
        for (int64_t pc = 0; pc < p->K; pc += p->kc) {
            const int64_t kcur = fc_min64(p->kc, p->K - pc);
            const void *beta = pc == 0 ? p->beta : p->one;
            const char *panel = bbuf;
            int64_t b_ss = kcur * kit->nr;
            if (p->bp != NULL) {   /* depth block pc of the caller's slivers jc / NR on */
                b_ss = p->K * kit->nr;
                panel = p->bp + ((jc / kit->nr) * b_ss + pc * kit->nr) * e;
            } else {
                kit->pack_b(p->trans_b, kcur, ncur, offset_of(p->B, p->trans_b, pc, jc, p->ldb, e),
                            p->ldb, bbuf);
            }
            for (int64_t ic = m0; ic < m1; ic += mc) {
                const int64_t mcur = fc_min64(mc, m1 - ic);
                gemm_a_block(p, ic, mcur, pc, kcur, jc, ncur, panel, b_ss, abuf, beta);
            }
        }
    }
}

/* thread t of nt: its rows (or columns) of C, with its own packing buffers, so the threads
 * never wait for each other (no barriers: on a shared machine a preempted thread does not hold
 * the others up). A rows split packs the B panel once per thread, which costs little: rows are
 * only split when N is narrow (columns are split otherwise).                                 */
static void gemm_thread(const gemm_plan *p, int t, int nt)
{
    const int64_t mr = p->kit.mr, nr = p->kit.nr;
    char *bbuf = p->work + (int64_t)t * (p->b_bytes + p->a_bytes), *abuf = bbuf + p->b_bytes;
    int64_t s0, s1;
    if (p->split_rows) {
        thread_range(ceil_div(p->M, mr), t, nt, &s0, &s1);
        gemm_block_private(p, s0 * mr, fc_min64(p->M, s1 * mr), 0, p->N, bbuf, abuf);
    } else {
        thread_range(ceil_div(p->N, nr), t, nt, &s0, &s1);
        gemm_block_private(p, 0, p->M, s0 * nr, fc_min64(p->N, s1 * nr), bbuf, abuf);
    }
}

/* how many threads, and which dimension they split: compare the largest per-thread share of
 * register tiles (the critical path) when splitting rows or columns */
static int gemm_choose_threads(int64_t M, int64_t N, int64_t K, int64_t mr, int64_t nr, int want,
                               int *split_rows)
{
    const int64_t mb = ceil_div(M, mr), nb = ceil_div(N, nr);
    int nt = want;
    *split_rows = 0;
    if (nt <= 1) return 1;
    const double fma = (double)M * (double)N * (double)K;
    while (nt > 1 && fma / nt < (double)GEMM_MIN_FMA_PER_THREAD) --nt;
    if (nt > mb * nb) nt = (int)(mb * nb);
    if (nt <= 1) return 1;
    /* the busiest thread's share of C in elements: whole register tiles, except that the
     * last column tile is only as wide as N (a narrow remainder is cheap, see col_tail) */
    const int64_t cost_rows = ceil_div(mb, nt) * mr * N;
    const int64_t cost_cols = mb * mr * fc_min64(N, ceil_div(nb, nt) * nr);
    /* on a tie prefer columns (no barriers: a thread that the OS preempts on this shared
     * machine does not hold the others up) unless there are too few column slivers for the
     * threads to get equal widths */
    *split_rows = cost_rows < cost_cols || (cost_rows == cost_cols && nb < 4 * (int64_t)nt);
    return nt;
}

/* C = beta * C (beta == 0 writes zeros): K == 0 or alpha == 0 */
static void gemm_scale_c(int is_double, int64_t M, int64_t N, double beta, void *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; ++i) {
        if (is_double) {
            double *c = (double *)C + i * ldc;
            if (beta == 0.0) memset(c, 0, (size_t)N * sizeof(double));
            else if (beta != 1.0) for (int64_t j = 0; j < N; ++j) c[j] *= beta;
        } else {
            float *c = (float *)C + i * ldc;
            const float b = (float)beta;
            if (b == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
            else if (b != 1.0f) for (int64_t j = 0; j < N; ++j) c[j] *= b;
        }
    }
}

/* bp: B packed whole by the caller (fc_gemm_pack_b), B and ldb unused; trans_b must be 0 */
static int gemm_any(const fc_ctx *ctx, int is_double, int k_order, int trans_a, int trans_b, int64_t M,
                    int64_t N, int64_t K, const void *alpha, int alpha_zero, const void *A,
                    int64_t lda, const void *B, int64_t ldb, const void *bp, const void *beta,
                    double beta_d, const void *one, void *C, int64_t ldc)
{
    if (M < 0 || N < 0 || K < 0) return FC_EINVAL;
    /* a leading dimension covers the stored row: K (or M, N) columns of op(X) or of X */
    if (bp != NULL && trans_b) return FC_EINVAL;
    if (lda < (trans_a ? M : K) || (bp == NULL && ldb < (trans_b ? K : N)) || ldc < N) return FC_EINVAL;
    if (M == 0 || N == 0) return FC_OK;
    if (C == NULL) return FC_EINVAL;
    if (K == 0 || alpha_zero) {
        gemm_scale_c(is_double, M, N, beta_d, C, ldc);
        return FC_OK;
    }
    if (A == NULL || (B == NULL && bp == NULL)) return FC_EINVAL;

    gemm_plan p;
    gemm_get_kit(fc_ctx_isa(ctx), is_double, &p.kit);
    p.trans_a = trans_a;
    p.trans_b = trans_b;
    p.M = M;
    p.N = N;
    p.K = K;
    p.alpha = alpha;
    p.beta = beta;
    p.one = one;
    p.A = (const char *)A;
    p.B = (const char *)B;
    p.bp = (const char *)bp;
    p.C = (char *)C;
    p.lda = lda;
    p.ldb = ldb;
    p.ldc = ldc;
    p.kc = balanced_block(K, p.kit.kc, 1);
    p.a_readable = !trans_a && !rows_alias_in_l1(lda * p.kit.elem);
    /* the macro-kernel then sums the last N % VL columns along k where its kit measured that
     * paying (GK_ROW_TAIL_COLS): a property of the call's shape, whatever the thread split */
    p.row_tail = !k_order && p.a_readable && N <= p.kit.a_in_place_n;

    int want = fc_ctx_threads(ctx);
#ifdef FC_HAVE_OPENMP
    if (omp_in_parallel()) want = 1;   /* never nest parallel regions */
#else
    want = 1;
#endif
    const int nt = gemm_choose_threads(M, N, K, p.kit.mr, p.kit.nr, want, &p.split_rows);

    /* blocks and buffers sized to one thread's share (small calls allocate little) */
    const int64_t mr = p.kit.mr, nr = p.kit.nr;
    const int64_t rows = p.split_rows ? ceil_div(ceil_div(M, mr), nt) * mr : round_up(M, mr);
    const int64_t cols = p.split_rows ? round_up(N, nr) : ceil_div(ceil_div(N, nr), nt) * nr;
    p.mc = fc_min64(p.kit.mc, rows);
    p.nc = fc_min64(p.kit.nc, cols);
    p.b_bytes = bp != NULL ? 0 : round_up(p.kc * p.nc * p.kit.elem, 64);
    /* no A buffer when every panel is narrow enough for A to be read in place */
    p.a_bytes = p.a_readable && p.nc <= p.kit.a_in_place_n ? 0 : round_up(p.mc * p.kc * p.kit.elem, 64);
    p.work = (char *)fc_aligned_alloc((int64_t)nt * (p.b_bytes + p.a_bytes));
    if (p.work == NULL) return FC_ENOMEM;

    if (nt <= 1) {
        gemm_thread(&p, 0, 1);
    } else {
#ifdef FC_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
        {
            /* the runtime may give fewer threads than asked: split over those present */
            gemm_thread(&p, omp_get_thread_num(), omp_get_num_threads());
        }
#endif
    }
    fc_aligned_free(p.work);
    return FC_OK;
}

int fc_sgemm_ex(const fc_ctx *ctx, int k_order, int trans_a, int trans_b, int64_t M, int64_t N,
                int64_t K, float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                float beta, float *C, int64_t ldc)
{
    const float one = 1.0f;
    return gemm_any(ctx, 0, k_order, trans_a, trans_b, M, N, K, &alpha, alpha == 0.0f, A, lda, B,
                    ldb, NULL, &beta, (double)beta, &one, C, ldc);
}

int fc_dgemm_ex(const fc_ctx *ctx, int k_order, int trans_a, int trans_b, int64_t M, int64_t N,
                int64_t K, double alpha, const double *A, int64_t lda, const double *B,
                int64_t ldb, double beta, double *C, int64_t ldc)
{
    const double one = 1.0;
    return gemm_any(ctx, 1, k_order, trans_a, trans_b, M, N, K, &alpha, alpha == 0.0, A, lda, B,
                    ldb, NULL, &beta, beta, &one, C, ldc);
}

int fc_sgemm(const fc_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
             float beta, float *C, int64_t ldc)
{
    return fc_sgemm_ex(ctx, 0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int fc_dgemm(const fc_ctx *ctx, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
             double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
             double beta, double *C, int64_t ldc)
{
    return fc_dgemm_ex(ctx, 0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- B packed once, used by several products ------------------------------------------------ */
int64_t fc_gemm_packed_b_elems(int isa, int is_double, int64_t K, int64_t N)
{
    fc_gemm_kit kit;
    gemm_get_kit(isa, is_double, &kit);
    int64_t cols, elems;   /* N rounded up to whole slivers, times K */
    if (K < 0 || N < 0 || fc_mul_overflow(ceil_div(N, kit.nr), kit.nr, &cols) != FC_OK ||
        fc_mul_overflow(cols, K, &elems) != FC_OK)
        return -1;
    return elems;
}

int64_t fc_gemm_nr(int isa, int is_double)
{
    fc_gemm_kit kit;
    gemm_get_kit(isa, is_double, &kit);
    return kit.nr;
}

void fc_gemm_pack_b(int isa, int is_double, int64_t K, int64_t N, const void *B, int64_t ldb, void *dst)
{
    fc_gemm_kit kit;
    gemm_get_kit(isa, is_double, &kit);
    if (K > 0 && N > 0) kit.pack_b(0, K, N, B, ldb, dst);
}

int fc_sgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *Bp, float beta, float *C, int64_t ldc)
{
    const float one = 1.0f;
    return gemm_any(ctx, 0, k_order, 0, 0, M, N, K, &alpha, alpha == 0.0f, A, lda, NULL, 0, Bp,
                    &beta, (double)beta, &one, C, ldc);
}

int fc_dgemm_bp(const fc_ctx *ctx, int k_order, int64_t M, int64_t N, int64_t K, double alpha,
                const double *A, int64_t lda, const double *Bp, double beta, double *C, int64_t ldc)
{
    const double one = 1.0;
    return gemm_any(ctx, 1, k_order, 0, 0, M, N, K, &alpha, alpha == 0.0, A, lda, NULL, 0, Bp,
                    &beta, beta, &one, C, ldc);
}
