#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fastmath.h"
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
        if (x > -87.0f)
            exp_err = fmax(exp_err, fabs(doubt_exp_nonpositive(x) - want) / want);
        else
            ck_assert(doubt_exp_nonpositive(x) == 0.0f);
        const float z = -10.0f + 20.0f * (float)i / 200000;
        float cdf, pdf;
        doubt_normal_cdf_pdf(z, &cdf, &pdf);
        cdf_err = fmax(cdf_err, fabs(cdf - 0.5 * erfc(-(double)z / sqrt(2.0))));
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
    tcase_add_test(rng, rng_is_a_function_of_its_key);
    tcase_add_test(rng, rng_moments);
    suite_add_tcase(s, rng);
    TCase *fastmath = tcase_create("fastmath");
    tcase_add_test(fastmath, fastmath_matches_libm);
    suite_add_tcase(s, fastmath);
    return th_run(s);
}
