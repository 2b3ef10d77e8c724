/* The CUDA backend as a whole (its parity is in the parity suite): what a frame costs in
 * allocations, copies and synchronisations (counted by the emulation), buffers that grow
 * only for a larger image, the statuses it gives for what it cannot do, batches, and the
 * stage profile. In the normal runner it runs on the emulated runtime; in the GPU runner
 * (`make gpu-check`) on the GPU, where the counts are not available and are skipped. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../bench/support/cuda_facts.h"
#include "backend.h"
#include "cpu/post_ops.h"
#include "cuda/runtime.h"
#include "profile.h"
#include "yl_kernels.h"
#include "yl_test.h"

#ifdef YL_CUDA_EMULATION
#include "yl_emu_runtime.h"
#else
#include <cuda_runtime_api.h>
#endif

#define IMAGE YL_TEST_DATA "/parity/coffee.png"

/* The parity networks, YOLACT and YOLACT++, loaded by the checked fixtures: at their full
 * input, or at a smaller one for the frame tests of `make test`, whose properties (counts,
 * batches, memory, statuses) do not depend on the input's size; the full-size frames are
 * tagged "full" (`make test-full`). */
static yolact_model *model, *plus;

static void load_models_at(int size, int plus_size)
{
    model = yl_test_load_model_at(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50", size);
    plus = yl_test_load_model_at(YL_TEST_PARITY_PLUS_CHECKPOINT, "yolact_plus_resnet50",
                                 plus_size);
}

static void load_models(void)
{
    load_models_at(0, 0);
}

static void load_small_models(void)
{
    load_models_at(YL_TEST_SMALL_INPUT, YL_TEST_SMALL_PLUS_INPUT);
}

static void free_models(void)
{
    yolact_model_free(model);
    yolact_model_free(plus);
    model = plus = NULL;
}

/* A CUDA session of m keeping scores above score_threshold that runs batch_size images a
 * pass, or NULL after a SKIP line when there is no GPU. */
static yolact_session *cuda_session_of(const yolact_model *m, float score_threshold,
                                       int batch_size)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.score_threshold = score_threshold;
    so.batch_size = batch_size;
    yolact_session *s = NULL;
    yolact_status st = yolact_session_create(m, &so, &s);
    if (st == YOLACT_ERR_BACKEND_UNAVAILABLE) {
        printf("SKIP cuda_backend: %s\n", yolact_last_error());
        return NULL;
    }
    ck_assert_status(st, YOLACT_OK);
    ck_assert_int_eq(yolact_session_backend(s), YOLACT_BACKEND_CUDA);
    return s;
}

/* Two parity images of different sizes: the coffee image, then the astronaut. */
static void load_two_sizes(yolact_image images[2])
{
    ck_assert_status(yolact_image_load(IMAGE, &images[0]), YOLACT_OK);
    ck_assert_status(yolact_image_load(YL_TEST_DATA "/parity/astronaut.png", &images[1]),
                     YOLACT_OK);
}

static yolact_session *cuda_session(float score_threshold, int batch_size)
{
    return cuda_session_of(model, score_threshold, batch_size);
}

#ifdef YL_CUDA_EMULATION
/* A frame after the first of its size: it allocates nothing, runs the network as one graph
 * launch, and crosses to the host only for Detect's count and the final download: 1 upload,
 * 2 downloads (the count; the detections and masks together, gathered on the device by one
 * copy), 2 synchronisations. YOLACT++ brings its mask scores down with the detections,
 * packed after them: the same counts. The masks come down only for the detections the score
 * threshold keeps: the bytes downloaded are the count, the detections block and exactly the
 * kept masks. */
static void assert_frame_counts(yolact_session *s, const yolact_image *image, const char *what,
                                long direct_launches)
{
    const yolact_result *r;
    yl_emu_counters c;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect(s, image, &r), YOLACT_OK);
    yl_emu_counters_get(&c);
    printf("%s frame: %ld allocations, %ld uploads, %ld downloads, %ld syncs, %ld launches, "
           "%ld graph launches\n", what, c.allocations, c.h2d_copies, c.d2h_copies,
           c.synchronizations, c.launches, c.graph_launches);
    ck_assert_int_eq(c.allocations, 0);
    ck_assert_int_eq(c.frees, 0);
    ck_assert_int_eq(c.pinned_allocations, 0);
    ck_assert_int_eq(c.h2d_copies, 1);
    ck_assert_int_eq(c.d2h_copies, 2);
    ck_assert_int_eq(c.d2d_copies, 1);
    ck_assert_int_eq(c.synchronizations, 2);
    ck_assert_int_eq(c.graph_launches, 1);
    ck_assert_int_eq(c.launches, direct_launches);
    ck_assert_int_eq(c.legacy_stream_uses, 0);
    yolact_session_options so;
    yolact_session_options_init(&so);
    const size_t detections_block = c.d2h_bytes - sizeof(int) -
                                     (size_t)r->count * ((image->width + 7) / 8) * image->height;
    const size_t row = so.max_detections * (sizeof(yl_raw_detection) + sizeof(float));
    ck_assert_msg(detections_block >= row && detections_block < row + sizeof(yl_raw_detection),
                  "%s frame: %zu bytes downloaded for %d detections of %dx%d; the masks and "
                  "count leave %zu for the detections' row, not %zu", what, c.d2h_bytes,
                  r->count, image->width, image->height, detections_block, row);
}

/* The counts above; a larger image grows the image-sized buffers once. */
START_TEST(a_frame_allocates_nothing_and_syncs_twice)
{
    yolact_session *s = cuda_session(0.1f, 1);
    yolact_image image, big;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_gt(r->count, 0);
    /* Outside the graph: preprocess and the masks (the assembly, which gathers the
     * coefficients, then the resize and threshold), a launch each; Detect and the score
     * threshold run in it. */
    assert_frame_counts(s, &image, "cuda", 3);
    yl_emu_counters c;

    /* Twice as wide: the upload and the download grow, once. */
    big = image;
    big.width = image.width * 2;
    big.stride = (size_t)big.width * 3;
    uint8_t *black = calloc((size_t)big.height, big.stride);
    ck_assert_ptr_nonnull(black);
    big.data = black;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect(s, &big, &r), YOLACT_OK);
    yl_emu_counters_get(&c);
    ck_assert_int_gt(c.allocations, 0);
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_status(yolact_session_detect(s, &big, &r), YOLACT_OK);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.allocations, 0);

    free(black);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.live_allocations, 0);
}
END_TEST

