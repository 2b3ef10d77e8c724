/* Hostile input beyond the weight suite's fixtures: pickles calling any global outside a
 * state_dict's vocabulary are refused, naming it, without running it; nesting,
 * self-reference, memo floods, declared sizes far beyond the file and overlapping zip
 * entries are refused within bounded memory; image headers claiming huge sizes, bad
 * strides and out-of-range options are refused where the API says, detections capped. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "image/image_io.h"
#include "scratch_dir.h"
#include "weights/weights_internal.h"
#include "yl_test.h"

#define HOSTILE_DIR YL_TEST_DATA "/hostile/"
#define WEIGHTS YL_TEST_PARITY_CHECKPOINT
/* In a fresh folder per test, as the checkpoints written, so runners side by side never
 * share them. */
#define SENTINEL scratch_path("pwned")

/* ---- pickles calling globals ------------------------------------------------------------ */

static const char *const refused_globals[][2] = {
    {"posix", "system"}, {"os", "system"}, {"os", "execv"}, {"os", "popen"},
    {"builtins", "eval"}, {"builtins", "exec"}, {"builtins", "getattr"},
    {"builtins", "__import__"}, {"builtins", "open"}, {"__builtin__", "eval"},
    {"subprocess", "Popen"}, {"subprocess", "check_output"}, {"copyreg", "_reconstructor"},
    {"socket", "socket"}, {"pickle", "loads"}, {"torch", "load"}, {"functools", "partial"},
    {"numpy.core.multiarray", "_reconstruct"}, {"torch._utils", "_rebuild_device_tensor_from_numpy"},
};
#define NUM_GLOBALS (int)(sizeof refused_globals / sizeof refused_globals[0])

/* A legacy .pth: the header pickles of a real one, then a pickle calling
 * module.name("touch SENTINEL"), through GLOBAL (protocol 2) or STACK_GLOBAL (protocol 4). */
static uint8_t *calling_pth(const char *module, const char *name, int stack_global,
                            size_t *size)
{
    size_t real_size, header;
    uint8_t *real = yl_test_read_file(YL_TEST_DATA "/weights/legacy_fp32.pth", &real_size);
    ck_assert_ptr_nonnull(real);
    ck_assert_status(yl_pickle_read_legacy_header(real, real_size, "legacy_fp32.pth", &header),
                     YOLACT_OK);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "touch %s", SENTINEL);
    uint8_t *p = malloc(header + 512), *q = p + header;
    ck_assert_ptr_nonnull(p);
    memcpy(p, real, header);
    free(real);
    *q++ = 0x80;
    *q++ = stack_global ? 4 : 2;
    if (stack_global) {
        *q++ = 0x8c;   /* SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL */
        *q++ = (uint8_t)strlen(module);
        q += sprintf((char *)q, "%s", module);
        *q++ = 0x8c;
        *q++ = (uint8_t)strlen(name);
        q += sprintf((char *)q, "%s", name);
        *q++ = 0x93;
    } else {
        q += sprintf((char *)q, "c%s\n%s\n", module, name);
    }
    *q++ = 'X';        /* BINUNICODE cmd, TUPLE1, REDUCE, STOP */
    uint32_t n = (uint32_t)strlen(cmd);
    memcpy(q, &n, 4);  /* little-endian host */
    q += 4;
    memcpy(q, cmd, n);
    q += n;
    *q++ = 0x85;
    *q++ = 'R';
    *q++ = '.';
    *size = (size_t)(q - p);
    return p;
}

START_TEST(calling_any_other_global_is_refused_unrun)
{
    const char *module = refused_globals[_i / 2][0], *name = refused_globals[_i / 2][1];
    int stack_global = _i % 2;
    size_t size;
    uint8_t *bytes = calling_pth(module, name, stack_global, &size);
    char expected[256];
    snprintf(expected, sizeof expected, "refused global '%s.%s'", module, name);
    unlink(SENTINEL);

    yl_tensor_table table;
    ck_assert_status(yl_weights_read_memory(bytes, size, "call.pth", &table),
                     YOLACT_ERR_UNSAFE_PICKLE);
    ck_assert_msg(strstr(yolact_last_error(), expected), "'%s' does not say %s",
                  yolact_last_error(), expected);
    ck_assert_ptr_null(table.tensors);

    /* The same file through the public API. */
    char path[300];
    snprintf(path, sizeof path, "%s", scratch_path("call.pth"));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
    free(bytes);
    yolact_model *model = (yolact_model *)path;
    ck_assert_status(yolact_model_load(path, NULL, &model), YOLACT_ERR_UNSAFE_PICKLE);
    ck_assert_ptr_null(model);
    ck_assert_msg(strstr(yolact_last_error(), expected), "'%s' does not say %s",
                  yolact_last_error(), expected);
    unlink(path);
    ck_assert_msg(access(SENTINEL, F_OK) != 0, "%s.%s ran: %s exists", module, name, SENTINEL);
}
END_TEST

