/* gemm_kernel_tmpl.h -- packing routines, register-blocked micro-kernel and macro-kernel of
 * the GEMM, written once for any element type and SIMD width. gemm_kernels.c includes it once
 * per element type after defining the configuration below (it #undefs them all at the end):
 *
 *   GK_T, GK_SFX          element type and the name suffix of its functions (f32, f64)
 *   GK_MR, GK_NV, GK_VL   register block: MR rows x NV vectors of VL lanes (NR = NV * VL)
 *   GK_KC, GK_MC, GK_NC   cache blocks handed to the driver
 *   GK_A_IN_PLACE_N       widest panel for which A is read unpacked (see gemm.c)
 *   GK_VT, GK_MT          vector and lane-mask types
 *   GK_LOAD, GK_STORE, GK_MLOAD, GK_MSTORE, GK_MASK(n)   (masked ops touch only the first n lanes)
 *   GK_FMA(a, b, c) = a*b + c, GK_MUL, GK_ADD, GK_SET1, GK_ZERO
 *   GK_FOR_TILES(X)       X(mv, nv, half) for every edge-tile shape (see the micro-kernel)
 *   GK_HALF, GK_HVT, GK_HMT, GK_H*   optional half-width vector for narrow column tails
 *   GK_TR, GK_TR_BLOCK(s, ls, d, ld)  optional GK_TR x GK_TR in-register transpose for packing
 *   GK_TR4_BLOCK(s, ls, d, ld)        optional 4 x GK_TR transpose for the rows a GK_TR block leaves
 *   GK_RUNTIME_EDGES      (portable path) tiles GK_FOR_TILES omits use a run-time-shape kernel
 *
 * Row-major C is vectorised along N: each accumulator holds VL consecutive columns of one row
 * of C, and each element of A is broadcast. Every C element is an independent dot product
 * accumulated in k order, so the result of an element does not depend on the tile it falls in,
 * on the thread that computes it, or on the edge handling: edges run the same code with fewer
 * rows (mv < MR), fewer vectors (nv < NV) and lane masks on the last vector. One exception,
 * chosen by the shapes alone: with A read in place, the last N % VL columns of a call, when
 * at most GK_ROW_TAIL_COLS, may be summed along k (GK(row_tail)).                           */

#define GK_NR (GK_NV * GK_VL)
#define GK_CAT2(a, b) a##_##b
#define GK_CAT(a, b) GK_CAT2(a, b)
#define GK(name) GK_CAT(name, GK_SFX)

#ifndef GK_TMPL_ONCE
#define GK_TMPL_ONCE
#if defined(__GNUC__)
#define GK_INLINE static inline __attribute__((always_inline))
#else
#define GK_INLINE static inline
#endif
#if defined(__clang__)
#define GK_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define GK_UNROLL _Pragma("GCC unroll 16")
#else
#define GK_UNROLL
#endif
#endif

/* ---- micro-kernel ---------------------------------------------------------------------------
 * C[0:mv, 0:w] = alpha * a . b + beta * C for an MR x NR packed pair, where the w columns are nv
 * full vectors, then (half == 1, only where GK_HALF is defined) one half-width vector; the last
 * piece has nlast lanes (masked when fewer than its width). Half vectors exist because on
 * Zen 4 a 256-bit FMA costs half a 512-bit one: a narrow column tail (N = 49 = 3*16 + 1) runs
 * at half the cost of a masked full vector.                                                  */
#ifdef GK_HALF
#define GK_HVL (GK_VL / 2)
#endif