/* YOLACT++ (DCN layers in the backbone graph, the mask-IoU net after Detect): the same
 * counts, and mask scores that are the net's, not the box scores. */
START_TEST(a_plus_frame_allocates_nothing_and_syncs_twice)
{
    yolact_session *s = cuda_session_of(plus, 0.1f, 1);
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_gt(r->count, 0);
    /* YOLACT++ adds the mask-IoU net's 6 layers (one chunk: up to 64 masks) and the
     * re-scoring to those 3. */
    assert_frame_counts(s, &image, "cuda YOLACT++", 10);
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    int rescored = 0;
    for (int i = 0; i < r->count; i++) {
        ck_assert_msg(isfinite(r->detections[i].mask_score) && r->detections[i].mask_score >= 0,
                      "detection %d: mask_score %g", i, r->detections[i].mask_score);
        rescored += r->detections[i].mask_score != r->detections[i].score;
    }
    ck_assert_msg(rescored > 0, "no mask score differs from its box score");
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.live_allocations, 0);
}
END_TEST
#endif

/* Whether detections x and y agree: class, scores within score_tol relative, masks within
 * pixel_share of the image's pixels. */
static int same_detection(const yolact_result *r, const yolact_detection *x,
                          const yolact_detection *y, double score_tol, double pixel_share)
{
    if (x->class_index != y->class_index || fabs(x->score - y->score) > score_tol * x->score ||
        fabs(x->mask_score - y->mask_score) > score_tol * x->mask_score)
        return 0;
    long differing = 0;
    for (int py = 0; py < r->height; py++)
        for (int px = 0; px < r->width; px++)
            differing += yolact_mask_at(x, px, py) != yolact_mask_at(y, px, py);
    return differing <= pixel_share * r->width * r->height;
}

/* Results a and b of sessions keeping scores above 0.1 agree: exactly, detection by
 * detection, where both ran on the emulation (the same kernels on the same floats, image by
 * image). On a GPU cuDNN may pick another algorithm for another batch size: scores agree to
 * 1e-4 relative and masks to 1 pixel in 10,000, and detections whose scores are that close
 * may trade places, so each of a's is looked for among b's; one may be missing only where its
 * score is that close to the threshold or to the last score of a full list (the cut). */
static void assert_same_result(const yolact_result *a, const yolact_result *b, const char *what)
{
    ck_assert_int_eq(a->width, b->width);
    ck_assert_int_eq(a->height, b->height);
#ifdef YL_CUDA_EMULATION
    ck_assert_msg(a->count == b->count, "%s: %d detections, not %d", what, b->count, a->count);
    for (int i = 0; i < a->count; i++) {
        const yolact_detection *x = &a->detections[i], *y = &b->detections[i];
        ck_assert_msg(same_detection(a, x, y, 0, 0),
                      "%s: detection %d is class %d score %.9g mask score %.9g, not class %d "
                      "score %.9g mask score %.9g, or its mask differs", what, i,
                      y->class_index, y->score, y->mask_score, x->class_index, x->score,
                      x->mask_score);
    }
#else
    const double score_tol = 1e-4, pixel_share = 1e-4, threshold = 0.1;
    for (int pass = 0; pass < 2; pass++) { /* a's in b, then b's in a */
        const yolact_result *from = pass ? b : a, *in = pass ? a : b;
        /* a full list: the sessions' max_detections, the default 100 */
        const float last = in->count == 100 ? in->detections[in->count - 1].score : -1;
        for (int i = 0; i < from->count; i++) {
            const yolact_detection *x = &from->detections[i];
            int found = 0;
            for (int j = 0; j < in->count && !found; j++)
                found = same_detection(from, x, &in->detections[j], score_tol, pixel_share);
            const int at_a_cut = fabs(x->score - threshold) <= score_tol * x->score ||
                                 fabs(x->score - last) <= score_tol * x->score;
            ck_assert_msg(found || at_a_cut, "%s: detection %d of %s (class %d score %.9g mask "
                          "score %.9g) has no match in %s", what, i, pass ? "b" : "a",
                          x->class_index, x->score, x->mask_score, pass ? "a" : "b");
        }
    }
#endif
}

#ifdef YL_CUDA_EMULATION
/* Out of GPU memory is YOLACT_ERR_OUT_OF_MEMORY wherever it strikes: at each allocation of
 * session creation (everything allocated so far is freed), and at each allocation of the
 * first frame's image-sized buffers, after which the session still works and gives a fresh
 * session's result. */
START_TEST(out_of_gpu_memory_is_a_status_and_the_session_recovers)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.score_threshold = 0.1f;
    yolact_session *s = NULL;
    yl_emu_counters c;
    int failures = 0;
    for (long k = 0;; k++) {
        ck_assert_msg(k < 1000, "session creation never succeeded");
        yl_emu_counters_reset();
        yl_emu_fail_allocation(k);
        yolact_status st = yolact_session_create(model, &so, &s);
        yl_emu_fail_allocation(-1);
        if (st == YOLACT_OK)
            break;
        ck_assert_msg(st == YOLACT_ERR_OUT_OF_MEMORY, "allocation %ld failing: status %d (%s)",
                      k, (int)st, yolact_last_error());
        ck_assert_ptr_null(s);
        yl_emu_counters_get(&c);
        ck_assert_int_eq(c.allocations, c.frees);
        ck_assert_int_eq(c.pinned_allocations, c.pinned_frees);
        failures++;
    }
    ck_assert_int_gt(failures, 5);

    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    failures = 0;
    for (long k = 0;; k++) {
        ck_assert_msg(k < 100, "the frame never succeeded");
        yl_emu_fail_allocation(k);
        yolact_status st = yolact_session_detect(s, &image, &r);
        yl_emu_fail_allocation(-1);
        if (st == YOLACT_OK)
            break;
        ck_assert_msg(st == YOLACT_ERR_OUT_OF_MEMORY, "frame allocation %ld failing: status "
                      "%d (%s)", k, (int)st, yolact_last_error());
        ck_assert_msg(strstr(yolact_last_error(), "out of"), "%s", yolact_last_error());
        failures++;
    }
    ck_assert_int_gt(failures, 1);
    yolact_session *fresh = cuda_session(0.1f, 1);
    const yolact_result *want;
    ck_assert_status(yolact_session_detect(fresh, &image, &want), YOLACT_OK);
    assert_same_result(want, r, "the session after out-of-memory failures");
    yolact_session_free(fresh);
    yolact_session_free(s);
    yolact_image_free_pixels(&image);
}
END_TEST