/* ---- generated hostile checkpoints (test/fixtures/make_hostile_fixtures.py) ------------- */

static const struct hostile_file {
    const char *file;
    yolact_status status;
    const char *message;
} hostile_files[] = {
    {"deep_lists.pth", YOLACT_ERR_UNSAFE_PICKLE, "(APPEND) at offset 10033: objects nested deeper than 32"},
    {"deep_dicts.pth", YOLACT_ERR_UNSAFE_PICKLE, "(SETITEM) at offset 70027: objects nested deeper than 32"},
    {"self_list.pth", YOLACT_ERR_FORMAT, "the pickle holds a list, not a state_dict"},
    {"self_dict.pth", YOLACT_ERR_FORMAT, "entry 'k' is a dict, not a tensor"},
    /* The floods are read through (the state_dict pickle ends well) in bounded memory. */
    {"memo_flood.pth", YOLACT_ERR_FORMAT, "storage key pickle at byte 100141: pickle ends"},
    {"memo_get_flood.pth", YOLACT_ERR_FORMAT, "storage key pickle at byte 100143: pickle ends"},
    {"huge_storage.pth", YOLACT_ERR_FORMAT, "storage '0' (4611686018427387904 x 4 bytes) runs past the end"},
    {"huge_view.pth", YOLACT_ERR_LIMIT, "tensor 'w': element count overflows"},
    {"stride0_huge.pth", YOLACT_ERR_LIMIT, "tensor 'w' (1099511627776 elements) exceeds what the file's size allows"},
    {"stride0_overflow.pth", YOLACT_ERR_LIMIT, "tensor 'w': element count overflows"},
    {"negative_shape.pth", YOLACT_ERR_FORMAT, "tensor size holds a negative int"},
    {"zip_overlapping_bomb.pth", YOLACT_ERR_LIMIT, "zip storages inflate to more than the file's size allows"},
};

START_TEST(hostile_checkpoints_are_refused)
{
    const struct hostile_file *c = &hostile_files[_i];
    char path[256];
    snprintf(path, sizeof path, HOSTILE_DIR "%s", c->file);
    yl_tensor_table table;
    ck_assert_status(yl_weights_read(path, &table), c->status);
    ck_assert_msg(strstr(yolact_last_error(), c->message), "%s: '%s' does not contain '%s'",
                  c->file, yolact_last_error(), c->message);
    ck_assert_ptr_null(table.tensors);
}
END_TEST

/* ---- images claiming sizes -------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    put_be32(out, n);
    memcpy(out + 4, type, 4);
    if (n)
        memcpy(out + 8, data, n);
    put_be32(out + 8 + n, (uint32_t)crc32(0, out + 4, 4 + n));
    return 12 + n;
}

/* A PNG claiming w x h RGB8 whose data is one compressed row of a single pixel: whatever
 * it claims, the decoder must refuse from the header, before allocating pixels. */
static size_t png_claiming(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    uint8_t ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    uint8_t row[4] = {0}, idat[64];
    uLongf idat_size = sizeof idat;
    ck_assert_int_eq(compress(idat, &idat_size, row, sizeof row), Z_OK);
    size_t n = 8;
    n += png_chunk(out + n, "IHDR", ihdr, 13);
    n += png_chunk(out + n, "IDAT", idat, (uint32_t)idat_size);
    n += png_chunk(out + n, "IEND", NULL, 0);
    return n;
}

