/* gemm_kernels.c -- GEMM packing and micro-kernels for one ISA path (compiled three times, see
 * isa.h). Only the configuration lives here: register blocks, cache blocks and the vector
 * operations; the code is in gemm_kernel_tmpl.h, included once for float and once for double.
 *
 * Register blocks (C row-major, vectorised along N, A broadcast):
 *   AVX-512: 12 x 32 float, 12 x 16 double (24 zmm accumulators + 2 for B + broadcasts)
 *   AVX2:     6 x 16 float,  6 x 8  double (12 ymm accumulators)
 *   portable: 4 x 8 of plain C scalars (the compiler may still use SSE2 for it)
 * A non-transposed A is read in place (not packed) when the panel has at most 256 columns:
 * packing it would cost as much as the product of a narrow panel. The portable path always
 * packs (reading in place defeats the compiler's vectorisation there).
 * Cache blocks for AMD Zen 4 (L1d 32 KB, L2 1 MB per core): a KC x NR sliver of B streams from
 * L2 for every A sliver, an MC x KC block of A stays in L2, the KC x NC panel of B in L3.    */
#include <string.h>

#include "isa.h"
#include "../gemm_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>

/* d[c*ld + r] = s[r*ls + c] for an 8 x 8 block of floats (unpack, shuffle, swap lanes) */
static inline void gemm_transpose8x8_f32(const float *s, int64_t ls, float *d, int64_t ld)
{
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ls);
    const __m256 r2 = _mm256_loadu_ps(s + 2 * ls), r3 = _mm256_loadu_ps(s + 3 * ls);
    const __m256 r4 = _mm256_loadu_ps(s + 4 * ls), r5 = _mm256_loadu_ps(s + 5 * ls);
    const __m256 r6 = _mm256_loadu_ps(s + 6 * ls), r7 = _mm256_loadu_ps(s + 7 * ls);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ld, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* d[c*ld + r] = s[r*ls + c] for a 4 x 8 block of floats (4 rows in, 8 groups of 4 out): the
 * last 4 rows of a 12-row A sliver, which would otherwise be packed one element at a time */
static inline void gemm_transpose4x8_f32(const float *s, int64_t ls, float *d, int64_t ld)
{
    const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ls);
    const __m256 r2 = _mm256_loadu_ps(s + 2 * ls), r3 = _mm256_loadu_ps(s + 3 * ls);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    _mm_storeu_ps(d, _mm256_castps256_ps128(u0));
    _mm_storeu_ps(d + ld, _mm256_castps256_ps128(u1));
    _mm_storeu_ps(d + 2 * ld, _mm256_castps256_ps128(u2));
    _mm_storeu_ps(d + 3 * ld, _mm256_castps256_ps128(u3));
    _mm_storeu_ps(d + 4 * ld, _mm256_extractf128_ps(u0, 1));
    _mm_storeu_ps(d + 5 * ld, _mm256_extractf128_ps(u1, 1));
    _mm_storeu_ps(d + 6 * ld, _mm256_extractf128_ps(u2, 1));
    _mm_storeu_ps(d + 7 * ld, _mm256_extractf128_ps(u3, 1));
}

/* the same for a 4 x 4 block of doubles */
static inline void gemm_transpose4x4_f64(const double *s, int64_t ls, double *d, int64_t ld)
{
    const __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + ls);
    const __m256d r2 = _mm256_loadu_pd(s + 2 * ls), r3 = _mm256_loadu_pd(s + 3 * ls);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + ld, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

/* X(mv, nv, half) over every edge-tile shape: mv rows, nv full vectors, half-width tail or not */
#define GK_MV4(X, nv, h) X(1, nv, h) X(2, nv, h) X(3, nv, h) X(4, nv, h)
#define GK_MV6(X, nv, h) GK_MV4(X, nv, h) X(5, nv, h) X(6, nv, h)
#define GK_MV12(X, nv, h) GK_MV6(X, nv, h) X(7, nv, h) X(8, nv, h) X(9, nv, h) X(10, nv, h) \
    X(11, nv, h) X(12, nv, h)

/* ================================ float ================================================== */
#define GK_T float
#define GK_SFX f32
#if FC_ISA_LEVEL == 2
#define GK_MR 12
#define GK_NV 2
#define GK_VL 16
/* depth 768 (was 384; 2 threads, GFLOP/s): ResNet-50's 7x7 layers at batch 1, A in place,
 * 512 x 49 x 4608 200 -> 205 and 2048 x 49 x 512 206 -> 213 (fewer reloads of C); their
 * convolutions 1.5-3.6% faster, the other batch-1 rows within noise (geomean 0.4% faster),
 * ResNet-18's batch-16 backward rows 1.8% faster in geomean. 128 and 192 lost 5-20%. */
