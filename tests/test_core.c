#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastmath.h"
#include "core/isa.h"
#include "core/peak.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "harness.h"

START_TEST(status_messages)
{
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_fail(&err, DOUBT_ERR_IO, "file %s: %s", "a.png", "gone"),
                     DOUBT_ERR_IO);
    ck_assert_str_eq(err.msg, "file a.png: gone");
    ck_assert_int_eq(doubt_fail(NULL, DOUBT_ERR_ARG, "x"), DOUBT_ERR_ARG);
    ck_assert_str_eq(doubt_status_str(DOUBT_ERR_DNNL), "oneDNN error");
}
END_TEST

START_TEST(arena_aligns_and_keeps_pointers)
{
    doubt_arena arena = {0};
    ck_assert(doubt_arena_reserve(&arena, 1000));
    char *a = doubt_arena_alloc(&arena, 3);
    char *b = doubt_arena_alloc(&arena, 100);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % DOUBT_ARENA_ALIGN, 0);
    ck_assert_uint_eq((uintptr_t)b % DOUBT_ARENA_ALIGN, 0);
    ck_assert_ptr_eq(b, a + DOUBT_ARENA_ALIGN);
    a[0] = 7;
    char *big = doubt_arena_alloc(&arena, 5u << 20); /* forces a new chunk */
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(a[0], 7);
    ck_assert_uint_eq(arena.used_bytes, 3 * DOUBT_ARENA_ALIGN + (5u << 20)); /* 3 -> 64, 100 -> 128 */
    doubt_arena_reset(&arena);
    ck_assert_uint_eq(arena.used_bytes, 0);
    ck_assert_uint_ge(arena.capacity_bytes, 5u << 20);
    doubt_arena_release(&arena);
    ck_assert_ptr_null(arena.chunks);
}
END_TEST

/* A blocked tensor written from plain NCHW reads back identically, and doubt_md_offset
 * finds each logical element where the reorder put it. */
START_TEST(tensor_blocked_round_trip)
{
    doubt_ctx *ctx = th_ctx(0);
    const int64_t dims[4] = {2, 19, 3, 5};
    const int64_t n = 2 * 19 * 3 * 5;
    dnnl_memory_desc_t md = doubt_md_make(4, dims, dnnl_aBcd16b);
    doubt_tensor t;
    TH_OK(ctx, doubt_tensor_init(ctx, &t, &md, DOUBT_TENSOR_OWNED, "t"));
    ck_assert_int_eq(doubt_tensor_count(&t), n);
    ck_assert_uint_eq(doubt_tensor_bytes(&t), 2 * 32 * 3 * 5 * sizeof(float));
    float *in = malloc(n * sizeof *in), *back = malloc(n * sizeof *back);
    th_fill(in, n, 1, -1, 1);
    TH_OK(ctx, doubt_tensor_write(ctx, &t, in));
    TH_OK(ctx, doubt_tensor_read(ctx, &t, back));
    ck_assert_mem_eq(in, back, n * sizeof *in);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t c = 0; c < 19; c++)
            for (int64_t h = 0; h < 3; h++)
                for (int64_t w = 0; w < 5; w++) {
                    int64_t idx[4] = {b, c, h, w};
                    ck_assert(t.data[doubt_md_offset(&t.md, idx)] ==
                              in[((b * 19 + c) * 3 + h) * 5 + w]);
                }
    doubt_tensor_release(&t);
    free(in);
    free(back);
    doubt_ctx_destroy(ctx);
}
END_TEST

START_TEST(tensor_rejects_bad_shapes)
{
    doubt_ctx *ctx = th_ctx(0);
    doubt_tensor t;
    const int64_t dims[4] = {1, 0, 3, 3};
    ck_assert_int_eq(doubt_tensor_init_plain(ctx, &t, 4, dims, DOUBT_TENSOR_OWNED, "zero"),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(doubt_ctx_error(ctx), "zero"));
    ck_assert_int_eq(doubt_tensor_init_plain(ctx, &t, 5, dims, DOUBT_TENSOR_OWNED, "five"),
                     DOUBT_ERR_ARG);
    doubt_ctx_destroy(ctx);
}
END_TEST

/* Known-answer vectors published with Random123 (kat_vectors, philox4x32 with 10 rounds). */
START_TEST(philox_known_answers)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        doubt_philox_block c = {{kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]}};
        doubt_philox_block r = doubt_philox4x32_10(c, kat[i].key[0], kat[i].key[1]);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(r.v[j] == kat[i].out[j], "vector %zu word %d: %08x != %08x", i, j,
                          r.v[j], kat[i].out[j]);
    }
}
END_TEST

/* Philox4x32-10 written out plainly from Salmon et al. (checked on the known answers below),
 * with rng.h's counter layout: (index / 4 low word, layer, stream low, stream high ^ index / 4
 * high word), key = seed. */
