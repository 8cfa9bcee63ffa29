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
#include "isa.h"
#include "../gemm_internal.h"

#if FC_ISA_LEVEL >= 1
#include <immintrin.h>
#endif

/* X(mv, nv) over every edge-tile shape */
#define GK_MV4(X, nv) X(1, nv) X(2, nv) X(3, nv) X(4, nv)
#define GK_MV6(X, nv) GK_MV4(X, nv) X(5, nv) X(6, nv)
#define GK_MV12(X, nv) GK_MV6(X, nv) X(7, nv) X(8, nv) X(9, nv) X(10, nv) X(11, nv) X(12, nv)

/* ================================ float ================================================== */
#define GK_T float
#define GK_SFX f32
#if FC_ISA_LEVEL == 2
#define GK_MR 12
#define GK_NV 2
#define GK_VL 16
#define GK_KC 384
#define GK_MC 192
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
#define GK_FOR_TILES(X) GK_MV12(X, 1) GK_MV12(X, 2)
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
#define GK_FOR_TILES(X) GK_MV6(X, 1) GK_MV6(X, 2)
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
#define GK_FOR_TILES(X) GK_MV4(X, 1) GK_MV4(X, 2) GK_MV4(X, 3) GK_MV4(X, 4) \
    GK_MV4(X, 5) GK_MV4(X, 6) GK_MV4(X, 7) GK_MV4(X, 8)
#endif
#include "gemm_kernel_tmpl.h"

/* ================================ double ================================================= */
#define GK_T double
#define GK_SFX f64
#if FC_ISA_LEVEL == 2
#define GK_MR 12
#define GK_NV 2
#define GK_VL 8
#define GK_KC 256
#define GK_MC 192
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
#define GK_FOR_TILES(X) GK_MV12(X, 1) GK_MV12(X, 2)
#elif FC_ISA_LEVEL == 1
#define GK_MR 6
#define GK_NV 2
#define GK_VL 4
#define GK_KC 256
#define GK_MC 192
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
#define GK_FOR_TILES(X) GK_MV6(X, 1) GK_MV6(X, 2)
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
#define GK_FOR_TILES(X) GK_MV4(X, 1) GK_MV4(X, 2) GK_MV4(X, 3) GK_MV4(X, 4) \
    GK_MV4(X, 5) GK_MV4(X, 6) GK_MV4(X, 7) GK_MV4(X, 8)
#endif
#include "gemm_kernel_tmpl.h"

void FC_ISA_FN(fc_gemm_kit_f32)(fc_gemm_kit *kit) { fill_kit_f32(kit); }
void FC_ISA_FN(fc_gemm_kit_f64)(fc_gemm_kit *kit) { fill_kit_f64(kit); }
