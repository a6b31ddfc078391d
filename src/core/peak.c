#include "peak.h"

#include <omp.h>

#include "clock.h"

#if !defined(__x86_64__) && !defined(__i386__)
#error "peak.c measures x86 vector units (SSE, AVX2, AVX-512), as oneDNN's x64 build does"
#endif

#include <immintrin.h>

/* Chains per kernel: at least latency × units vectors in flight, within the register file
 * (16 xmm/ymm, 32 zmm) together with a and b. */
enum { SSE_CHAINS = 12, AVX2_CHAINS = 12, AVX512_CHAINS = 16 };

/* acc[k] starts at k; the chains are written out one by one so each stays in a register. */
#define DECLARE12(T, SET, W)                                                               \
    T c0 = SET(W, 0), c1 = SET(W, 1), c2 = SET(W, 2), c3 = SET(W, 3), c4 = SET(W, 4),      \
      c5 = SET(W, 5), c6 = SET(W, 6), c7 = SET(W, 7), c8 = SET(W, 8), c9 = SET(W, 9),      \
      c10 = SET(W, 10), c11 = SET(W, 11)
#define APPLY12(OP) \
    OP(c0); OP(c1); OP(c2); OP(c3); OP(c4); OP(c5); OP(c6); OP(c7); OP(c8); OP(c9); OP(c10); OP(c11)

static void sse_kernel(int64_t iterations, float a, float b, float *acc)
{
#define SSE_SET(W, i) _mm_setr_ps((i) * W + 0.f, (i) * W + 1.f, (i) * W + 2.f, (i) * W + 3.f)
    DECLARE12(__m128, SSE_SET, 4);
    const __m128 va = _mm_set1_ps(a), vb = _mm_set1_ps(b);
    for (int64_t it = 0; it < iterations; it++) {
#define SSE_STEP(c) c = _mm_add_ps(_mm_mul_ps(c, va), vb)
        APPLY12(SSE_STEP);
    }
    const __m128 out[SSE_CHAINS] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (int i = 0; i < SSE_CHAINS; i++)
        _mm_storeu_ps(acc + 4 * i, out[i]);
}

__attribute__((target("avx2,fma"))) static void avx2_kernel(int64_t iterations, float a,
                                                             float b, float *acc)
{
#define AVX2_SET(W, i)                                                                     \
    _mm256_setr_ps((i) * W + 0.f, (i) * W + 1.f, (i) * W + 2.f, (i) * W + 3.f,             \
                   (i) * W + 4.f, (i) * W + 5.f, (i) * W + 6.f, (i) * W + 7.f)
    DECLARE12(__m256, AVX2_SET, 8);
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (int64_t it = 0; it < iterations; it++) {
#define AVX2_STEP(c) c = _mm256_fmadd_ps(c, va, vb)
        APPLY12(AVX2_STEP);
    }
    const __m256 out[AVX2_CHAINS] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
    for (int i = 0; i < AVX2_CHAINS; i++)
        _mm256_storeu_ps(acc + 8 * i, out[i]);
}

__attribute__((target("avx512f"))) static void avx512_kernel(int64_t iterations, float a,
                                                              float b, float *acc)
{
    /* 16 chains: lane l of chain i starts at 16·i + l */
    const __m512 lane = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#define AVX512_SET(W, i) _mm512_add_ps(lane, _mm512_set1_ps((i) * W + 0.f))
    DECLARE12(__m512, AVX512_SET, 16);
    __m512 c12 = AVX512_SET(16, 12), c13 = AVX512_SET(16, 13), c14 = AVX512_SET(16, 14),
           c15 = AVX512_SET(16, 15);
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (int64_t it = 0; it < iterations; it++) {
#define AVX512_STEP(c) c = _mm512_fmadd_ps(c, va, vb)
        APPLY12(AVX512_STEP);
        AVX512_STEP(c12); AVX512_STEP(c13); AVX512_STEP(c14); AVX512_STEP(c15);
    }
    const __m512 out[AVX512_CHAINS] = {c0, c1, c2,  c3,  c4,  c5,  c6,  c7,
                                       c8, c9, c10, c11, c12, c13, c14, c15};
    for (int i = 0; i < AVX512_CHAINS; i++)
        _mm512_storeu_ps(acc + 16 * i, out[i]);
}