START_TEST(image_size_claims_are_refused_before_allocation)
{
    /* 100000 x 100000 would be 30 GB of pixels; 20000 x 20000 is within the side limit and
     * beyond the pixel limit. The files hold one pixel: any status but LIMIT (FORMAT for
     * the missing rows) would mean the claim was believed. */
    static const uint32_t claims[][2] = {{100000, 100000}, {20000, 20000}, {65536, 1}};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        uint8_t png[160];
        size_t n = png_claiming(png, claims[i][0], claims[i][1]);
        yolact_image image = {0};
        ck_assert_status(yl_image_decode_memory(png, n, "claim.png", &image), YOLACT_ERR_LIMIT);
        ck_assert_ptr_null(image.data);
        char dims[64];
        snprintf(dims, sizeof dims, "%ux%u", claims[i][0], claims[i][1]);
        ck_assert_msg(strstr(yolact_last_error(), dims), "'%s' does not name %s",
                      yolact_last_error(), dims);
    }
}
END_TEST

/* The limits are settable: lowered, a file and an image the defaults accept are refused with
 * LIMIT; a value out of range changes nothing; restored, both load again. */
START_TEST(limits_are_settable)
{
    yolact_limits defaults, tight, bad;
    yolact_limits_get(&defaults);
    ck_assert_int_eq(defaults.max_image_side, YOLACT_MAX_IMAGE_SIDE);
    ck_assert(defaults.max_image_pixels == YOLACT_MAX_IMAGE_PIXELS);
    ck_assert(defaults.max_weights_bytes == YOLACT_MAX_WEIGHTS_BYTES);

    uint8_t png[160];
    size_t n = png_claiming(png, 300, 200);
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = "yolact_resnet50";
    yolact_model *m = NULL;
    yolact_image image = {0};

    tight = defaults;
    tight.max_image_side = 299;
    ck_assert_status(yolact_limits_set(&tight), YOLACT_OK);
    ck_assert_status(yl_image_decode_memory(png, n, "wide.png", &image), YOLACT_ERR_LIMIT);
    tight.max_image_side = defaults.max_image_side;
    tight.max_image_pixels = 300 * 200 - 1;
    ck_assert_status(yolact_limits_set(&tight), YOLACT_OK);
    ck_assert_status(yl_image_decode_memory(png, n, "many.png", &image), YOLACT_ERR_LIMIT);
    tight.max_image_pixels = defaults.max_image_pixels;
    tight.max_weights_bytes = 1000;
    ck_assert_status(yolact_limits_set(&tight), YOLACT_OK);
    ck_assert_status(yolact_model_load(WEIGHTS, &mo, &m), YOLACT_ERR_LIMIT);
    ck_assert_ptr_null(m);

    for (int which = 0; which < 3; which++) {
        bad = defaults;
        if (which == 0)
            bad.max_image_side = 65536;
        else if (which == 1)
            bad.max_image_pixels = 0;
        else
            bad.max_weights_bytes = -1;
        ck_assert_status(yolact_limits_set(&bad), YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_status(yolact_limits_set(NULL), YOLACT_ERR_INVALID_ARGUMENT);
    }
    yolact_limits now;
    yolact_limits_get(&now);
    ck_assert(now.max_weights_bytes == 1000);

    ck_assert_status(yolact_limits_set(&defaults), YOLACT_OK);
    ck_assert_status(yolact_model_load(WEIGHTS, &mo, &m), YOLACT_OK);
    yolact_model_free(m);
    /* The one-pixel file's claim passes again (whatever its missing rows then give). */
    yolact_status st = yl_image_decode_memory(png, n, "fine.png", &image);
    ck_assert_int_ne(st, YOLACT_ERR_LIMIT);
    if (st == YOLACT_OK)
        yolact_image_free_pixels(&image);
}
END_TEST

/* ---- sessions: strides, options, the detection cap ------------------------------------ */

START_TEST(bad_images_are_refused_at_detect)
{
    yolact_model *m = yl_test_parity_model();
    yolact_session *s;
    ck_assert_status(yolact_session_create(m, NULL, &s), YOLACT_OK);
    static uint8_t pixels[3 * 16 * 16];
    const yolact_result *r;
    /* A stride shorter than a row. */
    yolact_image img = {pixels, 16, 16, 3 * 16 - 1, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.stride = 3 * 16;
    img.width = YOLACT_MAX_IMAGE_SIDE + 1;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.width = 0;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.width = 16;
    img.data = NULL;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.data = pixels;
    img.format = (yolact_pixel_format)7;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.format = YOLACT_PIXEL_RGB8;
    img.memory = (yolact_memory)2;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_ERR_INVALID_ARGUMENT);
    img.memory = YOLACT_MEMORY_HOST;
    ck_assert_status(yolact_session_detect(s, &img, &r), YOLACT_OK);
    yolact_session_free(s);
    yolact_model_free(m);
}
END_TEST

/* Each option pushed out of its documented range, one at a time. */
static void set_bad_option(yolact_session_options *o, int which)
{
    switch (which) {
    case 0: o->backend = (yolact_backend)3; break;
    case 1: o->precision = (yolact_precision)-1; break;
    case 2: o->device_index = -1; break;
    case 3: o->num_threads = -1; break;
    case 4: o->num_threads = 1025; break;
    case 5: o->score_threshold = 1.5f; break;
    case 6: o->score_threshold = 0.0f / 0.0f; break;
    case 7: o->top_k = 0; break;
    case 8: o->top_k = 10001; break;
    case 9: o->max_detections = 0; break;
    case 10: o->max_detections = 10001; break;
    case 11: o->conf_threshold = 1.0f; break;
    case 12: o->conf_threshold = -0.1f; break;
    case 13: o->nms_threshold = 0.0f; break;
    case 14: o->nms_threshold = 1.01f; break;
    case 15: o->struct_size = sizeof *o - 1; break;
    case 16: o->batch_size = 0; break;
    case 17: o->batch_size = YOLACT_MAX_BATCH_SIZE + 1; break;
    }
}
#define NUM_BAD_OPTIONS 18

START_TEST(options_out_of_range_are_refused_at_creation)
{
    yolact_model *m = yl_test_parity_model();
    for (int i = 0; i < NUM_BAD_OPTIONS; i++) {
        yolact_session_options o;
        yolact_session_options_init(&o);
        set_bad_option(&o, i);
        yolact_session *s = (yolact_session *)&o;
        yolact_status st = yolact_session_create(m, &o, &s);
        ck_assert_msg(st == YOLACT_ERR_INVALID_ARGUMENT, "bad option %d: status %d (%s)", i,
                      (int)st, yolact_last_error());
        ck_assert_ptr_null(s);
    }
    yolact_model_free(m);
}
END_TEST

/* max_detections caps the result at run time: the capped run gives the first detections
 * of the uncapped one, it is not refused. */
START_TEST(detections_are_capped_not_refused)
{
    yolact_model *m = yl_test_parity_model();
    yolact_image img;
    ck_assert_status(yolact_image_load(YL_TEST_DATA "/parity/coffee.png", &img), YOLACT_OK);
    yolact_session_options o;
    yolact_session_options_init(&o);
    yolact_session *all, *capped;
    ck_assert_status(yolact_session_create(m, &o, &all), YOLACT_OK);
    o.max_detections = 3;
    ck_assert_status(yolact_session_create(m, &o, &capped), YOLACT_OK);
    const yolact_result *ra, *rc;
    ck_assert_status(yolact_session_detect(all, &img, &ra), YOLACT_OK);
    ck_assert_status(yolact_session_detect(capped, &img, &rc), YOLACT_OK);
    ck_assert_msg(ra->count > 3, "only %d detections uncapped", ra->count);
    ck_assert_int_eq(rc->count, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(rc->detections[i].score == ra->detections[i].score &&
                          rc->detections[i].class_index == ra->detections[i].class_index,
                      "capped detection %d: class %d score %g, uncapped class %d score %g", i,
                      rc->detections[i].class_index, rc->detections[i].score,
                      ra->detections[i].class_index, ra->detections[i].score);
    yolact_session_free(all);
    yolact_session_free(capped);
    yolact_image_free_pixels(&img);
    yolact_model_free(m);
}
END_TEST

static void open_scratch(void) { scratch_open("yl_hostile"); }

Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_add_loop_test(tc, calling_any_other_global_is_refused_unrun, 0, 2 * NUM_GLOBALS);
    tcase_add_loop_test(tc, hostile_checkpoints_are_refused, 0,
                        (int)(sizeof hostile_files / sizeof hostile_files[0]));
    tcase_add_test(tc, image_size_claims_are_refused_before_allocation);
    tcase_add_test(tc, limits_are_settable);
    tcase_add_test(tc, bad_images_are_refused_at_detect);
    tcase_add_test(tc, options_out_of_range_are_refused_at_creation);
    tcase_add_test(tc, detections_are_capped_not_refused);
    suite_add_tcase(s, tc);
    return s;
}
