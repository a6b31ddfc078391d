/* The batch-means stopping rule of adaptive MC sampling (converge.h) on hand-made group
 * values; each threshold is the ratio standard error / |mean| that NumPy gives,
 * v.std(ddof=1) / sqrt(len(v)) / abs(v.mean()), and the rule must flip right at it. */
#include <math.h>

#include "harness.h"
#include "model/converge.h"

/* {1.0, 1.1, 0.9}: mean 1, sd 0.1, standard error 0.1/√3 = 0.0577350269 */
START_TEST(three_groups_converge_at_their_standard_error)
{
    const double v[] = {1.0, 1.1, 0.9};
    ck_assert_int_eq(doubt_converged(v, 3, 0.0577351), 1);
    ck_assert_int_eq(doubt_converged(v, 3, 0.0577350), 0);
}
END_TEST

/* {0.2, 0.25, 0.22, 0.18, 0.3}: mean 0.23, standard error 0.0209762, ratio 0.0912008 */
START_TEST(five_groups_match_numpy)
{
    const double v[] = {0.2, 0.25, 0.22, 0.18, 0.3};
    ck_assert_int_eq(doubt_converged(v, 5, 0.0912009), 1);
    ck_assert_int_eq(doubt_converged(v, 5, 0.0912007), 0);
    /* only the first n count: {0.2, 0.25, 0.22} has ratio 0.0651 */
    ck_assert_int_eq(doubt_converged(v, 3, 0.0912), 1);
    /* a negative mean is measured by its size */
    const double neg[] = {-1.0, -1.1, -0.9};
    ck_assert_int_eq(doubt_converged(neg, 3, 0.0577351), 1);
}
END_TEST

START_TEST(fewer_than_three_groups_never_converge)
{
    const double same[] = {1.0, 1.0, 1.0};
    ck_assert_int_eq(doubt_converged(same, 2, 1e9), 0);
    ck_assert_int_eq(doubt_converged(same, 0, 1e9), 0);
    ck_assert_int_eq(doubt_converged(same, 3, 1e-9), 1);
}
END_TEST

/* Zero tolerance never stops a series with a non-zero mean, not even a constant one; a zero
 * mean (dropout that changes nothing) has converged; NaN never has. */
START_TEST(zero_tolerance_zero_mean_and_nan)
{
    const double constant[] = {2.0, 2.0, 2.0}, zeros[] = {0, 0, 0, 0};
    const double spread[] = {1.0, 1.1, 0.9}, nan[] = {1.0, NAN, 1.0};
    ck_assert_int_eq(doubt_converged(constant, 3, 0), 0);
    ck_assert_int_eq(doubt_converged(spread, 3, 0), 0);
    ck_assert_int_eq(doubt_converged(zeros, 4, 0), 1);
    ck_assert_int_eq(doubt_converged(nan, 3, 1e9), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("converge");
    TCase *tc = tcase_create("converge");
    tcase_add_test(tc, three_groups_converge_at_their_standard_error);
    tcase_add_test(tc, five_groups_match_numpy);
    tcase_add_test(tc, fewer_than_three_groups_never_converge);
    tcase_add_test(tc, zero_tolerance_zero_mean_and_nan);
    suite_add_tcase(s, tc);
    return th_run(s);
}