GK_INLINE void GK(ukr)(const int mv, const int nv, const int half, int64_t kc,
                       const GK_T *restrict a, int64_t a_rs, int64_t a_cs,
                       const GK_T *restrict b, GK_T alpha, GK_T beta,
                       GK_T *restrict C, int64_t ldc, int nlast)
{
    GK_VT acc[GK_MR][GK_NV];
#ifdef GK_HALF
    GK_HVT hacc[GK_MR];
#endif
    GK_UNROLL for (int i = 0; i < mv; ++i) {
        GK_UNROLL for (int v = 0; v < nv; ++v) acc[i][v] = GK_ZERO();
#ifdef GK_HALF
        if (half) hacc[i] = GK_HZERO();
#endif
    }
    for (int64_t k = 0; k < kc; ++k) {
        GK_VT bv[GK_NV];
        GK_UNROLL for (int v = 0; v < nv; ++v) bv[v] = GK_LOAD(b + v * GK_VL);
#ifdef GK_HALF
        const GK_HVT hb = half ? GK_HLOAD(b + nv * GK_VL) : GK_HZERO();
#endif
        GK_UNROLL for (int i = 0; i < mv; ++i) {
            const GK_VT ai = GK_SET1(a[i * a_rs]);
            GK_UNROLL for (int v = 0; v < nv; ++v) acc[i][v] = GK_FMA(ai, bv[v], acc[i][v]);
#ifdef GK_HALF
            if (half) hacc[i] = GK_HFMA(GK_HSET1(a[i * a_rs]), hb, hacc[i]);
#endif
        }
        a += a_cs;
        b += GK_NR;
    }
    /* epilogue: the branches are uniform over the call, so they predict perfectly */
    const int partial = half ? 0 : nlast < GK_VL;   /* masked last full vector */
    const GK_MT mask = GK_MASK(partial ? nlast : GK_VL);
    const GK_VT va = GK_SET1(alpha), vb = GK_SET1(beta);
    GK_UNROLL for (int i = 0; i < mv; ++i) {
        GK_T *c = C + i * ldc;
        GK_UNROLL for (int v = 0; v < nv; ++v) {
            GK_VT r = acc[i][v];
            const int masked = partial && v == nv - 1;
            if (alpha != (GK_T)1) r = GK_MUL(va, r);
            if (beta != (GK_T)0) {   /* beta == 0: old C (maybe NaN) is never read */
                const GK_VT old = masked ? GK_MLOAD(c + v * GK_VL, mask) : GK_LOAD(c + v * GK_VL);
                r = beta == (GK_T)1 ? GK_ADD(old, r) : GK_FMA(vb, old, r);
            }
            if (masked) GK_MSTORE(c + v * GK_VL, mask, r);
            else GK_STORE(c + v * GK_VL, r);
        }
#ifdef GK_HALF
        if (half) {   /* same operations as above at half width, always masked */
            const GK_HMT hmask = GK_HMASK(nlast);
            GK_T *ch = c + nv * GK_VL;
            GK_HVT r = hacc[i];
            if (alpha != (GK_T)1) r = GK_HMUL(GK_HSET1(alpha), r);
            if (beta != (GK_T)0) {
                const GK_HVT old = GK_HMLOAD(ch, hmask);
                r = beta == (GK_T)1 ? GK_HADD(old, r) : GK_HFMA(GK_HSET1(beta), old, r);
            }
            GK_HMSTORE(ch, hmask, r);
        }
#endif
    }
    (void)mask;
    (void)vb;
    (void)half;
}

#ifdef GK_RUNTIME_EDGES
/* portable path (GK_VL == 1) only: the micro-kernel for a tile shape known at run time, for
 * the shapes GK_FOR_TILES leaves out (keeps that build small and quick to compile). The same
 * operations in the same order as GK(ukr), so a C element does not depend on its tile.     */
