/* Check suite `ops`: every row of the op-test table (test/ops/op_cases.c) through its CPU
 * reference and its CUDA kernel (the emulation here, the GPU in the GPU runner), the largest
 * shapes in a tcase tagged "slow", and the comparer's own test: a planted error of each kind
 * must fail, and be reported where it is. */
#include <math.h>
#include <string.h>

#include "ops/op_harness.h"

START_TEST(test_op_case)
{
    op_run_case(&op_cases[_i]);
}
END_TEST

START_TEST(test_op_large_case)
{
    op_run_case(&op_large_cases[_i]);
}
END_TEST

/* f with its bits moved by `ulps` (towards +inf for positive f). */
static float ulps_up(float f, int ulps)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    i += ulps;
    memcpy(&f, &i, sizeof f);
    return f;
}

enum { N = 100 };

/* op_compare of got against want under check: whether it passes, and its report. */
static int compare(const float *got, const float *want, const double *mag, op_check check,
                   char *report)
{
    op_tensor t = {"planted", OP_F32, N, got, want, mag, NULL};
    report[0] = '\0';
    return op_compare(&t, &check, report, 1024);
}

START_TEST(test_compare_catches_planted_errors)
{
    float want[N], got[N];
    double mag[N];
    char report[1024];
    uint64_t rng = 7;
    for (int i = 0; i < N; i++) {
        want[i] = yl_test_rand(&rng, 0.5f, 2.0f);
        mag[i] = 4.0;
    }
    /* exact: NaN equals NaN, one ulp or a signed zero fails */
    memcpy(got, want, sizeof got);
    got[3] = want[3] = NAN;
    ck_assert(compare(got, want, NULL, (op_check){.kind = OP_EXACT}, report));
    got[17] = ulps_up(want[17], 1);
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_EXACT}, report));
    ck_assert_msg(strstr(report, "worst: element 17,") && strstr(report, "1 of 100"), "%s",
                  report);
    got[17] = want[17] = 0.0f;
    got[17] = -0.0f;
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_EXACT}, report));
    want[3] = want[17] = 1.0f;
    /* ulps: 3 apart passes 3, fails 2; NaN only with NaN */
    memcpy(got, want, sizeof got);
    got[40] = ulps_up(want[40], 3);
    ck_assert(compare(got, want, NULL, (op_check){.kind = OP_ULPS, .tol = 3}, report));
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_ULPS, .tol = 2}, report));
    ck_assert_msg(strstr(report, "element 40, ") && strstr(report, "error 3, bound 2"), "%s",
                  report);
    got[40] = NAN;
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_ULPS, .tol = 1e9}, report));
    /* sum|terms|: the bound itself passes, a little more fails, NaN fails */
    memcpy(got, want, sizeof got);
    want[60] = 1.0f;
    got[60] = 1.5f;
    ck_assert(compare(got, want, mag, (op_check){.kind = OP_SUM, .tol = 0.125}, report));
    ck_assert(!compare(got, want, mag, (op_check){.kind = OP_SUM, .tol = 0.0625, .atol = 0.24},
                       report));
    ck_assert_msg(strstr(report, "element 60, ") && strstr(report, "bound 0.49;"), "%s", report);
    got[60] = NAN;
    ck_assert(!compare(got, want, mag, (op_check){.kind = OP_SUM, .tol = 1e9, .atol = 1e9},
                       report));
    /* NMSE: noise far below the bound passes, one wrong element fails and is named */
    for (int i = 0; i < N; i++)
        got[i] = want[i] * (1.0f + (i % 2 ? 1e-5f : -1e-5f));
    ck_assert(compare(got, want, NULL, (op_check){.kind = OP_NMSE, .tol = 1e-8}, report));
    got[77] = -want[77];
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_NMSE, .tol = 1e-8}, report));
    ck_assert_msg(strstr(report, "NMSE") && strstr(report, "element 77, ") &&
                  strstr(report, "[77]"), "%s", report);
    /* the first five mismatches of seven, in order */
    memcpy(got, want, sizeof got);
    for (int i = 0; i < 7; i++)
        got[10 * i + 5] += 1.0f;
    ck_assert(!compare(got, want, NULL, (op_check){.kind = OP_EXACT}, report));
    ck_assert_msg(strstr(report, "7 of 100") && strstr(report, "[5] ") &&
                  strstr(report, "[45] ") && !strstr(report, "[55] "), "%s", report);
    /* exact where the kernels' transcendentals are the C library's */
    memcpy(got, want, sizeof got);
    got[8] = ulps_up(want[8], 1);
    const op_check libc = {.kind = OP_ULPS, .tol = 2, .exact_with_libc_math = 1};
    ck_assert_int_eq(compare(got, want, NULL, libc, report),
                     !op_libc_math());
    /* integers and bytes: exact */
    int32_t gi[N] = {0}, wi[N] = {0};
    uint8_t gb[N] = {0}, wb[N] = {0};
    gi[99] = 1;
    gb[0] = 0xab;
    op_tensor ti = {"ints", OP_I32, N, gi, wi, NULL, NULL}, tb = {"bytes", OP_U8, N, gb, wb,
                                                                 NULL, NULL};
    ck_assert(!op_compare(&ti, &(op_check){.kind = OP_EXACT}, report, sizeof report));
    ck_assert_msg(strstr(report, "element 99, got 1, want 0"), "%s", report);
    ck_assert(!op_compare(&tb, &(op_check){.kind = OP_EXACT}, report, sizeof report));
    ck_assert_msg(strstr(report, "element 0, got 171, want 0"), "%s", report);
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("compare");
    tcase_add_test(tc, test_compare_catches_planted_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_op_case, 0, op_num_cases);
    suite_add_tcase(s, tc);
    /* The largest shapes, out of valgrind's CI run (mk/hardening.mk), which leaves "slow" out. */
    tc = tcase_create("table_large");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_op_large_case, 0, op_num_large_cases);
    suite_add_tcase(s, tc);
    return s;
}
