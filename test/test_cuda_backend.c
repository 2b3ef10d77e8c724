/* The CUDA backend as a whole (its parity is in the parity suite): what a frame costs in
 * allocations, copies and synchronisations (counted by the emulation), buffers that grow
 * only for a larger image, the statuses it gives for what it cannot do, batches, and the
 * stage profile. In the normal runner it runs on the emulated runtime; in the GPU runner
 * (`make gpu-check`) on the GPU, where the counts are not available and are skipped. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "profile.h"
#include "yl_test.h"

#ifdef YL_CUDA_EMULATION
#include "yl_emu_runtime.h"
#else
#include <cuda_runtime_api.h>
#endif

#define IMAGE YL_TEST_DATA "/parity/coffee.png"

/* The model every test uses, loaded by the checked fixture. */
static yolact_model *model;

static void load_model(void)
{
    model = yl_test_parity_model();
}

static void free_model(void)
{
    yolact_model_free(model);
    model = NULL;
}

/* A CUDA session of m keeping scores above score_threshold, or NULL after a SKIP line when
 * there is no GPU. */
static yolact_session *cuda_session_of(const yolact_model *m, float score_threshold)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    so.score_threshold = score_threshold;
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

static yolact_session *cuda_session(float score_threshold)
{
    return cuda_session_of(model, score_threshold);
}

#ifdef YL_CUDA_EMULATION
/* A frame after the first of its size: it allocates nothing, runs the network as one graph
 * launch, and crosses to the host only for Detect's count and the final download: 1 upload,
 * 3 downloads (count, detections, masks), 2 synchronisations. YOLACT++ brings its mask
 * scores down with the detections, packed after them: the same counts. */
static void assert_frame_counts(yolact_session *s, const yolact_image *image, const char *what)
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
    ck_assert_int_eq(c.h2d_copies, 1);
    ck_assert_int_eq(c.d2h_copies, 3);
    ck_assert_int_eq(c.synchronizations, 2);
    ck_assert_int_eq(c.graph_launches, 1);
}

/* The counts above; a larger image grows the image-sized buffers once. */
START_TEST(a_frame_allocates_nothing_and_syncs_twice)
{
    yolact_session *s = cuda_session(0.1f);
    yolact_image image, big;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_gt(r->count, 0);
    assert_frame_counts(s, &image, "cuda");
    yl_emu_counters c;

    /* Twice as wide: the upload and the masks grow, once. */
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
    yolact_model *plus = yl_test_load_model(YL_TEST_PARITY_PLUS_CHECKPOINT,
                                            "yolact_plus_resnet50");
    yolact_session *s = cuda_session_of(plus, 0.1f);
    yolact_image image;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    ck_assert_int_gt(r->count, 0);
    assert_frame_counts(s, &image, "cuda YOLACT++");
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
    yolact_model_free(plus);
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.live_allocations, 0);
}
END_TEST
#endif

/* The same detections, in the same order, from one frame and from a batch of it and a
 * padded copy (a row stride wider than the row). */
START_TEST(batches_and_strides_give_the_single_frame_result)
{
    yolact_session *s = cuda_session(0.1f);
    if (!s)
        return;
    yolact_image image, padded;
    ck_assert_status(yolact_image_load(IMAGE, &image), YOLACT_OK);
    padded = image;
    padded.stride = image.stride + 13;
    uint8_t *rows = malloc(padded.stride * (size_t)image.height);
    ck_assert_ptr_nonnull(rows);
    for (int y = 0; y < image.height; y++)
        memcpy(rows + y * padded.stride, image.data + y * image.stride, (size_t)image.width * 3);
    padded.data = rows;

    const yolact_result *one;
    ck_assert_status(yolact_session_detect(s, &image, &one), YOLACT_OK);
    int count = one->count;
    ck_assert_int_gt(count, 0);
    float first_score = one->detections[0].score, last_score = one->detections[count - 1].score;
    int first_class = one->detections[0].class_index;

    yolact_image batch[2] = {image, padded};
    const yolact_result *results[2];
    ck_assert_status(yolact_session_detect_batch(s, batch, 2, results), YOLACT_OK);
    for (int b = 0; b < 2; b++) {
        ck_assert_int_eq(results[b]->count, count);
        ck_assert_float_eq(results[b]->detections[0].score, first_score);
        ck_assert_float_eq(results[b]->detections[count - 1].score, last_score);
        ck_assert_int_eq(results[b]->detections[0].class_index, first_class);
    }
    for (int i = 0; i < count; i++) {
        const yolact_detection *a = &results[0]->detections[i], *b = &results[1]->detections[i];
        ck_assert_int_eq(a->class_index, b->class_index);
        ck_assert_float_eq(a->score, b->score);
        for (int y = 0; y < image.height; y++)
            ck_assert_int_eq(memcmp(a->mask + y * a->mask_stride, b->mask + y * b->mask_stride,
                                    a->mask_stride), 0);
    }
    free(rows);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
}
END_TEST

/* An image already in device memory is read in place: the same detections as from the host,
 * and (counted in the emulation) no upload. A CPU session refuses it. */
START_TEST(device_memory_images_are_read_in_place)
{
    yolact_session *s = cuda_session(0.1f);
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

/* What the backend cannot do is a status at creation, and the session choice is honest. */
START_TEST(what_it_cannot_do_is_refused_at_creation)
{
    yolact_session *s = cuda_session(0);
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

/* With a profile, every stage of the frame gets time, and the result is the graph's. */
START_TEST(profile_times_every_stage)
{
    yolact_session *s = cuda_session(0);
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

Suite *cuda_backend_suite(void)
{
    Suite *s = suite_create("cuda_backend");
    /* Sessions made and freed without a frame: cheap enough for the sanitizer runs. */
    TCase *sessions = tcase_create("sessions");
    tcase_add_checked_fixture(sessions, load_model, free_model);
    tcase_add_test(sessions, what_it_cannot_do_is_refused_at_creation);
    suite_add_tcase(s, sessions);
    /* Whole frames of the network: tagged "cuda", which the ASan and valgrind runs leave out
     * (the emulated heads under them take tens of minutes; their kernels run there through
     * the kernel suites). */
    TCase *frames = tcase_create("frames");
    tcase_set_tags(frames, "cuda");
    tcase_add_checked_fixture(frames, load_model, free_model);
    tcase_set_timeout(frames, 600);
#ifdef YL_CUDA_EMULATION
    tcase_add_test(frames, a_frame_allocates_nothing_and_syncs_twice);
    tcase_add_test(frames, a_plus_frame_allocates_nothing_and_syncs_twice);
#endif
    tcase_add_test(frames, batches_and_strides_give_the_single_frame_result);
    tcase_add_test(frames, device_memory_images_are_read_in_place);
    tcase_add_test(frames, profile_times_every_stage);
    suite_add_tcase(s, frames);
    return s;
}
