/* The machine's single-precision FMA peak, measured: every thread runs a loop of independent
 * fused multiply-adds on the widest vectors the CPU has, picked at run time (the build needs
 * no -mavx2: each kernel is compiled for its ISA with a target attribute). `doubt bench`
 * divides the GFLOP/s a network reaches by this peak.
 *
 *   double gflops; const char *isa;
 *   doubt_fma_peak(ctx->threads, &gflops, &isa);     // e.g. 190 GFLOP/s, "avx2"
 *
 * The kernel keeps `chains` vector accumulators, enough independent dependency chains to
 * cover FMA latency × FMA units (Zen 3: 4 cycles × 2 pipes = 8 vectors in flight; Intel
 * AVX-512: 4 × 2): accumulator k (chain·width + lane) starts at k and every iteration does
 * acc = acc·a + b on all of them, so one call does 2·lanes·iterations FLOPs. SSE has no FMA:
 * its kernel multiplies then adds (the same FLOPs, as two instructions).
 */
#ifndef DOUBT_CORE_PEAK_H
#define DOUBT_CORE_PEAK_H

#include <stdint.h>

typedef enum { DOUBT_FMA_SSE, DOUBT_FMA_AVX2, DOUBT_FMA_AVX512, DOUBT_FMA_ISA_COUNT } doubt_fma_isa;

#define DOUBT_FMA_MAX_LANES 256 /* accumulators of the widest kernel, for callers' buffers */

/* Whether this CPU runs the kernel of `isa` (cpuid via __builtin_cpu_supports). */
int doubt_fma_isa_supported(doubt_fma_isa isa);
/* The widest supported: AVX-512F, else AVX2 + FMA, else SSE. */
doubt_fma_isa doubt_fma_isa_best(void);
const char *doubt_fma_isa_name(doubt_fma_isa isa); /* "sse", "avx2", "avx512" */

/* The kernel's float accumulators (chains × vector width). */
int doubt_fma_kernel_lanes(doubt_fma_isa isa);
/* FLOPs one kernel call of `iterations` does: 2 · lanes · iterations. */
double doubt_fma_kernel_flops(doubt_fma_isa isa, int64_t iterations);
/* Runs the kernel of a supported isa; acc[0 .. lanes) receives the accumulators. */
void doubt_fma_kernel(doubt_fma_isa isa, int64_t iterations, float a, float b, float *acc);

/* Best GFLOP/s of a few rounds of the kernel on `threads` threads (<= 0: OpenMP's default)
 * with the widest ISA; *isa_name names it. About 0.1 s on an idle machine. */
void doubt_fma_peak(int threads, double *gflops, const char **isa_name);

#endif
