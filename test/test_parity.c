/* Parity with the official implementation on the CPU backend: the parity checkpoint on
 * both bundled images must give the official detections within the gate of
 * ../shared/tools/compare.py, and the raw network outputs of coffee.png must agree with
 * the official ones within 1e-3 of each tensor's largest magnitude. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "npz.h"
#include "parity_gate.h"
#include "yl_test.h"

#define PARITY YL_TEST_DATA "/parity/"
#define CHECKPOINT PARITY "yolact_tiny_seed1_fp16_zip.pth"

/* The CPU thresholds of the parity issue: score 2e-3, box 1 px, mask IoU 0.97 or <= 2 px. */
static const parity_tolerance cpu_tolerance = {0.1, 2e-3, 1.0, 0.97, 2, 1e-2};

static yolact_model *load_parity_model(void)
{
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = "yolact_resnet50";
    yolact_model *m = NULL;
    ck_assert_status(yolact_model_load(CHECKPOINT, &mo, &m), YOLACT_OK);
    return m;
}

static yolact_session *cpu_session(const yolact_model *m)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CPU;
    yolact_session *s = NULL;
    ck_assert_status(yolact_session_create(m, &so, &s), YOLACT_OK);
    return s;
}

static void check_image(const char *name)
{
    char path[256];
    yolact_model *m = load_parity_model();
    yolact_session *s = cpu_session(m);
    yolact_image image;
    snprintf(path, sizeof path, PARITY "%s.png", name);
    ck_assert_status(yolact_image_load(path, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);

    ref_detection *ref;
    snprintf(path, sizeof path, PARITY "%s.json", name);
    int n = ref_json_read(path, &ref);
    ck_assert_msg(n > 0, "cannot read %s", path);
    char report[8192];
    int pass = parity_gate(ref, n, r, &cpu_tolerance, report, sizeof report);
    printf("parity %s (CPU): %s", name, report);
    ck_assert_msg(pass, "%s: parity gate failed:\n%s", name, report);

    ref_json_free(ref, n);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yolact_model_free(m);
}

START_TEST(parity_astronaut) { check_image("astronaut"); }
END_TEST

START_TEST(parity_coffee) { check_image("coffee"); }
END_TEST

/* Largest |ours - ref| over rows of a (rows x cols) reference whose row r is our row
 * index[r] (all rows when index is NULL), against 1e-3 of the reference's largest
 * magnitude. */
static void compare_rows(const char *what, const float *ours, const yl_npy *ref,
                         const int32_t *index)
{
    size_t rows = ref->shape[0], cols = ref->count / rows;
    const float *r = ref->data;
    double max_ref = 0, worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < ref->count; i++)
        max_ref = fmax(max_ref, fabs(r[i]));
    for (size_t i = 0; i < rows; i++)
        for (size_t c = 0; c < cols; c++) {
            size_t row = index ? (size_t)index[i] : i;
            double d = fabs((double)ours[row * cols + c] - r[i * cols + c]);
            if (d > worst) {
                worst = d;
                worst_at = i * cols + c;
            }
        }
    printf("raw %s: max |diff| %.3g (limit %.3g)\n", what, worst, 1e-3 * max_ref);
    ck_assert_msg(worst <= 1e-3 * max_ref, "%s differs by %.4g at element %zu (ref %.6g, "
                  "ours %.6g), limit %.4g", what, worst, worst_at, r[worst_at],
                  ours[(index ? (size_t)index[worst_at / cols] : worst_at / cols) * cols +
                       worst_at % cols], 1e-3 * max_ref);
}

START_TEST(raw_outputs_coffee)
{
    yolact_model *m = load_parity_model();
    yolact_session *s = cpu_session(m);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY "coffee.png", &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    yl_network_outputs out;
    ck_assert_status(yl_session_network_outputs(s, &out), YOLACT_OK);

    static const char *const keys[] = {"prior_index", "loc", "conf", "mask", "proto", "priors"};
    yl_npy a[6];
    for (int i = 0; i < 6; i++) {
        const char *err = yl_npz_read(PARITY "coffee.raw_top2000.npz", keys[i], &a[i]);
        ck_assert_msg(err == NULL, "%s: %s", keys[i], err ? err : "");
    }
    ck_assert_int_eq(a[5].shape[0], m->num_priors);
    const int32_t *index = a[0].data;
    compare_rows("loc", out.loc, &a[1], index);
    compare_rows("conf", out.conf, &a[2], index);
    compare_rows("mask coefficients", out.coeff, &a[3], index);
    compare_rows("proto", out.proto, &a[4], NULL);
    compare_rows("priors", m->priors, &a[5], NULL);
    for (int i = 0; i < 6; i++)
        yl_npy_free(&a[i]);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yolact_model_free(m);
}
END_TEST

Suite *parity_suite(void)
{
    Suite *s = suite_create("parity");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, parity_astronaut);
    tcase_add_test(tc, parity_coffee);
    tcase_add_test(tc, raw_outputs_coffee);
    suite_add_tcase(s, tc);
    return s;
}