/* A session starts with room for max_detections masks at prototype resolution; a pass of
 * two full lists needs twice that: the room grows at that pass (out of memory there is a
 * status too, after which the pass succeeds), and the next allocates nothing. */
START_TEST(masks_outgrowing_their_room_grow_once)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.score_threshold = 0.1f;
    so.max_detections = 4;
    yolact_session *single, *paired;
    ck_assert_status(yolact_session_create(model, &so, &single), YOLACT_OK);
    so.batch_size = 2;
    ck_assert_status(yolact_session_create(model, &so, &paired), YOLACT_OK);
    yolact_image images[2];
    load_two_sizes(images);
    const yolact_result *alone[2], *together[2];
    ck_assert_status(yolact_session_detect_batch(single, images, 2, alone), YOLACT_OK);
    ck_assert_int_eq(alone[0]->count, so.max_detections);
    ck_assert_int_eq(alone[1]->count, so.max_detections);
    int masks_failed = 0;
    for (long k = 0;; k++) {
        ck_assert_msg(k < 100, "the pass never succeeded");
        yl_emu_fail_allocation(k);
        yolact_status st = yolact_session_detect_batch(paired, images, 2, together);
        yl_emu_fail_allocation(-1);
        if (st == YOLACT_OK)
            break;
        ck_assert_msg(st == YOLACT_ERR_OUT_OF_MEMORY, "pass allocation %ld failing: status "
                      "%d (%s)", k, (int)st, yolact_last_error());
        masks_failed += strstr(yolact_last_error(), "for the masks") != NULL;
    }
    ck_assert_int_eq(masks_failed, 1);
    for (int i = 0; i < 2; i++)
        assert_same_result(alone[i], together[i], "an image of a pass whose masks grew");
    yl_emu_counters c;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect_batch(paired, images, 2, together), YOLACT_OK);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.allocations + c.pinned_allocations, 0);
    for (int i = 0; i < 2; i++)
        assert_same_result(alone[i], together[i], "an image of the next pass");
    yolact_session_free(single);
    yolact_session_free(paired);
    yolact_image_free_pixels(&images[0]);
    yolact_image_free_pixels(&images[1]);
}
END_TEST
#endif

/* The same detections from one image and from batches: a padded copy (a row stride wider
 * than the row) and another image, run one pass at a time and in passes of 2 images (the
 * network on both at once), the last pass short. */
START_TEST(batches_and_strides_give_the_single_frame_result)
{
    yolact_session *single = cuda_session(0.1f, 1);
    if (!single)
        return;
    yolact_session *paired = cuda_session(0.1f, 2);
    yolact_image images[3];
    ck_assert_status(yolact_image_load(IMAGE, &images[0]), YOLACT_OK);
    ck_assert_status(yolact_image_load(YL_TEST_DATA "/parity/astronaut.png", &images[2]),
                     YOLACT_OK);
    yolact_image *padded = &images[1];
    *padded = images[0];
    padded->stride = images[0].stride + 13;
    uint8_t *rows = malloc(padded->stride * (size_t)images[0].height);
    ck_assert_ptr_nonnull(rows);
    for (int y = 0; y < images[0].height; y++)
        memcpy(rows + y * padded->stride, images[0].data + y * images[0].stride,
               (size_t)images[0].width * 3);
    padded->data = rows;

    const yolact_result *alone[3], *batched[3];
    ck_assert_status(yolact_session_detect_batch(single, images, 3, alone), YOLACT_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_gt(alone[i]->count, 0);
    assert_same_result(alone[0], alone[1], "the padded copy");
    ck_assert_status(yolact_session_detect_batch(paired, images, 3, batched), YOLACT_OK);
    const char *names[3] = {"image 0 of a pass of 2", "image 1 of a pass of 2",
                            "the only image of a short pass"};
    for (int i = 0; i < 3; i++)
        assert_same_result(alone[i], batched[i], names[i]);
#ifdef YL_CUDA_EMULATION
    /* A library whose tensors hold at most 10 M elements (cuDNN's limit is 2^31 - 1, which a
     * batch of 256 reaches): the 4.9 M-element layers of a pass of 3 run as 2 images and 1,
     * the smaller ones whole (the stand-in refuses a plan past the limit, as cuDNN does). */
    setenv("YL_EMU_CUDNN_MAX_ELEMENTS", "10000000", 1);
    yolact_session *parted = cuda_session(0.1f, 3);
    unsetenv("YL_EMU_CUDNN_MAX_ELEMENTS");
    for (int frame = 0; frame < 2; frame++) { /* op by op, then the captured graph */
        ck_assert_status(yolact_session_detect_batch(parted, images, 3, batched), YOLACT_OK);
        for (int i = 0; i < 3; i++)
            assert_same_result(alone[i], batched[i], "a pass in parts");
    }
    yolact_session_free(parted);
    /* A warm batch: per image 1 upload and a preprocess launch; per pass one graph launch,
     * the masks of all its images in 2 launches, 2 downloads (the counts; the detections and
     * masks), 2 synchronisations. */
    yl_emu_counters c;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect_batch(paired, images, 3, batched), YOLACT_OK);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.allocations + c.pinned_allocations, 0);
    ck_assert_int_eq(c.graph_launches, 2);
    ck_assert_int_eq(c.h2d_copies, 3);
    ck_assert_int_eq(c.d2h_copies, 4);
    ck_assert_int_eq(c.synchronizations, 4);
    ck_assert_int_eq(c.launches, 3 + 2 * 2);
    for (int i = 0; i < 3; i++)
        assert_same_result(alone[i], batched[i], names[i]);
    /* One pass of two sizes: each image's masks at its own size, in the same launches. */
    const yolact_image mixed[2] = {images[2], images[0]};
    ck_assert_status(yolact_session_detect_batch(paired, mixed, 2, batched), YOLACT_OK);
    assert_same_result(alone[2], batched[0], "the astronaut beside the coffee image");
    assert_same_result(alone[0], batched[1], "the coffee image beside the astronaut");
    /* A pass of one image runs the network planned for one: about half the kernel work of a
     * pass of two (blocks the emulation ran), not all of it. */
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect_batch(paired, images, 2, batched), YOLACT_OK);
    yl_emu_counters_get(&c);
    long two = c.blocks;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect_batch(paired, images, 1, batched), YOLACT_OK);
    yl_emu_counters_get(&c);
    ck_assert_msg(c.blocks * 10 < two * 6, "a pass of 1 image ran %ld blocks, of 2 images %ld",
                  c.blocks, two);
    ck_assert_int_eq(c.allocations + c.pinned_allocations, 0);
