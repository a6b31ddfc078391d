/* What the CPU can do, read at run time (build machines differ from one run to the next:
 * never assume an ISA), and which arithmetic precisions that allows.
 *
 * Two readings: cpuid flags (__builtin_cpu_supports), and the ISA oneDNN will dispatch to
 * (dnnl_get_effective_cpu_isa: the CPU's, lowered by DNNL_MAX_CPU_ISA if set). Precision
 * decisions use oneDNN's, since oneDNN runs the network.
 *
 *   f32   always;
 *   bf16  needs AVX-512 BF16 or AMX     (oneDNN avx512_core_bf16 or avx512_core_amx);
 *   int8  needs VNNI: AVX512_VNNI or AVX_VNNI (oneDNN avx512_core_vnni and up, or avx2_vnni).
 * doubt has only the f32 network path so far: doubt_precision_check refuses a bf16 or int8
 * the CPU has too, saying the path is missing rather than the ISA.
 */
#ifndef DOUBT_CORE_ISA_H
#define DOUBT_CORE_ISA_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl_types.h>

typedef enum { DOUBT_PRECISION_F32 = 0, DOUBT_PRECISION_BF16, DOUBT_PRECISION_INT8 } doubt_precision;

/* "f32", "bf16", "int8" -> *out; 0 for anything else. */
int doubt_precision_parse(const char *name, doubt_precision *out);
const char *doubt_precision_name(doubt_precision p);
/* What it needs, for messages: "AVX-512 BF16 or AMX". */
const char *doubt_precision_needs(doubt_precision p);
/* Whether oneDNN at ISA `isa` has the instructions for p: a pure function, so tests can ask
 * about any CPU. */
int doubt_precision_supported(doubt_precision p, dnnl_cpu_isa_t isa);

/* oneDNN's ISA name: "avx2", "avx512_core_bf16", ... ("unknown" for a value it may add). */
const char *doubt_dnnl_isa_name(dnnl_cpu_isa_t isa);
/* The ISA oneDNN uses on this machine. */
dnnl_cpu_isa_t doubt_dnnl_isa(void);

/* This CPU's vector features from cpuid, widest first, space-separated ("avx2 fma sse4.2"),
 * into buf (always terminated). */
void doubt_cpu_features(char *buf, size_t cap);
/* The widest of them in one word: "avx512f", "avx2", "avx" or "sse". */
const char *doubt_cpu_widest(void);

/* 1 (buf untouched) when doubt can run p here: f32. Otherwise 0 with the reason in buf (always
 * terminated): "precision bf16 needs AVX-512 BF16 or AMX; this CPU has avx2 (oneDNN: avx2)"
 * where oneDNN's ISA lacks it, else "precision bf16: this CPU has AVX-512 BF16 or AMX, but
 * doubt's networks run only in f32 so far". Where a network is built (mc.h) and where a
 * command reads --precision. */
int doubt_precision_check(doubt_precision p, char *buf, size_t cap);

#endif
