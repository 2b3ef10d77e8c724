/* Thread safety: one model shared by sessions on several threads gives, for every frame,
 * exactly the result of a single-threaded run (count, classes, scores, boxes, mask bits), on
 * the CPU backend (four threads) and on the CUDA backend (two; in the test runner on the
 * emulated runtime, where launches from different threads interleave). `make test-tsan` runs
 * the CPU part under ThreadSanitizer. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "yl_test.h"

#define MAX_THREADS 4
#define NUM_IMAGES 2

static const char *const image_paths[NUM_IMAGES] = {
    YL_TEST_DATA "/parity/coffee.png", YL_TEST_DATA "/parity/astronaut.png"};

/* A result copied out of the session that produced it. */
typedef struct snapshot {
    int width, height, count;
    yolact_detection *detections;  /* mask pointers into masks */
    uint8_t *masks;
} snapshot;

static size_t mask_bytes(const yolact_result *r)
{
    return r->count ? r->detections[0].mask_stride * (size_t)r->height : 0;
}

static void snapshot_take(snapshot *s, const yolact_result *r)
{
    s->width = r->width;
    s->height = r->height;
    s->count = r->count;
    size_t per = mask_bytes(r);
    s->detections = malloc(((size_t)r->count + 1) * sizeof *s->detections);
    s->masks = malloc(per * (size_t)r->count + 1);
    ck_assert(s->detections && s->masks);
    for (int i = 0; i < r->count; i++) {
        s->detections[i] = r->detections[i];
        memcpy(s->masks + per * (size_t)i, r->detections[i].mask, per);
        s->detections[i].mask = s->masks + per * (size_t)i;
    }
}

static void snapshot_free(snapshot *s)
{
    free(s->detections);
    free(s->masks);
}

/* "" when r equals the reference exactly, else the first difference in msg. */
static void compare(const snapshot *ref, const yolact_result *r, char *msg, size_t cap)
{
    msg[0] = '\0';
    if (r->width != ref->width || r->height != ref->height || r->count != ref->count) {
        snprintf(msg, cap, "%dx%d with %d detections, expected %dx%d with %d", r->width,
                 r->height, r->count, ref->width, ref->height, ref->count);
        return;
    }
    size_t per = mask_bytes(r);
    for (int i = 0; i < r->count; i++) {
        const yolact_detection *a = &r->detections[i], *b = &ref->detections[i];
        if (a->class_index != b->class_index || a->score != b->score || a->x1 != b->x1 ||
            a->y1 != b->y1 || a->x2 != b->x2 || a->y2 != b->y2 ||
            a->mask_stride != b->mask_stride) {
            snprintf(msg, cap, "detection %d: class %d score %.9g box %.9g %.9g %.9g %.9g, "
                     "expected class %d score %.9g box %.9g %.9g %.9g %.9g", i, a->class_index,
                     a->score, a->x1, a->y1, a->x2, a->y2, b->class_index, b->score, b->x1,
                     b->y1, b->x2, b->y2);
            return;
        }
        for (size_t k = 0; k < per; k++)
            if (a->mask[k] != b->mask[k]) {
                snprintf(msg, cap, "detection %d: mask byte %zu (row %zu) is 0x%02x, expected "
                         "0x%02x", i, k, k / a->mask_stride, a->mask[k], b->mask[k]);
                return;
            }
    }
}

static yolact_model *model;
static yolact_image images[NUM_IMAGES];
static snapshot reference[NUM_IMAGES];

/* One OpenMP thread per session: the threads here are the concurrency under test, and
 * ThreadSanitizer cannot see libgomp's own synchronisation. */
static yolact_status make_session(yolact_backend backend, yolact_session **session)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = backend;
    so.num_threads = 1;
    return yolact_session_create(model, &so, session);
}