#endif
    free(rows);
    yolact_image_free_pixels(&images[0]);
    yolact_image_free_pixels(&images[2]);
    yolact_session_free(single);
    yolact_session_free(paired);
}
END_TEST

/* A pass of more images than the mask kernels take at once (YL_MASK_PASS_IMAGES): its masks
 * in two groups, each image's the ones it gets alone. */
START_TEST(a_pass_past_one_mask_group_gives_the_single_frame_results)
{
    enum { IMAGES = YL_MASK_PASS_IMAGES + 1 };
    yolact_session *single = cuda_session(0.1f, 1);
    if (!single)
        return;
    yolact_session *pass = cuda_session(0.1f, IMAGES);
    yolact_image two[2], images[IMAGES];
    load_two_sizes(two);
    int which[IMAGES]; /* alternating, the second group's image not the first group's first */
    for (int i = 0; i < IMAGES; i++) {
        which[i] = i == IMAGES - 1 ? !which[0] : i % 2;
        images[i] = two[which[i]];
    }
    const yolact_result *alone[2], *batched[IMAGES];
    ck_assert_status(yolact_session_detect_batch(single, two, 2, alone), YOLACT_OK);
    ck_assert_status(yolact_session_detect_batch(pass, images, IMAGES, batched), YOLACT_OK);
    for (int i = 0; i < IMAGES; i++) {
        char what[48];
        snprintf(what, sizeof what, "image %d of a pass of %d", i, IMAGES);
        assert_same_result(alone[which[i]], batched[i], what);
    }
    yolact_session_free(single);
    yolact_session_free(pass);
    yolact_image_free_pixels(&two[0]);
    yolact_image_free_pixels(&two[1]);
}
END_TEST

/* YOLACT++ (its DCN layers on the whole batch, the mask-IoU net on the pass's masks
 * together): a pass of two images gives each its single-image detections and mask scores. */
START_TEST(plus_batches_give_the_single_frame_result)
{
    yolact_session *single = cuda_session_of(plus, 0.1f, 1);
    if (!single)
        return;
    yolact_session *paired = cuda_session_of(plus, 0.1f, 2);
    yolact_image images[2];
    load_two_sizes(images);
    const yolact_result *alone[2], *batched[2];
    ck_assert_status(yolact_session_detect_batch(single, images, 2, alone), YOLACT_OK);
    ck_assert_status(yolact_session_detect_batch(paired, images, 2, batched), YOLACT_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_gt(alone[i]->count, 0);
        assert_same_result(alone[i], batched[i], i ? "YOLACT++ image 1 of a pass of 2"
                                                    : "YOLACT++ image 0 of a pass of 2");
    }
    for (int i = 0; i < 2; i++)
        yolact_image_free_pixels(&images[i]);
    yolact_session_free(single);
    yolact_session_free(paired);
}
END_TEST

/* An image already in device memory is read in place: the same detections as from the host,
 * and (counted in the emulation) no upload. A CPU session refuses it. */
START_TEST(device_memory_images_are_read_in_place)
{
    yolact_session *s = cuda_session(0.1f, 1);
    if (!s)
        return;
    yolact_image image, on_device;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    size_t bytes = image.stride * (size_t)image.height;
    void *pixels = NULL;
    ck_assert_int_eq(cudaMalloc(&pixels, bytes), cudaSuccess);
    ck_assert_int_eq(cudaMemcpy(pixels, image.data, bytes, cudaMemcpyHostToDevice), cudaSuccess);
    on_device = image;
    on_device.data = pixels;
    on_device.memory = YOLACT_MEMORY_DEVICE;

    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    int count = r->count;
    float last = r->detections[count - 1].score;
#ifdef YL_CUDA_EMULATION
    yl_emu_counters c;
    yl_emu_counters_reset();
#endif
    ck_assert_status(yolact_session_detect(s, &on_device, &r), YOLACT_OK);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.h2d_copies, 0);
#endif
    ck_assert_int_eq(r->count, count);
    ck_assert_float_eq(r->detections[count - 1].score, last);

    yolact_session *cpu;
    ck_assert_status(yolact_session_create(model, NULL, &cpu), YOLACT_OK);
    ck_assert_status(yolact_session_detect(cpu, &on_device, &r), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(yolact_last_error(), "device memory"), "%s", yolact_last_error());
    yolact_session_free(cpu);
    cudaFree(pixels);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
}
END_TEST

