/* gemm_kernels.c -- GEMM packing and micro-kernels for one ISA path (compiled three times, see
 * isa.h). Only the configuration lives here: register blocks, cache blocks and the vector
 * operations; the code is in gemm_kernel_tmpl.h, included once for float and once for double.
 *
 * Register blocks (C row-major, vectorised along N, A broadcast):
 *   AVX-512: 12 x 32 float, 12 x 16 double (24 zmm accumulators + 2 for B + broadcasts)
 *   AVX2:     6 x 16 float,  6 x 8  double (12 ymm accumulators)
 *   portable: 4 x 8 of plain C scalars (the compiler may still use SSE2 for it)
 * Cache blocks for AMD Zen 4 (L1d 32 KB, L2 1 MB per core): a KC x NR sliver of B streams from
 * L2 for every A sliver, an MC x KC block of A stays in L2, the KC x NC panel of B in L3.    */
#include <string.h>

#include "isa.h"
#include "../gemm_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>
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
#define GK_KC 384
#define GK_MC 96
#define GK_NC 3072
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
#define GK_FOR_TILES(X) GK_MV6(X, 1, 0) GK_MV6(X, 2, 0)
#else
#define GK_MR 4
#define GK_NV 8
#define GK_VL 1
#define GK_KC 256
#define GK_MC 128
#define GK_NC 2048
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
#define GK_FOR_TILES(X) GK_MV4(X, 1, 0) GK_MV4(X, 2, 0) GK_MV4(X, 3, 0) GK_MV4(X, 4, 0) \
    GK_MV4(X, 5, 0) GK_MV4(X, 6, 0) GK_MV4(X, 7, 0) GK_MV4(X, 8, 0)
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
#define GK_FOR_TILES(X) GK_MV6(X, 1, 0) GK_MV6(X, 2, 0)
#else
#define GK_MR 4
#define GK_NV 8
#define GK_VL 1
#define GK_KC 256
#define GK_MC 128
#define GK_NC 2048
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
#define GK_FOR_TILES(X) GK_MV4(X, 1, 0) GK_MV4(X, 2, 0) GK_MV4(X, 3, 0) GK_MV4(X, 4, 0) \
    GK_MV4(X, 5, 0) GK_MV4(X, 6, 0) GK_MV4(X, 7, 0) GK_MV4(X, 8, 0)
#endif
#include "gemm_kernel_tmpl.h"

void FC_ISA_FN(fc_gemm_kit_f32)(fc_gemm_kit *kit) { fill_kit_f32(kit); }
void FC_ISA_FN(fc_gemm_kit_f64)(fc_gemm_kit *kit) { fill_kit_f64(kit); }