static uint32_t reference_bits(doubt_rng_key key, uint64_t index)
{
    const uint64_t block = index >> 2;
    uint32_t c[4] = {(uint32_t)block, key.layer, (uint32_t)key.stream,
                     (uint32_t)(key.stream >> 32) ^ (uint32_t)(block >> 32)};
    uint32_t k0 = (uint32_t)key.seed, k1 = (uint32_t)(key.seed >> 32);
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        const uint32_t next[4] = {(uint32_t)(p1 >> 32) ^ c[1] ^ k0, (uint32_t)p1,
                                  (uint32_t)(p0 >> 32) ^ c[3] ^ k1, (uint32_t)p0};
        memcpy(c, next, sizeof c);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c[index & 3];
}

/* The bulk fill (eight blocks at a time where the CPU has AVX2) gives exactly the reference's
 * bits for every start alignment and length around the eight-block boundary, for keys whose
 * every word matters, and where the block number's low word wraps inside a batch. */
START_TEST(bits_fill_matches_reference_philox)
{
    const doubt_rng_key kat_key = {.seed = 0xffffffffffffffffull, .stream = 0xffffffffffffffffull,
                                   .layer = 0xffffffffu};
    ck_assert_uint_eq(reference_bits(kat_key, 4ull * 0xffffffffu + 2), 0xa20bc7c6u);
    const doubt_rng_key keys[] = {
        {.seed = 0, .stream = 0, .layer = 0},
        {.seed = 42, .stream = 3, .layer = 7},
        {.seed = 0x0123456789abcdefull, .stream = 0xfedcba9876543210ull, .layer = 0x80000001u},
        {.seed = 0xffffffffffffffffull, .stream = 1ull << 40, .layer = 12},
    };
    const uint64_t firsts[] = {0, 1, 2, 3, 5, 31, 32, 33, 1000003,
                               4 * (0xffffffffull - 3),     /* block low word wraps at +12 */
                               4 * (0xffffffffull - 3) + 1, (1ull << 34) + 7};
    const int64_t counts[] = {0, 1, 3, 4, 31, 32, 33, 35, 64, 100, 257};
    uint32_t out[300];
    int64_t checked = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
            for (size_t n = 0; n < sizeof counts / sizeof counts[0]; n++) {
                out[counts[n]] = 0xdeadbeefu;
                doubt_rng_bits_fill(keys[k], firsts[f], counts[n], out);
                for (int64_t i = 0; i < counts[n]; i++, checked++) {
                    const uint64_t index = firsts[f] + (uint64_t)i;
                    ck_assert_msg(out[i] == reference_bits(keys[k], index),
                                  "key %zu index %llu: %08x != %08x", k,
                                  (unsigned long long)index, out[i],
                                  reference_bits(keys[k], index));
                    ck_assert(out[i] == doubt_rng_bits(keys[k], index));
                }
                ck_assert_msg(out[counts[n]] == 0xdeadbeefu, "wrote past %lld words",
                              (long long)counts[n]);
            }
    ck_assert_int_gt(checked, 20000);
}
END_TEST

START_TEST(rng_is_a_function_of_its_key)
{
    doubt_rng_key key = {.seed = 42, .stream = 3, .layer = 7};
    float bulk[37];
    doubt_rng_uniform_fill(key, 5, 37, bulk);
    for (int i = 0; i < 37; i++)
        ck_assert(bulk[i] == doubt_rng_uniform(key, 5 + (uint64_t)i));
    doubt_rng_normal_fill(key, 3, 37, bulk);
    for (int i = 0; i < 37; i++)
        ck_assert(bulk[i] == doubt_rng_normal(key, 3 + (uint64_t)i));
    doubt_rng_key other = key;
    other.stream = 4;
    ck_assert(doubt_rng_bits(key, 0) != doubt_rng_bits(other, 0));
    other = key;
    other.layer = 8;
    ck_assert(doubt_rng_bits(key, 0) != doubt_rng_bits(other, 0));
}
END_TEST

START_TEST(rng_moments)
{
    doubt_rng_key key = {.seed = 1234, .stream = 0, .layer = 0};
    const int n = 1000000;
    float *x = malloc(n * sizeof *x);
    doubt_rng_uniform_fill(key, 0, n, x);
    double sum = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        sum += x[i];
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    ck_assert(lo >= 0 && hi < 1);
    /* mean of U(0,1) has sd 1/sqrt(12 n); 4 sd bounds a false alarm at 6e-5 */
    ck_assert_double_lt(fabs(sum / n - 0.5), 4 / sqrt(12.0 * n));
    doubt_rng_normal_fill(key, 0, n, x);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < n; i++) {
        m1 += x[i];
        m2 += (double)x[i] * x[i];
    }
    m1 /= n;
    m2 /= n;
    ck_assert_double_lt(fabs(m1), 4 / sqrt((double)n));
    ck_assert_double_lt(fabs(m2 - 1), 4 * sqrt(2.0 / n));
    free(x);
}
END_TEST

