#include "kernel_target.h"
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

/// XCR0 bits the OS must set for the registers to survive context switches: SSE+AVX state (ymm) and
/// the three AVX-512 states (opmask, zmm0-15 upper halves, zmm16-31).
#define XCR0_YMM 0x6
#define XCR0_ZMM 0xE6

static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int cnnspec_kernel_isa(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return CNNSPEC_ISA_GENERIC;
    int osxsave = (ecx >> 27) & 1, fma = (ecx >> 12) & 1, avx = (ecx >> 28) & 1;
    if (!osxsave || !avx || !fma) return CNNSPEC_ISA_GENERIC;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & XCR0_YMM) != XCR0_YMM) return CNNSPEC_ISA_GENERIC;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return CNNSPEC_ISA_GENERIC;
    int avx2 = (ebx >> 5) & 1, avx512f = (ebx >> 16) & 1;
    if (avx512f && (xcr0 & XCR0_ZMM) == XCR0_ZMM) return CNNSPEC_ISA_AVX512F;
    return avx2 ? CNNSPEC_ISA_AVX2_FMA : CNNSPEC_ISA_GENERIC;
}

/// 12 ymm chains: Zen 2/3/4 and Haswell–Alder Lake have 2 FMA ports with 4–5 cycles of latency (8–10 in flight).
#define YMM_CHAINS 12
/// 16 zmm chains: Skylake-X and later have 1–2 512-bit FMA ports with 4 cycles of latency (≤ 8 in flight).
#define ZMM_CHAINS 16

__attribute__((target("avx2,fma"))) static float run_ymm(long iterations) {
    __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f), acc[YMM_CHAINS];
    for (int i = 0; i < YMM_CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < YMM_CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 s = acc[0];
    for (int i = 1; i < YMM_CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

__attribute__((target("avx512f"))) static float run_zmm(long iterations) {
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f), acc[ZMM_CHAINS];
    for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < ZMM_CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < ZMM_CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}
#elif defined(__aarch64__)
#include <arm_neon.h>
int cnnspec_kernel_isa(void) { return CNNSPEC_ISA_NEON; }

/// 24 q-register chains: Apple M-series run 4 FMA pipes at 4 cycles of latency (16 in flight), Neoverse
/// V1/V2 4 × 4, N1 2 × 4.
#define NEON_CHAINS 24
static float run_neon(long iterations) {
    float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f), acc[NEON_CHAINS];
    for (int i = 0; i < NEON_CHAINS; i++) acc[i] = vdupq_n_f32((float)i);
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < NEON_CHAINS; i++) acc[i] = vfmaq_f32(b, acc[i], a);
    }
    float32x4_t s = acc[0];
    for (int i = 1; i < NEON_CHAINS; i++) s = vaddq_f32(s, acc[i]);
    return vaddvq_f32(s);
}
#else
int cnnspec_kernel_isa(void) { return CNNSPEC_ISA_GENERIC; }
#endif

/// 8 scalar chains for a CPU with no vector FMA cnnspec knows.
#define SCALAR_CHAINS 8
static float run_scalar(long iterations) {
    volatile float seed = 0.999999f;
    float a = seed, b = 1e-7f, acc[SCALAR_CHAINS];
    for (int i = 0; i < SCALAR_CHAINS; i++) acc[i] = (float)i;
    for (long it = 0; it < iterations; it++) {
        for (int i = 0; i < SCALAR_CHAINS; i++) acc[i] = acc[i] * a + b;
    }
    float s = 0;
    for (int i = 0; i < SCALAR_CHAINS; i++) s += acc[i];
    return s;
}

float cnnspec_fma_peak_run(int isa, long iterations) {
    switch (isa) {
#if defined(__x86_64__)
    case CNNSPEC_ISA_AVX512F: return run_zmm(iterations);
    case CNNSPEC_ISA_AVX2_FMA: return run_ymm(iterations);
#elif defined(__aarch64__)
    case CNNSPEC_ISA_NEON: return run_neon(iterations);
#endif
    default: return run_scalar(iterations);
    }
}

int cnnspec_fma_peak_chains(int isa) {
    switch (isa) {
#if defined(__x86_64__)
    case CNNSPEC_ISA_AVX512F: return ZMM_CHAINS;
    case CNNSPEC_ISA_AVX2_FMA: return YMM_CHAINS;
#elif defined(__aarch64__)
    case CNNSPEC_ISA_NEON: return NEON_CHAINS;
#endif
    default: return SCALAR_CHAINS;
    }
}

int cnnspec_fma_peak_flops_per_step(int isa) {
    int lanes = 1;
#if defined(__x86_64__)
    if (isa == CNNSPEC_ISA_AVX512F) lanes = 16;
    if (isa == CNNSPEC_ISA_AVX2_FMA) lanes = 8;
#elif defined(__aarch64__)
    if (isa == CNNSPEC_ISA_NEON) lanes = 4;
#endif
    return 2 * lanes * cnnspec_fma_peak_chains(isa);
}

long cnnspec_cache_bytes(int level) {
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    long value = level == 1 ? sysconf(_SC_LEVEL1_DCACHE_SIZE)
               : level == 2 ? sysconf(_SC_LEVEL2_CACHE_SIZE)
               : level == 3 ? sysconf(_SC_LEVEL3_CACHE_SIZE) : 0;
    return value > 0 ? value : 0;
#else
    (void)level;
    return 0;
#endif
}
