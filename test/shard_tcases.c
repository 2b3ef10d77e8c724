/* The runner's test cases, kept to its shard (shard_tcases.h): Check's suite_create,
 * tcase_create and suite_add_tcase wrapped (ld --wrap) to learn each case's suite and name. */
#include "shard_tcases.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard_plan.h"
#include "yl_test.h"

Suite *__real_suite_create(const char *name);
TCase *__real_tcase_create(const char *name);
void __real_suite_add_tcase(Suite *s, TCase *tc);

/* Far more than the runner's few hundred cases; past it the runner stops, never drops one. */
#define MAX_HANDLES 2048

/* The names Check was given, by handle (a Suite or a TCase). */
static struct {
    const void *handle;
    char *name;
} names[MAX_HANDLES];
static int n_names;

/* The cases handed over, in order. */
static struct {
    Suite *suite;
    TCase *tcase;
} handed[MAX_HANDLES];
static int n_handed;

/* Holds the other shards' cases until shard_tcases_free. */
static SRunner *left_out;

/* The runner cannot go on without every case: it stops rather than run a part. */
static void stop(const char *why)
{
    fprintf(stderr, "shard_tcases: %s\n", why);
    exit(EXIT_FAILURE);
}

static void *allocated(void *p)
{
    if (!p)
        stop("out of memory");
    return p;
}

static void remember(const void *handle, const char *name)
{
    if (n_names == MAX_HANDLES)
        stop("over MAX_HANDLES suites and test cases: raise it");
    names[n_names].handle = handle;
    names[n_names].name = allocated(strdup(name ? name : ""));
    n_names++;
}

static const char *name_of(const void *handle)
{
    for (int i = n_names - 1; i >= 0; i--)
        if (names[i].handle == handle)
            return names[i].name;
    return "";
}

Suite *__wrap_suite_create(const char *name)
{
    Suite *s = __real_suite_create(name);
    remember(s, name);
    return s;
}

TCase *__wrap_tcase_create(const char *name)
{
    TCase *tc = __real_tcase_create(name);
    remember(tc, name);
    return tc;
}

void __wrap_suite_add_tcase(Suite *s, TCase *tc)
{
    if (n_handed == MAX_HANDLES)
        stop("over MAX_HANDLES test cases: raise it");
    handed[n_handed].suite = s;
    handed[n_handed].tcase = tc;
    n_handed++;
}

/* The costs file's text, NUL-terminated; NULL if it cannot be read. */
static char *read_costs(const char *path)
{
    size_t size;
    char *text = (char *)yl_test_read_file(path, &size);
    if (text)
        text = allocated(realloc(text, size + 1));
    if (text)
        text[size] = '\0';
    return text;
}

int shard_tcases_add(void)
{
    int k = 1, n = 1;
    const char *spec = getenv("YL_TEST_SHARD");
    if (spec && spec[0]) {
        char err[160];
        if (!shard_parse(spec, &k, &n, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 0;
        }
    }
    int *shard_of = allocated(calloc((size_t)n_handed + 1, sizeof *shard_of));
    char **keys = allocated(calloc((size_t)n_handed + 1, sizeof *keys));
    double *cost = allocated(calloc((size_t)n_handed + 1, sizeof *cost));
    double total = 0, mine = 0;
    if (n > 1) {
        const char *costs_path = getenv("YL_TEST_SHARD_COSTS");
        if (!costs_path || !costs_path[0])
            costs_path = SHARD_COSTS_DEFAULT;
        char *costs = read_costs(costs_path);
        if (!costs) {
            fprintf(stderr, "YL_TEST_SHARD=%s: cannot read the costs file %s\n", spec,
                    costs_path);
            free(shard_of);
            free(keys);
            free(cost);
            return 0;
        }
        for (int i = 0; i < n_handed; i++) {
            const char *suite = name_of(handed[i].suite), *tcase = name_of(handed[i].tcase);
            size_t len = strlen(suite) + strlen(tcase) + 2;
            keys[i] = allocated(malloc(len));
            snprintf(keys[i], len, "%s:%s", suite, tcase);
            cost[i] = shard_cost(costs, keys[i]);
        }
        free(costs);
        shard_assign((const char *const *)keys, cost, n_handed, n, shard_of);
    }
    /* The other shards' cases go to a suite of a runner that never runs, which frees them. */
    Suite *others = __real_suite_create("other shards");
    left_out = srunner_create(others);
    int kept = 0;
    for (int i = 0; i < n_handed; i++) {
        total += cost[i];
        if (shard_of[i] == k - 1) {
            __real_suite_add_tcase(handed[i].suite, handed[i].tcase);
            mine += cost[i];
            kept++;
        } else {
            __real_suite_add_tcase(others, handed[i].tcase);
        }
        free(keys[i]);
    }
    if (n > 1)
        printf("shard %d/%d: %d of %d test cases, ~%.0f of %.0f s by the costs file\n", k, n,
               kept, n_handed, mine, total);
    free(shard_of);
    free(keys);
    free(cost);
    return 1;
}

void shard_tcases_free(void)
{
    if (left_out)
        srunner_free(left_out);
    left_out = NULL;
    for (int i = 0; i < n_names; i++)
        free(names[i].name);
    n_names = n_handed = 0;
}
