#include "isa.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

static const char *const precision_names[] = {"f32", "bf16", "int8"};
#define PRECISIONS ((int)(sizeof precision_names / sizeof precision_names[0]))

int doubt_precision_parse(const char *name, doubt_precision *out)
{
    for (int p = 0; name && p < PRECISIONS; p++)
        if (!strcmp(name, precision_names[p])) {
            *out = (doubt_precision)p;
            return 1;
        }
    return 0;
}

const char *doubt_precision_name(doubt_precision p)
{
    return (int)p >= 0 && (int)p < PRECISIONS ? precision_names[p] : "unknown";
}

const char *doubt_precision_needs(doubt_precision p)
{
    switch (p) {
    case DOUBT_PRECISION_F32:
        return "nothing beyond SSE";
    case DOUBT_PRECISION_BF16:
        return "AVX-512 BF16 or AMX";
    case DOUBT_PRECISION_INT8:
        return "AVX512_VNNI or AVX_VNNI";
    }
    return "an ISA doubt does not know";
}

/* oneDNN's ISA values are bit sets: each ISA includes the bits of those it extends
 * (avx512_core_amx = 0x3e7 contains avx512_core_bf16 = 0xe7; avx2_vnni = 0x407 contains
 * avx2 = 0x7), so "has at least X" is a mask test. */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t at_least)
{
    return ((unsigned)isa & (unsigned)at_least) == (unsigned)at_least;
}

int doubt_precision_supported(doubt_precision p, dnnl_cpu_isa_t isa)
{
    switch (p) {
    case DOUBT_PRECISION_F32:
        return 1;
    case DOUBT_PRECISION_BF16:
        return isa_has(isa, dnnl_cpu_isa_avx512_core_bf16);
    case DOUBT_PRECISION_INT8:
        return isa_has(isa, dnnl_cpu_isa_avx512_core_vnni) || isa_has(isa, dnnl_cpu_isa_avx2_vnni);
    }
    return 0;
}

const char *doubt_dnnl_isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_all:
        return "all";
    case dnnl_cpu_isa_sse41:
        return "sse41";
    case dnnl_cpu_isa_avx:
        return "avx";
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx512_mic:
        return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    }
    return "unknown";
}

dnnl_cpu_isa_t doubt_dnnl_isa(void)
{
    return dnnl_get_effective_cpu_isa();
}

/* Bit `bit` of register `reg` (0 eax .. 3 edx) of cpuid leaf 7, subleaf `sub`: for the
 * features older compilers' __builtin_cpu_supports does not name (clang 14: AMX, AVX-VNNI). */
static int cpuid7_bit(unsigned sub, int reg, int bit)
{
    unsigned r[4] = {0};
    if (!__get_cpuid_count(7, sub, &r[0], &r[1], &r[2], &r[3]))
        return 0;
    return (r[reg] >> bit) & 1;
}

void doubt_cpu_features(char *buf, size_t cap)
{
    /* __builtin_cpu_supports wants string literals, hence one line per feature */
    const struct {
        const char *name;
        int has;
    } features[] = {
        {"amx-bf16", cpuid7_bit(0, 3, 22)},
        {"amx-int8", cpuid7_bit(0, 3, 25)},
        {"avx512bf16", __builtin_cpu_supports("avx512bf16")},
        {"avx512vnni", __builtin_cpu_supports("avx512vnni")},
        {"avx512bw", __builtin_cpu_supports("avx512bw")},
        {"avx512f", __builtin_cpu_supports("avx512f")},
        {"avxvnni", cpuid7_bit(1, 0, 4)},
        {"avx2", __builtin_cpu_supports("avx2")},
        {"fma", __builtin_cpu_supports("fma")},
        {"avx", __builtin_cpu_supports("avx")},
        {"sse4.2", __builtin_cpu_supports("sse4.2")},
    };
    size_t used = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        if (!features[i].has || used >= cap)
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", features[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
}

const char *doubt_cpu_widest(void)
{
    return __builtin_cpu_supports("avx512f") ? "avx512f"
           : __builtin_cpu_supports("avx2")  ? "avx2"
           : __builtin_cpu_supports("avx")   ? "avx"
                                             : "sse";
}

int doubt_precision_check(doubt_precision p, char *buf, size_t cap)
{
    if (p == DOUBT_PRECISION_F32)
        return 1;
    const dnnl_cpu_isa_t isa = doubt_dnnl_isa();
    if (doubt_precision_supported(p, isa))
        snprintf(buf, cap, "precision %s: this CPU has %s, but doubt's networks run only in f32 "
                           "so far", doubt_precision_name(p), doubt_precision_needs(p));
    else
        snprintf(buf, cap, "precision %s needs %s; this CPU has %s (oneDNN: %s)",
                 doubt_precision_name(p), doubt_precision_needs(p), doubt_cpu_widest(),
                 doubt_dnnl_isa_name(isa));
    return 0;
}