/* The inline float functions against libm in double, over their documented ranges. */
START_TEST(fastmath_matches_libm)
{
    double exp_err = 0, log_err = 0, cdf_err = 0, pdf_err = 0;
    for (int i = 0; i <= 200000; i++) {
        const float x = -100.0f + 100.0f * (float)i / 200000;
        const double want = exp((double)x);
        if (x >= -87.0f)
            exp_err = fmax(exp_err, fabs(doubt_exp_nonpositive(x) - want) / want);
        else
            ck_assert(doubt_exp_nonpositive(x) == 0.0f);
        const float z = -10.0f + 20.0f * (float)i / 200000;
        float cdf, upper, pdf;
        doubt_normal_cdf_pdf(z, &cdf, &upper, &pdf);
        cdf_err = fmax(cdf_err, fabs(cdf - 0.5 * erfc(-(double)z / sqrt(2.0))));
        cdf_err = fmax(cdf_err, fabs(upper - 0.5 * erfc((double)z / sqrt(2.0))));
        pdf_err = fmax(pdf_err, fabs(pdf - exp(-0.5 * (double)z * z) / sqrt(2 * 3.14159265358979)));
    }
    for (int i = 0; i <= 200000; i++) {
        const float x = powf(10.0f, -30.0f + 60.0f * (float)i / 200000);
        log_err = fmax(log_err, fabs(doubt_log_positive(x) - log((double)x)) /
                                    fmax(1.0, fabs(log((double)x))));
    }
    printf("  fast exp rel %.2e, log %.2e, Phi abs %.2e, phi abs %.2e\n", exp_err, log_err,
           cdf_err, pdf_err);
    ck_assert_double_lt(exp_err, 5e-7);
    ck_assert_double_lt(log_err, 5e-7);
    ck_assert_double_lt(cdf_err, 4e-7);
    ck_assert_double_lt(pdf_err, 1e-7);
    ck_assert(isnan(doubt_exp_nonpositive(NAN)));
}
END_TEST

/* Each kernel the CPU runs does exactly `iterations` steps of acc = acc·a + b on each of its
 * lanes, from acc[k] = k, and writes no more than its lanes: checked against the closed form
 * x_n = a^n (x_0 - b/(1-a)) + b/(1-a), exact in float for these a, b, n. */
START_TEST(fma_kernels_match_closed_form)
{
    int ran = 0;
    for (int i = 0; i < DOUBT_FMA_ISA_COUNT; i++) {
        const doubt_fma_isa isa = (doubt_fma_isa)i;
        if (!doubt_fma_isa_supported(isa))
            continue;
        ran++;
        const int lanes = doubt_fma_kernel_lanes(isa);
        ck_assert_int_gt(lanes, 0);
        ck_assert_int_le(lanes, DOUBT_FMA_MAX_LANES);
        float acc[DOUBT_FMA_MAX_LANES + 1];
        for (int k = 0; k <= DOUBT_FMA_MAX_LANES; k++)
            acc[k] = -7.0f;
        doubt_fma_kernel(isa, 1000, 1.0f, 1.0f, acc); /* x_n = k + n */
        for (int k = 0; k < lanes; k++)
            ck_assert_msg(acc[k] == (float)(k + 1000), "%s lane %d: %g != %d",
                          doubt_fma_isa_name(isa), k, acc[k], k + 1000);
        for (int k = lanes; k <= DOUBT_FMA_MAX_LANES; k++)
            ck_assert_msg(acc[k] == -7.0f, "%s wrote past its %d lanes", doubt_fma_isa_name(isa),
                          lanes);
        doubt_fma_kernel(isa, 3, 0.5f, 1.0f, acc); /* x_n = 2 + (k - 2) / 8 */
        for (int k = 0; k < lanes; k++)
            ck_assert_msg(acc[k] == 2.0f + (float)(k - 2) / 8.0f, "%s lane %d: %g",
                          doubt_fma_isa_name(isa), k, acc[k]);
        /* one multiply and one add per lane per iteration, as the closed form needed */
        ck_assert(doubt_fma_kernel_flops(isa, 1000) == 2.0 * lanes * 1000);
    }
    ck_assert_int_ge(ran, 1); /* SSE at least */
    ck_assert(doubt_fma_isa_supported(doubt_fma_isa_best()));
}
END_TEST