/* An image marked YOLACT_MEMORY_DEVICE whose pixels are host memory is refused with a status
 * before any pass of the batch runs, not met as a fault in a kernel; the session goes on. */
START_TEST(device_images_not_on_the_gpu_are_refused)
{
    yolact_session *s = cuda_session(0.1f, 2);
    if (!s)
        return;
    yolact_image images[2];
    ck_assert_status(yolact_image_load(IMAGE, &images[0]), YOLACT_OK);
    images[1] = images[0];
    images[1].memory = YOLACT_MEMORY_DEVICE;
    const yolact_result *r[2];
    ck_assert_status(yolact_session_detect_batch(s, images, 2, r), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(yolact_last_error(), "image 1 is marked YOLACT_MEMORY_DEVICE but"),
                  "%s", yolact_last_error());
    ck_assert_status(yolact_session_detect_batch(s, images, 1, r), YOLACT_OK);
    ck_assert_int_gt(r[0]->count, 0);
    yolact_image_free_pixels(&images[0]);
    yolact_session_free(s);
}
END_TEST

#ifdef YL_CUDA_EMULATION
/* Bytes uploaded while making a session of the model at a precision (*s receives it). */
static size_t session_upload_bytes(yolact_precision precision, yolact_session **s)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.precision = precision;
    yl_emu_counters c;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_create(model, &so, s), YOLACT_OK);
    yl_emu_counters_get(&c);
    return c.h2d_bytes;
}

/* Sessions of one model on one device share its weights: a second session of the same
 * precision uploads none of them, one of another precision its own; they are freed with the
 * last session that holds them. */
START_TEST(sessions_share_the_weights)
{
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    long live_before = c.live_allocations;
    size_t weight_bytes = (size_t)yolact_model_get_info(model)->num_parameters * sizeof(float);
    yolact_session *first, *second, *half;
    size_t first_bytes = session_upload_bytes(YOLACT_PRECISION_FP32, &first);
    size_t second_bytes = session_upload_bytes(YOLACT_PRECISION_FP32, &second);
    size_t half_bytes = session_upload_bytes(YOLACT_PRECISION_FP16, &half);
    printf("uploads at session creation: %zu, %zu (shared), %zu (FP16) bytes; weights %zu\n",
           first_bytes, second_bytes, half_bytes, weight_bytes);
    ck_assert_uint_ge(first_bytes, second_bytes + weight_bytes / 2);
    ck_assert_uint_ge(half_bytes, second_bytes + weight_bytes / 2);
    yolact_session_free(first);
    yl_emu_counters_get(&c);
    long live_with_second = c.live_allocations;
    yolact_session_free(half);
    yolact_session_free(second);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.live_allocations, live_before);
    ck_assert_int_gt(live_with_second, live_before);
    /* Made again after the last was freed: uploaded again. */
    ck_assert_uint_eq(session_upload_bytes(YOLACT_PRECISION_FP32, &first), first_bytes);
    yolact_session_free(first);
}
END_TEST
#endif

/* What the backend cannot do is a status at creation, and the session choice is honest. */
START_TEST(what_it_cannot_do_is_refused_at_creation)
{
    yolact_session *s = cuda_session(0, 1);
    if (!s)
        return;
    yolact_session_free(s);

    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.top_k = 2049; /* the device Fast NMS holds at most 2048 boxes a class */
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_ERR_UNSUPPORTED);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(yolact_last_error(), "2048"), "%s", yolact_last_error());
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.device_index = 7;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_ptr_null(s);
}
END_TEST

/* The machine facts yolact-bench records: the emulation says that it is one; a GPU gives
 * its name and the versions of the runtime, the driver and the cuDNN that was opened. */
