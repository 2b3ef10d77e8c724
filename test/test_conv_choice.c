/* The CPU's per-layer convolution choice (lib/cpu/conv_choice.h) through sessions of the
 * parity network: YOLACT_CPU_CONV's modes, auto mode's timing made once per thread count and
 * shared, and training's forward pass on the fixed rule whatever the mode. Each algorithm's
 * accuracy is the op table's (test/ops/op_cases.c, "conv by ..."); the network's, the
 * parity suite's cpu_conv_modes test. */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cpu/conv_choice.h"
#include "cpu/dense_ops.h"
#include "cpu/prepared_weights.h"
#include "cpu/training_forward.h"
#include "model/model.h"
#include "profile.h"
#include "yl_test.h"

#define PARITY_IMAGE YL_TEST_DATA "/parity/coffee.png"

/* A CPU session of m in mode (YOLACT_CPU_CONV) with threads threads, or the status of its
 * creation when it fails (*session NULL then). */
static yolact_status cpu_session(const yolact_model *m, const char *mode, int threads,
                                 yolact_session **session)
{
    yolact_session_options o;
    yolact_session_options_init(&o);
    o.backend = YOLACT_BACKEND_CPU;
    o.num_threads = threads;
    setenv("YOLACT_CPU_CONV", mode, 1);
    yolact_status s = yolact_session_create(m, &o, session);
    setenv("YOLACT_CPU_CONV", "fixed", 1);
    return s;
}

static void algorithms(const yolact_session *s, char *out, size_t n)
{
    ck_assert_status(yl_session_conv_algorithms(s, out, n), YOLACT_OK);
}

/* The fixed rule's letters: w where a convolution has prepared (Winograd) weights. */
static void fixed_rule(const yolact_model *m, char *out)
{
    const yl_cpu_prepared *p;
    ck_assert_status(yl_cpu_prepared_acquire(m, &p), YOLACT_OK);
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            *out++ = p->op[i] ? 'w' : 'g';
    *out = '\0';
    yl_cpu_prepared_release(m, p);
}

START_TEST(unknown_modes_are_refused)
{
    yolact_model *m = yl_test_parity_model();
    yolact_session *s = NULL;
    ck_assert_status(cpu_session(m, "fastest", 1, &s), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(yolact_last_error(), "YOLACT_CPU_CONV=fastest") != NULL, "%s",
                  yolact_last_error());
    if (!yl_onednn_available()) {
        ck_assert_status(cpu_session(m, "onednn", 1, &s), YOLACT_ERR_UNSUPPORTED);
        yl_onednn_conv *conv;
        const yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
        const float w[4 * 4 * 9] = {0};
        ck_assert_status(yl_onednn_conv_create(&d, 5, 5, w, NULL, 0, YL_ACT_NONE, &conv),
                         YOLACT_ERR_UNSUPPORTED);
        ck_assert_ptr_null(conv);
    }
    yolact_model_free(m);
}
END_TEST

/* Each forced mode runs its algorithm wherever it applies and the fixed rule elsewhere. */
START_TEST(modes_pick_their_algorithms)
{
    yolact_model *m = yl_test_parity_model();
    char want[512], got[512];
    fixed_rule(m, want);
    ck_assert_uint_gt(strlen(want), 10);
    static const char *const modes[] = {"fixed", "gemm", "winograd", "onednn"};
    for (int k = 0; k < 4; k++) {
        if (k == 3 && !yl_onednn_available())
            continue;
        yolact_session *s;
        ck_assert_status(cpu_session(m, modes[k], 1, &s), YOLACT_OK);
        algorithms(s, got, sizeof got);
        ck_assert_uint_eq(strlen(got), strlen(want));
        for (size_t i = 0; i < strlen(want); i++) {
            char expect = k == 1 ? 'g' : k == 3 ? 'o' : want[i];
            ck_assert_msg(got[i] == expect, "YOLACT_CPU_CONV=%s: convolution %zu runs '%c', "
                          "expected '%c' (%s)", modes[k], i, got[i], expect, got);
        }
        yolact_session_free(s);
    }
    yolact_model_free(m);
}
END_TEST

/* Auto mode times once per thread count: a second session takes the first one's choice
 * (the same letters, and the same detections bit for bit), Winograd only where it applies.
 * Without a mode, a session runs the fixed rule. */
