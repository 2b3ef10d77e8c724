/* The model's cache of backend entries (lib/model/cache.h) on its own: an entry is made once
 * however many threads ask first, a failed make leaves nothing, an entry that is not kept
 * goes with its last holder, and every entry left goes with the model. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "model/cache.h"
#include "yl_test.h"

#define THREADS 8

/* What the test kind did; make and destroy run under the cache's lock, and the test reads
 * them after joining the threads or in its own thread. */
static int made, destroyed, fail_next;

/* Fresh counts for each test, forked or not. */
static void reset_counts(void)
{
    made = destroyed = fail_next = 0;
}

static yolact_status make(const yolact_model *m, const yl_cache_key *key, void *ctx,
                          void **data)
{
    (void)m, (void)ctx;
    /* Slow, so the other first askers arrive while it runs. */
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    if (fail_next) {
        fail_next = 0;
        return YOLACT_ERR_OUT_OF_MEMORY;
    }
    yl_cache_key *copy = malloc(sizeof *copy);
    if (!copy)
        return YOLACT_ERR_OUT_OF_MEMORY;
    *copy = *key;
    made++;
    *data = copy;
    return YOLACT_OK;
}

static void destroy(void *data)
{
    destroyed++;
    free(data);
}

static const yl_cache_kind shared = {make, destroy, 0}, kept = {make, destroy, 1};
static const yl_cache_key cuda0_fp32 = {YOLACT_BACKEND_CUDA, 0, YOLACT_PRECISION_FP32};

typedef struct asker {
    pthread_t thread;
    const yolact_model *model;
    void *data;
    yolact_status status;
} asker;

static void *ask(void *arg)
{
    asker *a = arg;
    a->status = yl_model_cache_acquire(a->model, &cuda0_fp32, &shared, NULL, &a->data);
    return NULL;
}

START_TEST(made_once_by_concurrent_first_askers_and_freed_by_the_last)
{
    yolact_model *m = yl_test_parity_model();
    asker askers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        askers[t] = (asker){.model = m};
        ck_assert_int_eq(pthread_create(&askers[t].thread, NULL, ask, &askers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(askers[t].thread, NULL), 0);
        ck_assert_status(askers[t].status, YOLACT_OK);
        ck_assert_ptr_eq(askers[t].data, askers[0].data);
    }
    ck_assert_int_eq(made, 1);

    /* Another device, precision or backend is another entry. */
    const yl_cache_key others[] = {{YOLACT_BACKEND_CUDA, 1, YOLACT_PRECISION_FP32},
                                   {YOLACT_BACKEND_CUDA, 0, YOLACT_PRECISION_FP16},
                                   {YOLACT_BACKEND_CPU, 0, YOLACT_PRECISION_FP32}};
    void *other[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_status(yl_model_cache_acquire(m, &others[i], &shared, NULL, &other[i]),
                         YOLACT_OK);
        ck_assert_ptr_ne(other[i], askers[0].data);
        ck_assert_int_eq(((yl_cache_key *)other[i])->device, others[i].device);
        yl_model_cache_release(m, other[i]);
    }
    ck_assert_int_eq(made, 4);
    ck_assert_int_eq(destroyed, 3);

    for (int t = 0; t < THREADS - 1; t++)
        yl_model_cache_release(m, askers[t].data);
    ck_assert_int_eq(destroyed, 3);
    yl_model_cache_release(m, askers[THREADS - 1].data);
    ck_assert_int_eq(destroyed, 4);
    /* Asked again after its last holder: made again. */
    void *again;
    ck_assert_status(yl_model_cache_acquire(m, &cuda0_fp32, &shared, NULL, &again), YOLACT_OK);
    ck_assert_int_eq(made, 5);
    yl_model_cache_release(m, again);
    yolact_model_free(m);
    ck_assert_int_eq(destroyed, 5);
}
END_TEST

START_TEST(a_failed_make_leaves_nothing)
{
    yolact_model *m = yl_test_parity_model();
    void *data = m;
    fail_next = 1;
    ck_assert_status(yl_model_cache_acquire(m, &cuda0_fp32, &shared, NULL, &data),
                     YOLACT_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(data);
    ck_assert_status(yl_model_cache_acquire(m, &cuda0_fp32, &shared, NULL, &data), YOLACT_OK);
    ck_assert_int_eq(made, 1);
    yl_model_cache_release(m, data);
    ck_assert_int_eq(destroyed, 1);
    yolact_model_free(m);
    ck_assert_int_eq(destroyed, 1);
}
END_TEST

/* A kept entry outlives its holders until the model goes; so does one still held then (a
 * session left behind its model). */
START_TEST(what_is_left_goes_with_the_model)
{
    yolact_model *m = yl_test_parity_model();
    const yl_cache_key cpu = {YOLACT_BACKEND_CPU, 0, YOLACT_PRECISION_FP32};
    void *first, *second, *held;
    ck_assert_status(yl_model_cache_acquire(m, &cpu, &kept, NULL, &first), YOLACT_OK);
    yl_model_cache_release(m, first);
    ck_assert_status(yl_model_cache_acquire(m, &cpu, &kept, NULL, &second), YOLACT_OK);
    yl_model_cache_release(m, second);
    ck_assert_ptr_eq(second, first);
    ck_assert_status(yl_model_cache_acquire(m, &cuda0_fp32, &shared, NULL, &held), YOLACT_OK);
    ck_assert_int_eq(made, 2);
    ck_assert_int_eq(destroyed, 0);
    yolact_model_free(m);
    ck_assert_int_eq(destroyed, 2);
}
END_TEST

Suite *model_cache_suite(void)
{
    Suite *s = suite_create("model_cache");
    TCase *tc = tcase_create("model_cache");
    tcase_add_checked_fixture(tc, reset_counts, NULL);
    tcase_add_test(tc, made_once_by_concurrent_first_askers_and_freed_by_the_last);
    tcase_add_test(tc, a_failed_make_leaves_nothing);
    tcase_add_test(tc, what_is_left_goes_with_the_model);
    suite_add_tcase(s, tc);
    return s;
}