#define GK_KC 768
#define GK_MC 96
#define GK_NC 3072
#define GK_A_IN_PLACE_N 256
#define GK_COLTAIL 4     /* remainders of up to 4 columns: GK(col_tail) (needs MR <= VL) */
#define GK_COLTAIL_G 4
/* with A in place, a remainder this narrow is summed along k (GK(row_tail)). Measured, one
 * thread, 48 x N x K: N = 49 ran 4-6% faster from K = 128 on (K = 4608: 474 -> 448 us); two
 * columns tied and three or four lost 5-8% at every K (re-reading A costs more than the
 * half vector saves)                                                                       */
#define GK_ROW_TAIL_COLS 1
#define GK_VT __m512
#define GK_MT __mmask16
#define GK_LOAD(p) _mm512_loadu_ps(p)
#define GK_STORE(p, v) _mm512_storeu_ps(p, v)
#define GK_MLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define GK_MSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define GK_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define GK_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define GK_MUL(a, b) _mm512_mul_ps(a, b)
#define GK_ADD(a, b) _mm512_add_ps(a, b)
#define GK_SET1(x) _mm512_set1_ps(x)
#define GK_ZERO() _mm512_setzero_ps()
#define GK_TR 8
#define GK_TR_BLOCK(s, ls, d, ld) gemm_transpose8x8_f32(s, ls, d, ld)
#define GK_TR4_BLOCK(s, ls, d, ld) gemm_transpose4x8_f32(s, ls, d, ld)
#define GK_HALF 1
#define GK_HVT __m256
#define GK_HMT __mmask8
#define GK_HLOAD(p) _mm256_loadu_ps(p)
#define GK_HMLOAD(p, m) _mm256_maskz_loadu_ps(m, p)
#define GK_HMSTORE(p, m, v) _mm256_mask_storeu_ps(p, m, v)
#define GK_HMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define GK_HFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define GK_HMUL(a, b) _mm256_mul_ps(a, b)
#define GK_HADD(a, b) _mm256_add_ps(a, b)
#define GK_HSET1(x) _mm256_set1_ps(x)
#define GK_HZERO() _mm256_setzero_ps()
#define GK_FOR_TILES(X) GK_MV12(X, 1, 0) GK_MV12(X, 2, 0) GK_MV12(X, 0, 1) GK_MV12(X, 1, 1)
#elif FC_ISA_LEVEL == 1
#define GK_MR 6
#define GK_NV 2
#define GK_VL 8
#define GK_KC 384
#define GK_MC 192
#define GK_NC 3072
#define GK_A_IN_PLACE_N 256
#define GK_COLTAIL 4     /* remainders of up to 4 columns: GK(col_tail) (needs MR <= VL) */
#define GK_COLTAIL_G 4
/* measured as for AVX-512: 1-3 columns 5-12% faster at every K from 64, 4 columns tied */
#define GK_ROW_TAIL_COLS 3
#define GK_VT __m256
#define GK_MT __m256i
#define GK_LOAD(p) _mm256_loadu_ps(p)
#define GK_STORE(p, v) _mm256_storeu_ps(p, v)
#define GK_MLOAD(p, m) _mm256_maskload_ps(p, m)
#define GK_MSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define GK_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define GK_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define GK_MUL(a, b) _mm256_mul_ps(a, b)
#define GK_ADD(a, b) _mm256_add_ps(a, b)
#define GK_SET1(x) _mm256_set1_ps(x)
#define GK_ZERO() _mm256_setzero_ps()
#define GK_TR 8
#define GK_TR_BLOCK(s, ls, d, ld) gemm_transpose8x8_f32(s, ls, d, ld)
#define GK_TR4_BLOCK(s, ls, d, ld) gemm_transpose4x8_f32(s, ls, d, ld)
#define GK_FOR_TILES(X) GK_MV6(X, 1, 0) GK_MV6(X, 2, 0)
#else
#define GK_MR 4
#define GK_NV 8
#define GK_VL 1
#define GK_KC 256
#define GK_MC 128
#define GK_NC 2048
#define GK_A_IN_PLACE_N 0
#define GK_VT float
#define GK_MT int
#define GK_LOAD(p) (*(p))
#define GK_STORE(p, v) (*(p) = (v))
#define GK_MLOAD(p, m) (*(p))
#define GK_MSTORE(p, m, v) (*(p) = (v))
#define GK_MASK(n) (n)
#define GK_FMA(a, b, c) ((a) * (b) + (c))
#define GK_MUL(a, b) ((a) * (b))
#define GK_ADD(a, b) ((a) + (b))
#define GK_SET1(x) (x)
#define GK_ZERO() 0.0f
#define GK_FOR_TILES(X) GK_MV4(X, 8, 0)   /* column edges: the run-time-shape kernel */
#define GK_RUNTIME_EDGES 1
#endif
#include "gemm_kernel_tmpl.h"