START_TEST(describe_names_the_device_and_its_libraries)
{
    yl_cuda_facts f;
    ck_assert_status(yl_cuda_describe(1000, &f), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_msg(strstr(yolact_last_error(), "1000"), "%s", yolact_last_error());
    ck_assert_status(yl_cuda_describe(0, &f), YOLACT_OK);
    printf("cuda device 0: %s, sm_%d%d, %zu MiB, runtime %d, driver %d, cuDNN %d (%s)\n",
           f.gpu_name, f.cc_major, f.cc_minor, f.memory_bytes >> 20, f.runtime_version,
           f.driver_version, f.dnn_version, f.dnn_library);
#ifdef YL_CUDA_EMULATION
    ck_assert_int_eq(f.emulated, 1);
    ck_assert_msg(strstr(f.gpu_name, "emulation"), "%s", f.gpu_name);
    ck_assert_int_eq(f.runtime_version, 0);
    ck_assert_int_eq(f.dnn_version, 0);
    ck_assert_msg(strncmp(f.dnn_library, "none", 4) == 0, "%s", f.dnn_library);
#else
    ck_assert_int_eq(f.emulated, 0);
    ck_assert_int_gt(strlen(f.gpu_name), 0);
    ck_assert_int_ge(f.cc_major * 10 + f.cc_minor, YL_CUDA_MIN_CC_MAJOR * 10 +
                                                       YL_CUDA_MIN_CC_MINOR);
    ck_assert_uint_gt(f.memory_bytes, 0);
    ck_assert_int_ge(f.runtime_version, 12000);
    ck_assert_int_gt(f.driver_version, 0);
    /* A GPU session runs here, so cuDNN 9 was opened. */
    ck_assert_int_ge(f.dnn_version, 90000);
    ck_assert_msg(strstr(f.dnn_library, "libcudnn"), "%s", f.dnn_library);
#endif
}
END_TEST

/* The live bytes of the emulated device; 0 in the GPU runner, where the checks that need
 * them are left out. */
static size_t emulated_live_bytes(void)
{
#ifdef YL_CUDA_EMULATION
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    return c.live_bytes;
#else
    return 0;
#endif
}

static yl_device_memory device_memory(const yolact_session *s)
{
    yl_device_memory m;
    ck_assert_status(yl_session_device_memory(s, &m), YOLACT_OK);
    return m;
}

/* What a session says it holds on the device is what it allocated: in the emulation,
 * exactly the bytes that became live when it was created. A CPU session holds none. */
START_TEST(device_memory_is_counted_at_creation)
{
    size_t before = emulated_live_bytes();
    yolact_session *s = cuda_session(0, 1);
    if (!s)
        return;
    yl_device_memory m = device_memory(s);
    printf("cuda session: %zu bytes on the device after creation\n", m.current_bytes);
    ck_assert_uint_gt(m.current_bytes, 0);
    ck_assert_uint_eq(m.peak_bytes, m.current_bytes);
#ifdef YL_CUDA_EMULATION
    ck_assert_uint_eq(m.current_bytes, emulated_live_bytes() - before);
#else
    (void)before;
#endif
    yolact_session_free(s);
#ifdef YL_CUDA_EMULATION
    ck_assert_uint_eq(emulated_live_bytes(), before);
#endif
    yolact_session *cpu;
    ck_assert_status(yolact_session_create(model, NULL, &cpu), YOLACT_OK);
    m = device_memory(cpu);
    ck_assert_uint_eq(m.current_bytes, 0);
    ck_assert_uint_eq(m.peak_bytes, 0);
    yolact_session_free(cpu);
    ck_assert_status(yl_session_device_memory(NULL, &m), YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The image-sized buffers grow with the largest image so far, and the count with them (by
 * what the emulation saw become live); a smaller image changes nothing. A session of batch
 * 2 fed single images: its upload slots grow two at a time. */
START_TEST(device_memory_grows_with_the_image)
{
    yolact_session *s = cuda_session(0.1f, 2);
    if (!s)
        return;
    yolact_image image, big;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    big = image;
    big.width = image.width * 2;
    big.height = image.height + 7;
    big.stride = (size_t)big.width * 3;
    uint8_t *black = calloc((size_t)big.height, big.stride);
    ck_assert_ptr_nonnull(black);
    big.data = black;

    const yolact_image *frames[] = {&image, &big, &image};
    yl_device_memory last = device_memory(s);
    for (int i = 0; i < 3; i++) {
        size_t live = emulated_live_bytes();
        const yolact_result *r;
        ck_assert_status(yolact_session_detect(s, frames[i], &r), YOLACT_OK);
        yl_device_memory m = device_memory(s);
        printf("cuda session: %zu bytes on the device (peak %zu) after a %dx%d image\n",
               m.current_bytes, m.peak_bytes, frames[i]->width, frames[i]->height);
        if (i < 2)
            ck_assert_uint_gt(m.current_bytes, last.current_bytes);
        else
            ck_assert_uint_eq(m.current_bytes, last.current_bytes);
        ck_assert_uint_ge(m.peak_bytes, m.current_bytes);
#ifdef YL_CUDA_EMULATION
        ck_assert_uint_eq(m.current_bytes - last.current_bytes, emulated_live_bytes() - live);
#else
        (void)live;
#endif
        last = m;
    }
    free(black);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
}
END_TEST

/* With a profile, every stage of the frame gets time, and the result is the graph's. */
START_TEST(profile_times_every_stage)
{
    yolact_session *s = cuda_session(0, 1);
    if (!s)
        return;
    yl_profile profile = {0};
    ck_assert_status(yl_session_set_profile(s, &profile), YOLACT_OK);
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_eq(profile.frames, 1);
    /* The profiled frame ran op by op; unprofiled, the network is a graph: same result. */
    int count = r->count;
    ck_assert_int_gt(count, 0);
    yolact_detection last = r->detections[count - 1];
    ck_assert_status(yl_session_set_profile(s, NULL), YOLACT_OK);
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_eq(r->count, count);
    ck_assert_int_eq(r->detections[count - 1].class_index, last.class_index);
    ck_assert_float_eq(r->detections[count - 1].score, last.score);
    ck_assert_float_eq(r->detections[count - 1].x1, last.x1);
    for (int stage = 0; stage < YL_STAGE_COUNT; stage++) {
        printf("cuda %-10s %.3f ms\n", yl_stage_name(stage), profile.seconds[stage] * 1e3);
        ck_assert_msg(profile.seconds[stage] >= 0, "%s", yl_stage_name(stage));
    }
    double network = profile.seconds[YL_STAGE_BACKBONE] + profile.seconds[YL_STAGE_FPN] +
                     profile.seconds[YL_STAGE_PROTONET] + profile.seconds[YL_STAGE_HEADS];
    ck_assert(network > 0);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
}
END_TEST

#ifdef YL_CUDA_EMULATION
/* The scores of a session of `precision` on IMAGE, sessions made with the environment as it
 * is; *count of them into scores (room for 100). */
static void scores_at(yolact_precision precision, float *scores, int *count)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.precision = precision;
    yolact_session *s = NULL;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_OK);
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    *count = r->count;
    for (int i = 0; i < r->count && i < 100; i++)
        scores[i] = r->detections[i].score;
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
}

static int scores_differ(const float *a, int n_a, const float *b, int n_b)
{
    int differ = n_a != n_b;
    for (int i = 0; !differ && i < n_a && i < 100; i++)
        differ = a[i] != b[i];
    return differ;
}

/* YL_EMU_CUDNN_FP16 (lib/cuda/dnn_emulated.c), the measurement of cuDNN's FP16 rounding:
 * with it an FP16 session's scores move (its convolutions' inputs and weights are rounded to
 * half), an FP32 session's do not; set to "input" (only the network's input image rounded)
 * they move, and differently from every convolution rounded. */
START_TEST(emulated_cudnn_rounds_fp16_when_asked)
{
    float exact[2][100], rounded[2][100], image_rounded[100];
    int n_exact[2], n_rounded[2], n_image_rounded;
    unsetenv("YL_EMU_CUDNN_FP16");
    scores_at(YOLACT_PRECISION_FP32, exact[0], &n_exact[0]);
    scores_at(YOLACT_PRECISION_FP16, exact[1], &n_exact[1]);
    setenv("YL_EMU_CUDNN_FP16", "1", 1);
    scores_at(YOLACT_PRECISION_FP32, rounded[0], &n_rounded[0]);
    scores_at(YOLACT_PRECISION_FP16, rounded[1], &n_rounded[1]);
    setenv("YL_EMU_CUDNN_FP16", "input", 1);
    scores_at(YOLACT_PRECISION_FP16, image_rounded, &n_image_rounded);
    unsetenv("YL_EMU_CUDNN_FP16");
    ck_assert_int_eq(n_exact[0], n_rounded[0]);
    ck_assert_mem_eq(exact[0], rounded[0], sizeof(float) * (size_t)n_exact[0]);
    ck_assert_msg(scores_differ(exact[1], n_exact[1], rounded[1], n_rounded[1]),
                  "FP16 scores with the cuDNN rounding model equal those without");
    ck_assert_msg(scores_differ(exact[1], n_exact[1], image_rounded, n_image_rounded),
                  "FP16 scores with the input image rounded equal those without");
    ck_assert_msg(scores_differ(rounded[1], n_rounded[1], image_rounded, n_image_rounded),
                  "rounding the input image alone gives the scores of rounding every layer");
}
END_TEST

/* A frame of s on image with the counters reset before it; the result, the counts. */
static const yolact_result *counted_frame(yolact_session *s, const yolact_image *image,
                                          yl_emu_counters *c)
{
    const yolact_result *r;
    yl_emu_counters_reset();
    ck_assert_status(yolact_session_detect(s, image, &r), YOLACT_OK);
    yl_emu_counters_get(c);
    return r;
}

/* A session whose capture the runtime refuses (the emulation's model of an operation that
 * cannot be captured): its second frame tries once and runs op by op instead, as do all
 * later frames without trying again, each with exactly the detections of a session with
 * graphs and a graph frame's copies and syncs, its kernels launched directly; and
 * yl_session_graphs says so, and why. */
START_TEST(a_refused_capture_falls_back_to_running_op_by_op)
{
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    yolact_session *graphed = cuda_session(0.1f, 1);
    yl_emu_counters graph_frame, c;
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(graphed, &image, &r), YOLACT_OK);
    counted_frame(graphed, &image, &c); /* the capture */
    const yolact_result *want = counted_frame(graphed, &image, &graph_frame);
    yl_graphs g;
    ck_assert_status(yl_session_graphs(graphed, &g), YOLACT_OK);
    ck_assert_int_eq(g.captured, 1);
    ck_assert_int_eq(g.fallbacks, 0);
    ck_assert_str_eq(g.fallback_reason, "");

    int refusing = yl_emu_set_refuse_capture(1);
    yolact_session *s = cuda_session(0.1f, 1);
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    for (int frame = 2; frame <= 4; frame++) {
        r = counted_frame(s, &image, &c);
        printf("refused capture, frame %d: %ld captures, %ld launches, %ld graph launches\n",
               frame, c.captures, c.launches, c.graph_launches);
        assert_same_result(want, r, "a frame after a refused capture");
        ck_assert_int_eq(c.captures, frame == 2);
        ck_assert_int_eq(c.graph_launches, 0);
        ck_assert_int_eq(c.launches, graph_frame.launches + graph_frame.graph_kernels);
        ck_assert_int_eq(c.allocations, 0);
        ck_assert_int_eq(c.h2d_copies, graph_frame.h2d_copies);
        ck_assert_int_eq(c.d2h_copies, graph_frame.d2h_copies);
        ck_assert_int_eq(c.synchronizations, graph_frame.synchronizations);
    }
    yl_emu_set_refuse_capture(refusing);
    ck_assert_status(yl_session_graphs(s, &g), YOLACT_OK);
    printf("graph fallback: %s\n", g.fallback_reason);
    ck_assert_int_eq(g.captured, 0);
    ck_assert_int_eq(g.fallbacks, 1);
    ck_assert_msg(strstr(g.fallback_reason, "cudaErrorStreamCaptureUnsupported") != NULL,
                  "the fallback's reason: \"%s\"", g.fallback_reason);
    yolact_session_free(s);
    yolact_session_free(graphed);
    yolact_image_free_pixels(&image);
}
END_TEST