START_TEST(fma_peak_reports_the_best_isa)
{
    double gflops = 0;
    const char *isa = NULL;
    doubt_fma_peak(1, &gflops, &isa);
    ck_assert_double_gt(gflops, 0);
    ck_assert_str_eq(isa, doubt_fma_isa_name(doubt_fma_isa_best()));
}
END_TEST

/* Which precision each oneDNN ISA allows, for CPUs other than this one too. */
START_TEST(precision_support_by_isa)
{
    static const struct {
        dnnl_cpu_isa_t isa;
        int bf16, int8;
    } cases[] = {
        {dnnl_cpu_isa_sse41, 0, 0},
        {dnnl_cpu_isa_avx2, 0, 0},
        {dnnl_cpu_isa_avx512_core, 0, 0},
        {dnnl_cpu_isa_avx2_vnni, 0, 1},
        {dnnl_cpu_isa_avx512_core_vnni, 0, 1},
        {dnnl_cpu_isa_avx512_core_bf16, 1, 1},
        {dnnl_cpu_isa_avx512_core_amx, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *name = doubt_dnnl_isa_name(cases[i].isa);
        ck_assert_msg(doubt_precision_supported(DOUBT_PRECISION_F32, cases[i].isa), "%s f32",
                      name);
        ck_assert_msg(doubt_precision_supported(DOUBT_PRECISION_BF16, cases[i].isa) ==
                          cases[i].bf16, "%s bf16", name);
        ck_assert_msg(doubt_precision_supported(DOUBT_PRECISION_INT8, cases[i].isa) ==
                          cases[i].int8, "%s int8", name);
    }
    doubt_precision p;
    ck_assert(doubt_precision_parse("bf16", &p) && p == DOUBT_PRECISION_BF16);
    ck_assert(doubt_precision_parse("int8", &p) && p == DOUBT_PRECISION_INT8);
    ck_assert(doubt_precision_parse("f32", &p) && p == DOUBT_PRECISION_F32);
    ck_assert(!doubt_precision_parse("fp16", &p) && !doubt_precision_parse(NULL, &p));
    ck_assert_str_eq(doubt_precision_name(DOUBT_PRECISION_INT8), "int8");
}
END_TEST

/* On this machine: only f32 passes the check; a refusal names the precision and its needs,
 * and what the CPU has where oneDNN's ISA lacks it (else that only f32 is built). */
START_TEST(precision_check_on_this_cpu)
{
    const dnnl_cpu_isa_t isa = doubt_dnnl_isa();
    for (int i = 0; i <= DOUBT_PRECISION_INT8; i++) {
        const doubt_precision p = (doubt_precision)i;
        char msg[256] = "";
        const int ok = doubt_precision_check(p, msg, sizeof msg);
        ck_assert_int_eq(ok, p == DOUBT_PRECISION_F32); /* the only path built */
        if (ok)
            continue;
        ck_assert_msg(strstr(msg, doubt_precision_name(p)) && strstr(msg, doubt_precision_needs(p)),
                      "%s", msg);
        if (doubt_precision_supported(p, isa))
            ck_assert_msg(strstr(msg, "only in f32"), "%s", msg);
        else
            ck_assert_msg(strstr(msg, doubt_dnnl_isa_name(isa)) && strstr(msg, doubt_cpu_widest()),
                          "%s", msg);
    }
    char features[256];
    doubt_cpu_features(features, sizeof features);
    ck_assert_ptr_nonnull(strstr(features, "sse4.2")); /* oneDNN needs SSE4.1 */
    char tiny[5];
    doubt_cpu_features(tiny, sizeof tiny);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *basics = tcase_create("status+arena");
    tcase_add_test(basics, status_messages);
    tcase_add_test(basics, arena_aligns_and_keeps_pointers);
    suite_add_tcase(s, basics);
    TCase *tensor = tcase_create("tensor");
    tcase_add_test(tensor, tensor_blocked_round_trip);
    tcase_add_test(tensor, tensor_rejects_bad_shapes);
    suite_add_tcase(s, tensor);
    TCase *rng = tcase_create("rng");
    tcase_add_test(rng, philox_known_answers);
    tcase_add_test(rng, bits_fill_matches_reference_philox);
    tcase_add_test(rng, rng_is_a_function_of_its_key);
    tcase_add_test(rng, rng_moments);
    suite_add_tcase(s, rng);
    TCase *fastmath = tcase_create("fastmath");
    tcase_add_test(fastmath, fastmath_matches_libm);
    suite_add_tcase(s, fastmath);
    TCase *peak = tcase_create("peak+isa");
    tcase_add_test(peak, fma_kernels_match_closed_form);
    tcase_add_test(peak, fma_peak_reports_the_best_isa);
    tcase_add_test(peak, precision_support_by_isa);
    tcase_add_test(peak, precision_check_on_this_cpu);
    suite_add_tcase(s, peak);
    return th_run(s);
}
