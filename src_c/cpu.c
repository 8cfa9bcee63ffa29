/* cpu.c -- run-time detection of the SIMD paths this CPU and OS support, and OpenMP facts. */
#include "fastconv.h"

#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    /* xgetbv with ecx = 0; encoded as bytes so no -mxsave flag is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

int fc_cpu_isa(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FC_ISA_SCALAR;
    const int has_fma = (c >> 12) & 1, has_osxsave = (c >> 27) & 1, has_avx = (c >> 28) & 1;
    if (!(has_fma && has_osxsave && has_avx)) return FC_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return FC_ISA_SCALAR;          /* OS saves XMM and YMM state */
    if (__get_cpuid_max(0, NULL) < 7) return FC_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    const int has_avx2 = (b >> 5) & 1;
    if (!has_avx2) return FC_ISA_SCALAR;
    const int has_avx512f = (b >> 16) & 1, has_avx512dq = (b >> 17) & 1;
    const int has_avx512bw = (b >> 30) & 1, has_avx512vl = (b >> 31) & 1;
    const int os_zmm = (xcr0 & 0xe6) == 0xe6;                /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (has_avx512f && has_avx512dq && has_avx512bw && has_avx512vl && os_zmm) return FC_ISA_AVX512;
    return FC_ISA_AVX2;
}
#else
int fc_cpu_isa(void) { return FC_ISA_SCALAR; }
#endif

const char *fc_isa_name(int isa)
{
    switch (isa) {
    case FC_ISA_AVX512: return "avx512";
    case FC_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

int fc_openmp_enabled(void)
{
#ifdef FC_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_openmp_max_threads(void)
{
#ifdef FC_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