/* ================================ double ================================================= */
#define GK_T double
#define GK_SFX f64
#if FC_ISA_LEVEL == 2
#define GK_MR 12
#define GK_NV 2
#define GK_VL 8
#define GK_KC 384
#define GK_MC 96
#define GK_NC 2048
#define GK_A_IN_PLACE_N 256
#define GK_VT __m512d
#define GK_MT __mmask8
#define GK_LOAD(p) _mm512_loadu_pd(p)
#define GK_STORE(p, v) _mm512_storeu_pd(p, v)
#define GK_MLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define GK_MSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define GK_MASK(n) ((__mmask8)((1u << (n)) - 1u))
#define GK_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define GK_MUL(a, b) _mm512_mul_pd(a, b)
#define GK_ADD(a, b) _mm512_add_pd(a, b)
#define GK_SET1(x) _mm512_set1_pd(x)
#define GK_ZERO() _mm512_setzero_pd()
#define GK_TR 4
#define GK_TR_BLOCK(s, ls, d, ld) gemm_transpose4x4_f64(s, ls, d, ld)
#define GK_HALF 1
#define GK_HVT __m256d
#define GK_HMT __mmask8
#define GK_HLOAD(p) _mm256_loadu_pd(p)
#define GK_HMLOAD(p, m) _mm256_maskz_loadu_pd(m, p)
#define GK_HMSTORE(p, m, v) _mm256_mask_storeu_pd(p, m, v)
#define GK_HMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define GK_HFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define GK_HMUL(a, b) _mm256_mul_pd(a, b)
#define GK_HADD(a, b) _mm256_add_pd(a, b)
#define GK_HSET1(x) _mm256_set1_pd(x)
#define GK_HZERO() _mm256_setzero_pd()
#define GK_FOR_TILES(X) GK_MV12(X, 1, 0) GK_MV12(X, 2, 0) GK_MV12(X, 0, 1) GK_MV12(X, 1, 1)
#elif FC_ISA_LEVEL == 1
#define GK_MR 6
#define GK_NV 2
#define GK_VL 4
#define GK_KC 384
#define GK_MC 96
#define GK_NC 2048
#define GK_A_IN_PLACE_N 256
#define GK_VT __m256d
#define GK_MT __m256i
#define GK_LOAD(p) _mm256_loadu_pd(p)
#define GK_STORE(p, v) _mm256_storeu_pd(p, v)
#define GK_MLOAD(p, m) _mm256_maskload_pd(p, m)
#define GK_MSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#define GK_MASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define GK_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define GK_MUL(a, b) _mm256_mul_pd(a, b)
#define GK_ADD(a, b) _mm256_add_pd(a, b)
#define GK_SET1(x) _mm256_set1_pd(x)
#define GK_ZERO() _mm256_setzero_pd()
#define GK_TR 4
#define GK_TR_BLOCK(s, ls, d, ld) gemm_transpose4x4_f64(s, ls, d, ld)
#define GK_FOR_TILES(X) GK_MV6(X, 1, 0) GK_MV6(X, 2, 0)
#else
#define GK_MR 4
#define GK_NV 8
#define GK_VL 1
#define GK_KC 256
#define GK_MC 128
#define GK_NC 2048
#define GK_A_IN_PLACE_N 0
#define GK_VT double
#define GK_MT int
#define GK_LOAD(p) (*(p))
#define GK_STORE(p, v) (*(p) = (v))
#define GK_MLOAD(p, m) (*(p))
#define GK_MSTORE(p, m, v) (*(p) = (v))
#define GK_MASK(n) (n)
#define GK_FMA(a, b, c) ((a) * (b) + (c))
#define GK_MUL(a, b) ((a) * (b))
#define GK_ADD(a, b) ((a) + (b))
#define GK_SET1(x) (x)
#define GK_ZERO() 0.0
#define GK_FOR_TILES(X) GK_MV4(X, 8, 0)   /* column edges: the run-time-shape kernel */
#define GK_RUNTIME_EDGES 1
#endif
#include "gemm_kernel_tmpl.h"

void FC_ISA_FN(fc_gemm_kit_f32)(fc_gemm_kit *kit) { fill_kit_f32(kit); }
void FC_ISA_FN(fc_gemm_kit_f64)(fc_gemm_kit *kit) { fill_kit_f64(kit); }