/* A session of batch 1 made while YL_EMU_CUDNN_FAIL_ALGOS is `failing` (NULL: unset): the
 * first that many candidate algorithms of each cuDNN plan fail when run. */
static yolact_session *session_failing_algorithms(const char *failing)
{
    if (failing)
        setenv("YL_EMU_CUDNN_FAIL_ALGOS", failing, 1);
    yolact_session *s = cuda_session(0.1f, 1);
    unsetenv("YL_EMU_CUDNN_FAIL_ALGOS");
    return s;
}

/* cuDNN's candidate algorithms that fail at their first call are passed over when the
 * session is made (yl_dnn_conv_trial): with the first two of the stand-in's three failing,
 * the third runs, for the same device memory, launches and detections; with all three
 * failing, the library's convolutions become ours, their weights packed (more device
 * memory; the parity suite's own_convolutions case checks their results). */
START_TEST(failing_cudnn_algorithms_are_passed_over)
{
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    yolact_session *first = session_failing_algorithms(NULL);
    yolact_session *third = session_failing_algorithms("2");
    yolact_session *none = session_failing_algorithms("3");
    yl_device_memory m_first = device_memory(first), m_third = device_memory(third);
    yl_device_memory m_none = device_memory(none);
    printf("device memory with cuDNN's first algorithms %zu, third %zu, none %zu bytes\n",
           m_first.current_bytes, m_third.current_bytes, m_none.current_bytes);
    ck_assert_uint_eq(m_third.current_bytes, m_first.current_bytes);
    ck_assert_uint_gt(m_none.current_bytes, m_first.current_bytes);
    yolact_session_free(none);
    yl_emu_counters c_first, c_third;
    const yolact_result *want = counted_frame(first, &image, &c_first);
    const yolact_result *r = counted_frame(third, &image, &c_third);
    assert_same_result(want, r, "cuDNN's third algorithms");
    ck_assert_int_eq(c_third.launches, c_first.launches);
    yolact_session_free(third);
    yolact_session_free(first);
    yolact_image_free_pixels(&image);
}
END_TEST
#endif

