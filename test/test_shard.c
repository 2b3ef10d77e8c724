/* The runner's shards (test/shard_plan.h, test/shard_tcases.h): the K/N spec, the costs file,
 * the assignment, and this very runner run as shards, whose counts must add up to its count
 * run whole: a shard that lost or repeated a test case would fail here. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shard_plan.h"
#include "yl_test.h"

START_TEST(specs_are_checked)
{
    int k = 0, n = 0;
    char err[160];
    ck_assert_int_eq(shard_parse("1/2", &k, &n, err, sizeof err), 1);
    ck_assert(k == 1 && n == 2);
    ck_assert_int_eq(shard_parse("3/3", &k, &n, err, sizeof err), 1);
    ck_assert(k == 3 && n == 3);
    static const char *const bad[] = {"", "1", "0/2", "3/2", "1/0", "a/b", "1/2x", "1/65",
                                      "-1/2", "1/-2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(shard_parse(bad[i], &k, &n, err, sizeof err) == 0, "'%s' taken", bad[i]);
        ck_assert_msg(strstr(err, "YL_TEST_SHARD="), "'%s': %s", bad[i], err);
    }
}
END_TEST

START_TEST(costs_are_found_by_whole_key)
{
    const char *costs = "# seconds\ncli:cli2 7\ncli:cli 12\ntrainer:steps\t40\n";
    ck_assert_double_eq(shard_cost(costs, "cli:cli"), 12);
    ck_assert_double_eq(shard_cost(costs, "cli:cli2"), 7);
    ck_assert_double_eq(shard_cost(costs, "trainer:steps"), 40);
    ck_assert_double_eq(shard_cost(costs, "cli:c"), SHARD_UNKNOWN_COST);
    ck_assert_double_eq(shard_cost(costs, "seconds"), SHARD_UNKNOWN_COST);
    ck_assert_double_eq(shard_cost("", "cli:cli"), SHARD_UNKNOWN_COST);
}
END_TEST

/* The costliest first, each to the least loaded shard: 5 to A, 4 to B, 3 to B (7), 3 to A (8),
 * 3 to B (10); the ties of cost taken by key. A key repeated goes with its first case. */
START_TEST(costliest_first_to_the_least_loaded)
{
    const char *keys[] = {"s:c", "s:a", "s:e", "s:b", "s:d", "s:a"};
    const double cost[] = {3, 5, 3, 4, 3, 5};
    int shard_of[6];
    shard_assign(keys, cost, 6, 2, shard_of);
    const int want[] = {1, 0, 1, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(shard_of[i] == want[i], "%s: shard %d, want %d", keys[i], shard_of[i],
                      want[i]);

    /* The same cases in another order: the same shards. */
    const char *keys_reversed[] = {"s:a", "s:d", "s:b", "s:e", "s:a", "s:c"};
    const double cost_reversed[] = {5, 3, 4, 3, 5, 3};
    shard_assign(keys_reversed, cost_reversed, 6, 2, shard_of);
    const int want_reversed[] = {0, 0, 1, 1, 0, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(shard_of[i], want_reversed[i]);

    shard_assign(keys, cost, 6, 1, shard_of);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(shard_of[i], 0);
}
END_TEST

/* A few cases for the runner to split; tagged so that only the probe below runs them alone. */
START_TEST(probe_test) {}
END_TEST

/* "Checks: N" of this runner run with env, its suite "shard" tagged shard_probe only. */
static int probe_checks(const char *env)
{
    char self[512], cmd[1200], *out;
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert_int_gt(len, 0);
    self[len] = '\0';
    snprintf(cmd, sizeof cmd, "env -u CK_EXCLUDE_TAGS -u CK_RUN_CASE -u YL_TEST_SHARD "
             "CK_RUN_SUITE=shard CK_INCLUDE_TAGS=shard_probe CK_FORK=no %s %s", env, self);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    const char *summary = strstr(out, "Checks: ");
    ck_assert_msg(summary, "no summary from %s:\n%s", cmd, out);
    int checks = atoi(summary + strlen("Checks: "));
    free(out);
    return checks;
}

START_TEST(shards_add_up_to_the_whole_run)
{
    int whole = probe_checks("");
    ck_assert_int_eq(whole, 11);
    for (int n = 2; n <= 4; n++) {
        int sum = 0;
        for (int k = 1; k <= n; k++) {
            char env[64];
            snprintf(env, sizeof env, "YL_TEST_SHARD=%d/%d", k, n);
            sum += probe_checks(env);
        }
        ck_assert_msg(sum == whole, "%d shards ran %d tests, the whole run %d", n, sum, whole);
    }
}
END_TEST

Suite *shard_suite(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, specs_are_checked);
    tcase_add_test(tc, costs_are_found_by_whole_key);
    tcase_add_test(tc, costliest_first_to_the_least_loaded);
    suite_add_tcase(s, tc);
    TCase *runner = tcase_create("runner");
    tcase_set_timeout(runner, 60);
    tcase_add_test(runner, shards_add_up_to_the_whole_run);
    suite_add_tcase(s, runner);
    /* 11 tests in 4 cases of 1, 2, 3 and 5 (loops). */
    static const char *const probe_names[] = {"probe_a", "probe_b", "probe_c", "probe_d"};
    static const int probe_tests[] = {1, 2, 3, 5};
    for (int i = 0; i < 4; i++) {
        TCase *probe = tcase_create(probe_names[i]);
        tcase_set_tags(probe, "shard_probe");
        tcase_add_loop_test(probe, probe_test, 0, probe_tests[i]);
        suite_add_tcase(s, probe);
    }
    return s;
}