int doubt_fma_isa_supported(doubt_fma_isa isa)
{
    switch (isa) {
    case DOUBT_FMA_SSE:
        return 1; /* SSE2 is part of x86-64 */
    case DOUBT_FMA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case DOUBT_FMA_AVX512:
        return __builtin_cpu_supports("avx512f");
    default:
        return 0;
    }
}

doubt_fma_isa doubt_fma_isa_best(void)
{
    return doubt_fma_isa_supported(DOUBT_FMA_AVX512) ? DOUBT_FMA_AVX512
           : doubt_fma_isa_supported(DOUBT_FMA_AVX2) ? DOUBT_FMA_AVX2
                                                     : DOUBT_FMA_SSE;
}

const char *doubt_fma_isa_name(doubt_fma_isa isa)
{
    static const char *const names[DOUBT_FMA_ISA_COUNT] = {"sse", "avx2", "avx512"};
    return isa >= 0 && isa < DOUBT_FMA_ISA_COUNT ? names[isa] : "unknown";
}

int doubt_fma_kernel_lanes(doubt_fma_isa isa)
{
    switch (isa) {
    case DOUBT_FMA_SSE:
        return SSE_CHAINS * 4;
    case DOUBT_FMA_AVX2:
        return AVX2_CHAINS * 8;
    case DOUBT_FMA_AVX512:
        return AVX512_CHAINS * 16;
    default:
        return 0;
    }
}

double doubt_fma_kernel_flops(doubt_fma_isa isa, int64_t iterations)
{
    return 2.0 * doubt_fma_kernel_lanes(isa) * (double)iterations;
}

void doubt_fma_kernel(doubt_fma_isa isa, int64_t iterations, float a, float b, float *acc)
{
    switch (isa) {
    case DOUBT_FMA_SSE:
        sse_kernel(iterations, a, b, acc);
        break;
    case DOUBT_FMA_AVX2:
        avx2_kernel(iterations, a, b, acc);
        break;
    case DOUBT_FMA_AVX512:
        avx512_kernel(iterations, a, b, acc);
        break;
    default:
        break;
    }
}

/* 2^21 iterations: about 4 ms per round on a Zen 3 core; the best of 25 rounds rides out
 * a round the scheduler interrupted */
enum { PEAK_ROUNDS = 25, PEAK_ITERATIONS = 1 << 21 };

/* Every round's accumulators end up here, so the compiler cannot drop the loop. */
static volatile float peak_sink;

void doubt_fma_peak(int threads, double *gflops, const char **isa_name)
{
    const doubt_fma_isa isa = doubt_fma_isa_best();
    const int team = threads > 0 ? threads : omp_get_max_threads();
    /* a·x + b with |a| < 1 converges (to b / (1 - a) = 1): no overflow, no denormals */
    const float a = 0.999f, b = 0.001f;
    double best = 0;
    for (int round = 0; round < PEAK_ROUNDS; round++) {
        const double t0 = doubt_clock_seconds();
#pragma omp parallel num_threads(team)
        {
            float acc[DOUBT_FMA_MAX_LANES];
            doubt_fma_kernel(isa, PEAK_ITERATIONS, a, b, acc);
            peak_sink = acc[doubt_fma_kernel_lanes(isa) - 1];
        }
        const double seconds = doubt_clock_seconds() - t0;
        const double rate = team * doubt_fma_kernel_flops(isa, PEAK_ITERATIONS) / seconds;
        if (rate > best)
            best = rate;
    }
    *gflops = best / 1e9;
    if (isa_name)
        *isa_name = doubt_fma_isa_name(isa);
}