/* Another thread captures a graph on a blocking stream (one made without
 * cudaStreamNonBlocking, as cudaStreamCreate makes them) from before a session is made until
 * after it is freed. CUDA refuses any use of the legacy default stream meanwhile, and
 * invalidates that capture: the library must not use it (lib/cuda/upload.h). Nor may its
 * own streams be blocking ones, or another thread's use of the legacy stream would break
 * the session's capture of its graph: counted in the emulation. */
typedef struct outside_capture {
    pthread_barrier_t started, finished;
    cudaError_t begin, end;
} outside_capture;

static void *capture_until_finished(void *arg)
{
    outside_capture *c = arg;
    cudaStream_t stream = NULL;
    cudaGraph_t graph = NULL;
    c->begin = cudaStreamCreate(&stream);
    if (c->begin == cudaSuccess)
        c->begin = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    pthread_barrier_wait(&c->started);
    pthread_barrier_wait(&c->finished);
    c->end = c->begin == cudaSuccess ? cudaStreamEndCapture(stream, &graph) : c->begin;
    if (graph)
        cudaGraphDestroy(graph);
    if (stream)
        cudaStreamDestroy(stream);
    return NULL;
}

START_TEST(another_threads_capture_survives_a_session)
{
    yolact_session *probe = cuda_session(0.1f, 1);
    if (!probe)
        return;
    yolact_session_free(probe);
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    outside_capture c;
    ck_assert_int_eq(pthread_barrier_init(&c.started, NULL, 2), 0);
    ck_assert_int_eq(pthread_barrier_init(&c.finished, NULL, 2), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, capture_until_finished, &c), 0);
    pthread_barrier_wait(&c.started);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters_reset();
#endif
    /* A session made (its uploads), three frames (the first runs op by op, the second
     * captures the session's own graph, the third launches it), the network outputs read
     * back, the session freed; YOLACT++'s made and freed. */
    yolact_session *s = cuda_session(0.1f, 1), *s_plus = cuda_session_of(plus, 0.1f, 1);
    const yolact_result *r;
    yl_network_outputs outputs;
    yolact_status frames[3], read_back;
    for (int i = 0; i < 3; i++)
        frames[i] = yolact_session_detect(s, &image, &r);
    read_back = yl_session_network_outputs(s, &outputs);
    yolact_session_free(s);
    yolact_session_free(s_plus);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters counters;
    yl_emu_counters_get(&counters);
#endif
    pthread_barrier_wait(&c.finished);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    pthread_barrier_destroy(&c.started);
    pthread_barrier_destroy(&c.finished);
    for (int i = 0; i < 3; i++)
        ck_assert_status(frames[i], YOLACT_OK);
    ck_assert_status(read_back, YOLACT_OK);
    ck_assert_msg(c.begin == cudaSuccess && c.end == cudaSuccess,
                  "the other thread's capture: begin %s, end %s", cudaGetErrorName(c.begin),
                  cudaGetErrorName(c.end));
#ifdef YL_CUDA_EMULATION
    ck_assert_int_eq(counters.legacy_stream_uses, 0);
    ck_assert_int_eq(counters.blocking_streams, 0);
#endif
    yolact_image_free_pixels(&image);
}
END_TEST

Suite *cuda_backend_suite(void)
{
    Suite *s = suite_create("cuda_backend");
    /* Sessions made and freed without a frame, of the smaller networks: cheap enough for the
     * sanitizer runs, though a session's creation runs each library convolution once
     * (yl_dnn_conv_trial). */
    TCase *sessions = tcase_create("sessions");
    tcase_add_checked_fixture(sessions, load_small_models, free_models);
    tcase_set_timeout(sessions, 120);
    tcase_add_test(sessions, what_it_cannot_do_is_refused_at_creation);
#ifdef YL_CUDA_EMULATION
    tcase_add_test(sessions, sessions_share_the_weights);
#endif
    tcase_add_test(sessions, device_memory_is_counted_at_creation);
    tcase_add_test(sessions, describe_names_the_device_and_its_libraries);
    suite_add_tcase(s, sessions);
    /* Whole frames of the networks: tagged "cuda", which the ASan and valgrind runs leave out
     * (the emulated heads under them take tens of minutes; their kernels run there through
     * the kernel suites); at the smaller input, then at the full one (tagged "full" too). */
    const TTest *const frame_tests[] = {
#ifdef YL_CUDA_EMULATION
        a_frame_allocates_nothing_and_syncs_twice,
        a_plus_frame_allocates_nothing_and_syncs_twice,
        out_of_gpu_memory_is_a_status_and_the_session_recovers,
        masks_outgrowing_their_room_grow_once,
        emulated_cudnn_rounds_fp16_when_asked,
        a_refused_capture_falls_back_to_running_op_by_op,
        failing_cudnn_algorithms_are_passed_over,
#endif
        batches_and_strides_give_the_single_frame_result,
        a_pass_past_one_mask_group_gives_the_single_frame_results,
        plus_batches_give_the_single_frame_result,
        device_memory_images_are_read_in_place,
        device_images_not_on_the_gpu_are_refused,
        profile_times_every_stage,
        device_memory_grows_with_the_image,
        another_threads_capture_survives_a_session,
    };
    for (int full = 0; full < 2; full++) {
        TCase *frames = tcase_create(full ? "frames_full" : "frames");
        tcase_set_tags(frames, full ? "cuda full" : "cuda");
        tcase_add_checked_fixture(frames, full ? load_models : load_small_models, free_models);
        tcase_set_timeout(frames, 600);
        for (size_t i = 0; i < sizeof frame_tests / sizeof frame_tests[0]; i++)
            tcase_add_test(frames, frame_tests[i]);
        suite_add_tcase(s, frames);
    }
    return s;
}