static void GK(ukr_any)(int mv, int nv, int64_t kc, const GK_T *a, int64_t a_rs, int64_t a_cs,
                        const GK_T *b, GK_T alpha, GK_T beta, GK_T *C, int64_t ldc)
{
    GK_T acc[GK_MR][GK_NR];
    for (int i = 0; i < mv; ++i)
        for (int j = 0; j < nv; ++j) acc[i][j] = GK_ZERO();
    for (int64_t k = 0; k < kc; ++k, a += a_cs, b += GK_NR) {
        for (int i = 0; i < mv; ++i) {
            const GK_T ai = a[i * a_rs];
            for (int j = 0; j < nv; ++j) acc[i][j] = GK_FMA(ai, b[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mv; ++i) {
        for (int j = 0; j < nv; ++j) {
            GK_T r = acc[i][j];
            if (alpha != (GK_T)1) r = GK_MUL(alpha, r);
            if (beta != (GK_T)0) r = beta == (GK_T)1 ? GK_ADD(C[i * ldc + j], r) : GK_FMA(beta, C[i * ldc + j], r);
            C[i * ldc + j] = r;
        }
    }
}
#endif

/* an edge tile: pick the kernel specialised for (mv, nv, half) */
static void GK(edge_tile)(int mv, int nv, int half, int64_t kc, const GK_T *a, int64_t a_rs,
                          int64_t a_cs, const GK_T *b, GK_T alpha, GK_T beta, GK_T *C,
                          int64_t ldc, int nlast)
{
    switch ((mv * 16 + nv) * 2 + half) {
#define GK_CASE(m_, n_, h_)                                                                  \
    case ((m_) * 16 + (n_)) * 2 + (h_):                                                      \
        GK(ukr)(m_, n_, h_, kc, a, a_rs, a_cs, b, alpha, beta, C, ldc, nlast);               \
        break;
        GK_FOR_TILES(GK_CASE)
#undef GK_CASE
    default:   /* shapes without a specialised kernel */
#ifdef GK_RUNTIME_EDGES
        GK(ukr_any)(mv, nv, kc, a, a_rs, a_cs, b, alpha, beta, C, ldc);
#endif
        break;
    }
}

#ifdef GK_COLTAIL
#ifndef GK_ROW_TAIL_COLS
#define GK_ROW_TAIL_COLS 0
#endif
/* X(a, b) for a, b in 1..4: the compile-time shapes of the tail kernels' dispatch (at most
 * GK_COLTAIL_G slivers or GK_TAIL_RB rows, times at most GK_COLTAIL columns, all 4)        */
#define GK_FOR_4x4(X) X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(2, 1) X(2, 2) X(2, 3) X(2, 4) \
    X(3, 1) X(3, 2) X(3, 3) X(3, 4) X(4, 1) X(4, 2) X(4, 3) X(4, 4)

/* the epilogue of a column vectorised along M: lane i is C[i*ldc] for i < rows, written as
 * alpha*r + beta*C (old C gathered, and never read when beta == 0), the same operations as
 * GK(ukr)'s epilogue                                                                       */
GK_INLINE void GK(store_column)(GK_VT r, GK_T alpha, GK_T beta, GK_T *c, int64_t ldc, int64_t rows)
{
    GK_T buf[GK_VL];
    if (alpha != (GK_T)1) r = GK_MUL(GK_SET1(alpha), r);
    if (beta != (GK_T)0) {
        for (int64_t i = 0; i < GK_VL; ++i) buf[i] = i < rows ? c[i * ldc] : (GK_T)0;
        const GK_VT old = GK_LOAD(buf);
        r = beta == (GK_T)1 ? GK_ADD(old, r) : GK_FMA(GK_SET1(beta), old, r);
    }
    GK_STORE(buf, r);
    for (int64_t i = 0; i < rows; ++i) c[i * ldc] = buf[i];
}

/* ---- column tail ----------------------------------------------------------------------------
 * The last `cols` (at most GK_COLTAIL) columns of a B sliver, for g (at most GK_COLTAIL_G)
 * consecutive slivers of a packed A block, vectorised along M instead of N: lane i of
 * acc[s][c] is row i of sliver s, column c. A narrow remainder (N = 49 = 3*16 + 1) then costs
 * one FMA per column per sliver and k, instead of a half or masked vector per row (6 or 12
 * FMAs), and g*cols independent chains hide the FMA latency. Each lane is the same k-ordered
 * chain of FMAs from zero, with the same alpha/beta epilogue, as the element would get from
 * GK(ukr): results do not depend on which kernel computed them.                             */
GK_INLINE void GK(tail_block)(const int g, const int cols, int64_t k, const GK_T *restrict a,
                              int64_t a_ss, const GK_T *restrict b, GK_T alpha, GK_T beta,
                              GK_T *restrict C, int64_t ldc, int64_t rows)
{
    GK_VT acc[GK_COLTAIL_G][GK_COLTAIL];
    const GK_MT amask = GK_MASK(GK_MR);   /* a packed sliver holds MR <= VL rows per k */
    GK_UNROLL for (int s = 0; s < g; ++s) {
        GK_UNROLL for (int c = 0; c < cols; ++c) acc[s][c] = GK_ZERO();
    }
    for (int64_t kk = 0; kk < k; ++kk) {
        GK_VT av[GK_COLTAIL_G];
        GK_UNROLL for (int s = 0; s < g; ++s) av[s] = GK_MLOAD(a + s * a_ss + kk * GK_MR, amask);
        GK_UNROLL for (int c = 0; c < cols; ++c) {
            const GK_VT bc = GK_SET1(b[kk * GK_NR + c]);
            GK_UNROLL for (int s = 0; s < g; ++s) acc[s][c] = GK_FMA(av[s], bc, acc[s][c]);
        }
    }
    for (int s = 0; s < g; ++s) {
        const int64_t rs = fc_min64(GK_MR, rows - (int64_t)s * GK_MR);
        GK_T *cs = C + (int64_t)s * GK_MR * ldc;
        for (int c = 0; c < cols; ++c) GK(store_column)(acc[s][c], alpha, beta, cs + c, ldc, rs);
    }
}

/* One full packed A sliver (MR rows) against one vector of B columns plus the `cols` columns
 * after it, in one pass: the vector as in GK(ukr), the remainder as in GK(tail_block) (lane i
 * = row i), from the same k loop while the sliver's values are in L1; two passes read every
 * A block from L2 twice. Measured (512 x 4096 x N, A packed): N = 17 from 64 to 73 GFLOP/s on
 * one thread, 110 to 127 on two; N = 49 unchanged (its first sliver dominates). Same
 * per-element FMA chains and epilogues as those two kernels: the results are theirs bit for
 * bit. (A read in place has no column-tail kernel: packing it for this costs more.)       */
GK_INLINE void GK(ukr_vec_tail)(const int cols, int64_t k, const GK_T *restrict a, const GK_T *restrict b,
                                GK_T alpha, GK_T beta, GK_T *restrict C, int64_t ldc)
{
    GK_VT acc[GK_MR], tacc[GK_COLTAIL];
    const GK_MT amask = GK_MASK(GK_MR);
    GK_UNROLL for (int i = 0; i < GK_MR; ++i) acc[i] = GK_ZERO();
    GK_UNROLL for (int c = 0; c < cols; ++c) tacc[c] = GK_ZERO();
    for (int64_t kk = 0; kk < k; ++kk) {
        const GK_VT bv = GK_LOAD(b);
        GK_UNROLL for (int i = 0; i < GK_MR; ++i) acc[i] = GK_FMA(GK_SET1(a[i]), bv, acc[i]);
        const GK_VT av = GK_MLOAD(a, amask);
        GK_UNROLL for (int c = 0; c < cols; ++c) tacc[c] = GK_FMA(av, GK_SET1(b[GK_VL + c]), tacc[c]);
        a += GK_MR;
        b += GK_NR;
    }
    const GK_VT va = GK_SET1(alpha), vb = GK_SET1(beta);
    GK_UNROLL for (int i = 0; i < GK_MR; ++i) {
        GK_T *c = C + i * ldc;
        GK_VT r = acc[i];
        if (alpha != (GK_T)1) r = GK_MUL(va, r);
        if (beta != (GK_T)0) r = beta == (GK_T)1 ? GK_ADD(GK_LOAD(c), r) : GK_FMA(vb, GK_LOAD(c), r);
        GK_STORE(c, r);
    }
    for (int c = 0; c < cols; ++c) GK(store_column)(tacc[c], alpha, beta, C + GK_VL + c, ldc, GK_MR);
}

/* ---- row tail --------------------------------------------------------------------------------
 * The last `cols` (at most GK_COLTAIL) columns of a B sliver against an A block read in place
 * (row i at a + i*lda, contiguous in k): each element as a dot product vectorised along k
 * (GK_VL partial sums, then the lanes added in a fixed tree), GK_TAIL_RB rows x cols at a
 * time. For N = 49 = 3*16 + 1 this costs k/16 FMAs per row for the last column where a half
 * vector cost k/2 (ResNet-50 layer4's 3x3 at batch 1, 512 x 49 x 4608: 1.32 -> 1.27 ms).
 * The exception to k-ordered sums: these columns may differ in the last bits from the same
 * element computed through packed A. The driver enables it only for calls in which every
 * thread split reads A in place, and the columns that take it are the call's last N % VL:
 * results depend on the shapes only, never on the thread count.                          */
#define GK_TAIL_RB 4
GK_INLINE GK_T GK(lane_sum)(GK_VT v)
{
    GK_T buf[GK_VL];
    GK_STORE(buf, v);
    for (int w = GK_VL / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; ++i) buf[i] += buf[i + w];
    return buf[0];
}

GK_INLINE void GK(row_tail_block)(const int rows, const int cols, int64_t k, const GK_T *restrict a,
                                  int64_t lda, const GK_T *restrict bt, int64_t ldbt, GK_T alpha,
                                  GK_T beta, GK_T *restrict C, int64_t ldc)
{
    GK_VT acc[GK_TAIL_RB][GK_COLTAIL];
    GK_UNROLL for (int r = 0; r < rows; ++r) {
        GK_UNROLL for (int c = 0; c < cols; ++c) acc[r][c] = GK_ZERO();
    }
    int64_t kk = 0;
    for (; kk + GK_VL <= k; kk += GK_VL) {
        GK_VT bv[GK_COLTAIL];
        GK_UNROLL for (int c = 0; c < cols; ++c) bv[c] = GK_LOAD(bt + c * ldbt + kk);
        GK_UNROLL for (int r = 0; r < rows; ++r) {
            const GK_VT av = GK_LOAD(a + r * lda + kk);
            GK_UNROLL for (int c = 0; c < cols; ++c) acc[r][c] = GK_FMA(av, bv[c], acc[r][c]);
        }
    }
    if (kk < k) {   /* the last k % VL: A masked (never read past the row), bt is zero there */
        const GK_MT mask = GK_MASK((int)(k - kk));
        GK_VT bv[GK_COLTAIL];
        GK_UNROLL for (int c = 0; c < cols; ++c) bv[c] = GK_LOAD(bt + c * ldbt + kk);
        GK_UNROLL for (int r = 0; r < rows; ++r) {
            const GK_VT av = GK_MLOAD(a + r * lda + kk, mask);
            GK_UNROLL for (int c = 0; c < cols; ++c) acc[r][c] = GK_FMA(av, bv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
            GK(store_column)(GK_SET1(GK(lane_sum)(acc[r][c])), alpha, beta, C + r * ldc + c, ldc, 1);
}

static void GK(row_tail)(int64_t m, int cols, int64_t k, const GK_T *a, int64_t lda, const GK_T *b,
                         GK_T alpha, GK_T beta, GK_T *C, int64_t ldc)
{
    /* the tail columns of the packed sliver (b[kk*NR + c]) made contiguous in k, zero padded
     * to a whole vector; k <= GK_KC: the driver's depth blocks never exceed the kit's kc     */
    enum { LDBT = GK_KC + GK_VL };
    GK_T bt[GK_COLTAIL * LDBT];
    const int64_t kpad = (k + GK_VL - 1) / GK_VL * GK_VL;
    for (int c = 0; c < cols; ++c) {
        for (int64_t kk = 0; kk < k; ++kk) bt[c * LDBT + kk] = b[kk * GK_NR + c];
        for (int64_t kk = k; kk < kpad; ++kk) bt[c * LDBT + kk] = 0;
    }
    for (int64_t i0 = 0; i0 < m; i0 += GK_TAIL_RB) {
        const int rows = (int)fc_min64(GK_TAIL_RB, m - i0);
        const GK_T *ai = a + i0 * lda;
        GK_T *ci = C + i0 * ldc;
        switch (rows * 16 + cols) {
#define GK_ROW_CASE(r_, c_)                                                                  \
        case (r_) * 16 + (c_):                                                               \
            GK(row_tail_block)(r_, c_, k, ai, lda, bt, LDBT, alpha, beta, ci, ldc);          \
            break;
        GK_FOR_4x4(GK_ROW_CASE)
#undef GK_ROW_CASE
        default:
            break;
        }
    }
}

/* C[0:m, 0:cols] for every sliver of a packed A block, GK_COLTAIL_G slivers at a time */
static void GK(col_tail)(int64_t m, int cols, int64_t k, const GK_T *a, int64_t a_ss,
                         const GK_T *b, GK_T alpha, GK_T beta, GK_T *C, int64_t ldc)
{
    for (int64_t i0 = 0; i0 < m; i0 += GK_COLTAIL_G * GK_MR) {
        const int64_t rows = fc_min64(GK_COLTAIL_G * GK_MR, m - i0);
        const int g = (int)((rows + GK_MR - 1) / GK_MR);
        const GK_T *ag = a + (i0 / GK_MR) * a_ss;
        GK_T *c = C + i0 * ldc;
        switch (g * 16 + cols) {
#define GK_TAIL_CASE(g_, c_)                                                                 \
        case (g_) * 16 + (c_):                                                               \
            GK(tail_block)(g_, c_, k, ag, a_ss, b, alpha, beta, c, ldc, rows);               \
            break;
        GK_FOR_4x4(GK_TAIL_CASE)
#undef GK_TAIL_CASE
        default:
            break;
        }
    }
}
#undef GK_TAIL_RB
#undef GK_FOR_4x4
#endif

/* ---- macro-kernel: C[0:m, 0:n] over an A block and a packed B panel -------------------------
 * Element (i, kk) of the A block is a[i*a_rs + kk*a_cs], sliver s (rows s*MR..) starts at
 * a + s*a_ss: a packed block has a_rs = 1, a_cs = MR, a_ss = MR*k (that case gets code with
 * constant strides); an unpacked row-major A has a_rs = lda, a_cs = 1 (transposed: 1, lda).
 * B's slivers (k rows of NR) start every b_ss elements: k*NR for a panel packed for this
 * call, K*NR for a depth block inside a B packed whole by the caller.                       */
static void GK(macro)(int64_t m, int64_t n, int64_t k, const void *alpha_, const void *a_,
                      int64_t a_rs, int64_t a_cs, int64_t a_ss, const void *pb_, int64_t b_ss,
                      const void *beta_, void *C_, int64_t ldc, int row_tail)
{
    const GK_T alpha = *(const GK_T *)alpha_, beta = *(const GK_T *)beta_;
    const GK_T *pa = (const GK_T *)a_, *pb = (const GK_T *)pb_;
    GK_T *C = (GK_T *)C_;
    const int packed = a_rs == 1 && a_cs == GK_MR;
    /* B sliver outer, A slivers inner: one B sliver (k x NR) is reused over the A block */
    for (int64_t j0 = 0; j0 < n; j0 += GK_NR) {
        const int nn = (int)fc_min64(GK_NR, n - j0);
        const int rem = nn % GK_VL;
        int nv = nn / GK_VL, half = 0, nlast = GK_VL;
        int tail = 0;   /* columns left to GK(col_tail), or with A in place to GK(row_tail) */
#ifdef GK_COLTAIL
        /* packed A: the column-tail kernel; A in place and the call allowing it: the k-summed
         * tail, for remainders as narrow as the kit measured it paying                      */
        if (packed ? rem <= GK_COLTAIL : row_tail && rem <= GK_ROW_TAIL_COLS) tail = rem;
#else
        (void)row_tail;
#endif
        if (rem && !tail) {
#ifdef GK_HALF
            half = rem <= GK_HVL;
#endif
            nv += !half;
            nlast = rem;
        }
        const GK_T *b = pb + (j0 / GK_NR) * b_ss;
#ifdef GK_COLTAIL
        if (tail && !packed) {
            GK(row_tail)(m, tail, k, pa, a_rs, b + nv * GK_VL, alpha, beta, C + j0 + nv * GK_VL, ldc);
            if (nv == 0) continue;
        }
        if (tail && packed && nv == 1) {
            /* one vector and a few columns (N = 49 = 3*16 + 1): full slivers in one pass, the
             * rows of a last partial sliver the two-pass way */
            const int64_t mfull = m - m % GK_MR;
            for (int64_t i0 = 0; i0 < mfull; i0 += GK_MR) {
                const GK_T *a = pa + (i0 / GK_MR) * a_ss;
                GK_T *c = C + i0 * ldc + j0;
                switch (tail) {
                case 1: GK(ukr_vec_tail)(1, k, a, b, alpha, beta, c, ldc); break;
                case 2: GK(ukr_vec_tail)(2, k, a, b, alpha, beta, c, ldc); break;
                case 3: GK(ukr_vec_tail)(3, k, a, b, alpha, beta, c, ldc); break;
                default: GK(ukr_vec_tail)(4, k, a, b, alpha, beta, c, ldc); break;
                }
            }
            if (mfull < m) {
                const GK_T *a = pa + (mfull / GK_MR) * a_ss;
                GK_T *c = C + mfull * ldc + j0;
                GK(col_tail)(m - mfull, tail, k, a, a_ss, b + GK_VL, alpha, beta, c + GK_VL, ldc);
                GK(edge_tile)((int)(m - mfull), 1, 0, k, a, 1, GK_MR, b, alpha, beta, c, ldc, GK_VL);
            }
            continue;
        }
        if (tail && packed)
            GK(col_tail)(m, tail, k, pa, a_ss, b + nv * GK_VL, alpha, beta, C + j0 + nv * GK_VL, ldc);
        if (nv == 0 && !half) continue;
#endif
        for (int64_t i0 = 0; i0 < m; i0 += GK_MR) {
            const int mm = (int)fc_min64(GK_MR, m - i0);
            const GK_T *a = pa + (i0 / GK_MR) * a_ss;
            GK_T *c = C + i0 * ldc + j0;
            if (mm == GK_MR && nn == GK_NR) {
                if (packed) GK(ukr)(GK_MR, GK_NV, 0, k, a, 1, GK_MR, b, alpha, beta, c, ldc, GK_VL);
                else GK(ukr)(GK_MR, GK_NV, 0, k, a, a_rs, a_cs, b, alpha, beta, c, ldc, GK_VL);
            } else {
                GK(edge_tile)(mm, nv, half, k, a, a_rs, a_cs, b, alpha, beta, c, ldc, nlast);
            }
        }
    }
}

/* ---- packing ------------------------------------------------------------------------------- */
#ifndef GK_PACK_KB
#define GK_PACK_KB 64
#endif

/* rows x k of a row-major source (row stride ld) into dst as k rows of R (dst[kk*R + r] =
 * src[r*ld + kk]), rows past `rows` zero: the transposing packs. In chunks of GK_PACK_KB
 * depth, so reads are sequential and the written part stays in L1; GK_TR x GK_TR squares go
 * through an in-register transpose where the ISA has one.                                    */
GK_INLINE void GK(pack_transposed)(int64_t rows, int64_t k, const GK_T *restrict src, int64_t ld,
                                   GK_T *restrict dst, const int R)
{
    for (int64_t k0 = 0; k0 < k; k0 += GK_PACK_KB) {
        const int64_t kb = fc_min64(GK_PACK_KB, k - k0);
        int64_t r = 0;
#ifdef GK_TR
        for (; r + GK_TR <= rows; r += GK_TR) {
            int64_t kk = 0;
            for (; kk + GK_TR <= kb; kk += GK_TR)
                GK_TR_BLOCK(src + r * ld + k0 + kk, ld, dst + (k0 + kk) * R + r, R);
            for (; kk < kb; ++kk) {
                for (int64_t q = r; q < r + GK_TR; ++q) dst[(k0 + kk) * R + q] = src[q * ld + k0 + kk];
            }
        }
#endif
#ifdef GK_TR4_BLOCK
        /* 4 more rows, 8 deep at a time (GK_TR == 8 here) */
        for (; r + 4 <= rows; r += 4) {
            int64_t kk = 0;
            for (; kk + 8 <= kb; kk += 8)
                GK_TR4_BLOCK(src + r * ld + k0 + kk, ld, dst + (k0 + kk) * R + r, R);
            for (; kk < kb; ++kk) {
                for (int64_t q = r; q < r + 4; ++q) dst[(k0 + kk) * R + q] = src[q * ld + k0 + kk];
            }
        }
#endif
        for (; r < rows; ++r) {
            const GK_T *restrict s = src + r * ld + k0;
            GK_T *restrict d = dst + k0 * R + r;
            for (int64_t kk = 0; kk < kb; ++kk) d[kk * R] = s[kk];
        }
        for (; r < R; ++r) {
            GK_T *restrict d = dst + k0 * R + r;
            for (int64_t kk = 0; kk < kb; ++kk) d[kk * R] = (GK_T)0;
        }
    }
}

static void GK(pack_a)(int trans, int64_t m, int64_t k, const void *A_, int64_t lda, void *dst_)
{
    const GK_T *A = (const GK_T *)A_;
    GK_T *dst = (GK_T *)dst_;
    const int64_t mfull = m / GK_MR, mtail = m - mfull * GK_MR;
    if (trans) {
        /* op(A)[i][kk] = A[kk*lda + i]: read each row of A once, front to back, and deal its
         * MR-long pieces to the slivers */
        for (int64_t kk = 0; kk < k; ++kk) {
            const GK_T *src = A + kk * lda;
            GK_T *d = dst + kk * GK_MR;
            for (int64_t s = 0; s < mfull; ++s, src += GK_MR, d += GK_MR * k)
                memcpy(d, src, sizeof(GK_T) * GK_MR);   /* constant size: vector moves */
            if (mtail) {
                for (int i = 0; i < mtail; ++i) d[i] = src[i];
                for (int i = (int)mtail; i < GK_MR; ++i) d[i] = (GK_T)0;
            }
        }
        return;
    }
    /* op(A)[i][kk] = A[i*lda + kk]: transpose MR rows at a time */
    for (int64_t i0 = 0; i0 < m; i0 += GK_MR, dst += GK_MR * k)
        GK(pack_transposed)(fc_min64(GK_MR, m - i0), k, A + i0 * lda, lda, dst, GK_MR);
}

static void GK(pack_b)(int trans, int64_t k, int64_t n, const void *B_, int64_t ldb, void *dst_)
{
    const GK_T *B = (const GK_T *)B_;
    GK_T *dst = (GK_T *)dst_;
    const int64_t nfull = n / GK_NR, ntail = n - nfull * GK_NR;
    if (!trans) {
        /* op(B)[kk][j] = B[kk*ldb + j]: read each row of B once, front to back (one stream the
         * prefetcher follows, even from DRAM), and deal its NR-wide pieces to the slivers */
        for (int64_t kk = 0; kk < k; ++kk) {
            const GK_T *src = B + kk * ldb;
            GK_T *d = dst + kk * GK_NR;
            for (int64_t s = 0; s < nfull; ++s, src += GK_NR, d += GK_NR * k)
                memcpy(d, src, sizeof(GK_T) * GK_NR);
            if (ntail) {
                for (int j = 0; j < ntail; ++j) d[j] = src[j];
                for (int j = (int)ntail; j < GK_NR; ++j) d[j] = (GK_T)0;
            }
        }
        return;
    }
    /* op(B)[kk][j] = B[j*ldb + kk]: transpose NR rows of B at a time */
    for (int64_t j0 = 0; j0 < n; j0 += GK_NR, dst += GK_NR * k)
        GK(pack_transposed)(fc_min64(GK_NR, n - j0), k, B + j0 * ldb, ldb, dst, GK_NR);
}

static void GK(fill_kit)(fc_gemm_kit *kit)
{
    kit->elem = (int64_t)sizeof(GK_T);
    kit->mr = GK_MR;
    kit->nr = GK_NR;
    kit->kc = GK_KC;
    kit->mc = GK_MC;
    kit->nc = GK_NC;
    kit->a_in_place_n = GK_A_IN_PLACE_N;
    kit->pack_a = GK(pack_a);
    kit->pack_b = GK(pack_b);
    kit->macro = GK(macro);
}

#undef GK_T
#undef GK_SFX
#undef GK_MR
#undef GK_NV
#undef GK_VL
#undef GK_KC
#undef GK_MC
#undef GK_NC
#undef GK_A_IN_PLACE_N
#undef GK_COLTAIL
#undef GK_COLTAIL_G
#undef GK_ROW_TAIL_COLS
#undef GK_TR4_BLOCK
#undef GK_VT
#undef GK_MT
#undef GK_LOAD
#undef GK_STORE
#undef GK_MLOAD
#undef GK_MSTORE
#undef GK_MASK
#undef GK_FMA
#undef GK_MUL
#undef GK_ADD
#undef GK_SET1
#undef GK_ZERO
#undef GK_FOR_TILES
#undef GK_NR
#undef GK_HALF
#undef GK_HVL
#undef GK_HVT
#undef GK_HMT
#undef GK_HLOAD
#undef GK_HMLOAD
#undef GK_HMSTORE
#undef GK_HMASK
#undef GK_HFMA
#undef GK_HMUL
#undef GK_HADD
#undef GK_HSET1
#undef GK_HZERO
#undef GK_TR
#undef GK_TR_BLOCK
#undef GK_RUNTIME_EDGES