START_TEST(auto_choice_is_timed_once_and_shared)
{
    yolact_model *m = yl_test_parity_model();
    char rule[512], first[512], second[512];
    fixed_rule(m, rule);
    yolact_session *a, *b, *unset;
    ck_assert_status(cpu_session(m, "auto", 1, &a), YOLACT_OK);
    ck_assert_status(cpu_session(m, "auto", 1, &b), YOLACT_OK);
    ck_assert_status(cpu_session(m, "", 1, &unset), YOLACT_OK); /* unset or empty: fixed */
    algorithms(a, first, sizeof first);
    algorithms(b, second, sizeof second);
    char default_letters[512];
    algorithms(unset, default_letters, sizeof default_letters);
    yolact_session_free(unset);
    ck_assert_str_eq(default_letters, rule);
    printf("conv_choice: auto at 1 thread: %s (fixed rule %s)\n", first, rule);
    ck_assert_str_eq(first, second);
    for (size_t i = 0; i < strlen(rule); i++)
        ck_assert_msg(first[i] != 'w' || rule[i] == 'w', "convolution %zu: Winograd where it "
                      "does not apply (%s)", i, first);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY_IMAGE, &image), YOLACT_OK);
    const yolact_result *ra, *rb;
    ck_assert_status(yolact_session_detect(a, &image, &ra), YOLACT_OK);
    ck_assert_status(yolact_session_detect(b, &image, &rb), YOLACT_OK);
    ck_assert_int_gt(ra->count, 0);
    ck_assert_int_eq(ra->count, rb->count);
    for (int i = 0; i < ra->count; i++) {
        const yolact_detection *x = &ra->detections[i], *y = &rb->detections[i];
        ck_assert_int_eq(x->class_index, y->class_index);
        ck_assert_mem_eq(&x->score, &y->score, sizeof x->score);
        ck_assert_mem_eq(&x->x1, &y->x1, 4 * sizeof x->x1);
        ck_assert_mem_eq(x->mask, y->mask, x->mask_stride * (size_t)ra->height);
    }
    yolact_image_free_pixels(&image);
    yolact_session_free(a);
    yolact_session_free(b);
    yolact_model_free(m);
}
END_TEST

/* Training's forward pass runs the fixed rule whatever YOLACT_CPU_CONV says (its gradients'
 * tolerances were measured on it): its prototypes and box offsets are a fixed session's,
 * bit for bit, under another mode. */
START_TEST(training_runs_the_fixed_rule)
{
    yolact_model *m = yl_test_parity_model();
    yolact_session *s;
    ck_assert_status(cpu_session(m, "fixed", 1, &s), YOLACT_OK);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY_IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    yl_network_outputs want;
    ck_assert_status(yl_session_network_outputs(s, &want), YOLACT_OK);

    setenv("YOLACT_CPU_CONV", yl_onednn_available() ? "onednn" : "gemm", 1);
    yl_training_forward *f;
    ck_assert_status(yl_cpu_training_forward_create(m, 1, &f), YOLACT_OK);
    yl_preprocess_cpu(&image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                      yl_input_std_bgr, f->buffers[0]);
    ck_assert_status(yl_cpu_training_forward(f), YOLACT_OK);
    setenv("YOLACT_CPU_CONV", "fixed", 1);
    ck_assert_mem_eq(f->proto, want.proto,
                     (size_t)m->proto_h * m->proto_w * m->num_prototypes * sizeof(float));
    ck_assert_mem_eq(f->loc, want.loc, (size_t)m->num_priors * 4 * sizeof(float));
    yl_cpu_training_forward_destroy(f);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yolact_model_free(m);
}
END_TEST

Suite *conv_choice_suite(void)
{
    Suite *s = suite_create("conv_choice");
    TCase *tc = tcase_create("modes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, unknown_modes_are_refused);
    tcase_add_test(tc, modes_pick_their_algorithms);
    suite_add_tcase(s, tc);
    /* Tagged "slow": auto mode's timing runs each layer's candidates several times, over
     * 15 minutes under valgrind (ASan runs them). */
    tc = tcase_create("frames");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, auto_choice_is_timed_once_and_shared);
    tcase_add_test(tc, training_runs_the_fixed_rule);
    suite_add_tcase(s, tc);
    return s;
}