typedef struct worker {
    pthread_t thread;
    yolact_backend backend;
    int rounds, frames;
    char error[512];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    yolact_session *session;
    yolact_status s = make_session(w->backend, &session);
    if (s != YOLACT_OK) {
        snprintf(w->error, sizeof w->error, "session: %s: %s", yolact_status_string(s),
                 yolact_last_error());
        return NULL;
    }
    for (int round = 0; round < w->rounds && !w->error[0]; round++)
        for (int i = 0; i < NUM_IMAGES && !w->error[0]; i++) {
            const yolact_result *r;
            if ((s = yolact_session_detect(session, &images[i], &r)) != YOLACT_OK) {
                snprintf(w->error, sizeof w->error, "%s: %s: %s", image_paths[i],
                         yolact_status_string(s), yolact_last_error());
                break;
            }
            char diff[400];
            compare(&reference[i], r, diff, sizeof diff);
            if (diff[0])
                snprintf(w->error, sizeof w->error, "%s round %d: %s", image_paths[i], round,
                         diff);
            w->frames++;
        }
    yolact_session_free(session);
    return NULL;
}

/* threads sessions of a backend on one model, each running every image `rounds` times, each
 * frame compared with a single session's. The single session runs on a model of its own, so
 * the threads' sessions are the first on theirs and race to create what a model makes on
 * first use (the CPU's prepared weights). */
static void run_shared_model(yolact_backend backend, int threads, int rounds, int size)
{
    for (int i = 0; i < NUM_IMAGES; i++)
        ck_assert_status(yolact_image_load(image_paths[i], &images[i]), YOLACT_OK);

    model = yl_test_load_model_at(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50", size);
    yolact_session *single;
    yolact_status st = make_session(backend, &single);
    if (st == YOLACT_ERR_BACKEND_UNAVAILABLE) { /* the GPU runner without a GPU */
        printf("SKIP threads: %s\n", yolact_last_error());
        threads = 0;
    } else {
        ck_assert_status(st, YOLACT_OK);
        for (int i = 0; i < NUM_IMAGES; i++) {
            const yolact_result *r;
            ck_assert_status(yolact_session_detect(single, &images[i], &r), YOLACT_OK);
            ck_assert_msg(r->count > 0, "%s: no detections to compare", image_paths[i]);
            snapshot_take(&reference[i], r);
        }
        yolact_session_free(single);
    }
    yolact_model_free(model);

    model = yl_test_load_model_at(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50", size);
    worker workers[MAX_THREADS] = {0};
    for (int t = 0; t < threads; t++) {
        workers[t].backend = backend;
        workers[t].rounds = rounds;
        ck_assert_int_eq(pthread_create(&workers[t].thread, NULL, work, &workers[t]), 0);
    }
    for (int t = 0; t < threads; t++)
        ck_assert_int_eq(pthread_join(workers[t].thread, NULL), 0);
    for (int t = 0; t < threads; t++) {
        ck_assert_msg(!workers[t].error[0], "thread %d: %s", t, workers[t].error);
        ck_assert_int_eq(workers[t].frames, rounds * NUM_IMAGES);
    }

    for (int i = 0; i < NUM_IMAGES; i++) {
        if (threads)
            snapshot_free(&reference[i]);
        yolact_image_free_pixels(&images[i]);
    }
    yolact_model_free(model);
}

START_TEST(shared_model_four_threads)
{
    run_shared_model(YOLACT_BACKEND_CPU, 4, 2, 0);
}
END_TEST

/* _i: the network at the smaller input of `make test`, or at its own (tag "full"). */
START_TEST(shared_model_two_cuda_threads)
{
    run_shared_model(YOLACT_BACKEND_CUDA, 2, 1, _i ? 0 : YL_TEST_SMALL_INPUT);
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    /* Tagged "slow": CI's valgrind run (threads one at a time there) leaves it out; TSan and
     * ASan run it. */
    TCase *tc = tcase_create("threads");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, shared_model_four_threads);
    suite_add_tcase(s, tc);
    /* Tagged "cuda" too: the sanitizer and valgrind runs leave the emulated network out. */
    for (int full = 0; full < 2; full++) {
        TCase *cuda = tcase_create(full ? "cuda_threads_full" : "cuda_threads");
        tcase_set_tags(cuda, full ? "slow cuda full" : "slow cuda");
        tcase_set_timeout(cuda, 600);
        tcase_add_loop_test(cuda, shared_model_two_cuda_threads, full, full + 1);
        suite_add_tcase(s, cuda);
    }
    return s;
}
