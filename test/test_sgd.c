/* The optimizer (lib/train/sgd.h, lr_schedule.h) bit for bit against PyTorch 1.13's
 * torch.optim.SGD and train.py's learning rates: test/data/sgd/sgd.npz, written by
 * test/fixtures/make_sgd_fixture.py (the rates as the bits of float64s, "<i8"). */
#include <stdio.h>
#include <string.h>

#include "parity_raw.h"
#include "train/lr_schedule.h"
#include "train/sgd.h"
#include "yl_test.h"

#define SGD_NPZ YL_TEST_DATA "/sgd/sgd.npz"

static const struct {
    const char *name;
    yl_sgd_options opt;     /* lr set per step */
} cases[] = {
    {"plain", {0, 0.0, 0.0, 0.0, 0}},
    {"decay", {0, 0.0, 0.0, 5e-4, 0}},
    {"momentum", {0, 0.9, 0.0, 0.0, 0}},
    {"official", {0, 0.9, 0.0, 5e-4, 0}},
    {"dampened", {0, 0.9, 0.3, 1e-2, 0}},
    {"nesterov", {0, 0.9, 0.0, 5e-4, 1}},
};

static void load(const char *name, const char *what, const char *dtype, yl_npy *a)
{
    char key[64];
    snprintf(key, sizeof key, "%s%s", name, what);
    yl_test_load_npz(SGD_NPZ, key, dtype, a);
}

/* The same bits, or the first element that differs. */
static void assert_bits(const float *got, const float *want, size_t n, const char *what,
                        const char *name, int step)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
                      "%s, step %d: %s[%zu] = %.9g, torch %.9g", name, step, what, i,
                      (double)got[i], (double)want[i]);
}

START_TEST(test_sgd_matches_torch)
{
    yl_npy lrs, p0, grads, params, bufs;
    yl_test_load_npz(SGD_NPZ, "step_lrs", "<i8", &lrs);
    load(cases[_i].name, "_p0", "<f4", &p0);
    load(cases[_i].name, "_grads", "<f4", &grads);
    load(cases[_i].name, "_params", "<f4", &params);
    load(cases[_i].name, "_bufs", "<f4", &bufs);
    size_t n = p0.count, steps = lrs.count;
    ck_assert_uint_eq(grads.count, steps * 2 * n);
    ck_assert_uint_eq(params.count, steps * n);
    float *p = p0.data, *buf = calloc(n, sizeof *buf), *g = malloc(n * sizeof *g);
    int first = 1;
    yl_sgd_options opt = cases[_i].opt;
    for (size_t s = 0; s < steps; s++) {
        const float *sub = (const float *)grads.data + s * 2 * n;
        memcpy(g, sub, n * sizeof *g);
        yl_grad_accumulate(n, g, sub + n);
        opt.lr = ((const double *)lrs.data)[s];
        ck_assert_status(yl_sgd_step(&opt, n, p, g, buf, &first), YOLACT_OK);
        assert_bits(p, (const float *)params.data + s * n, n, "param", cases[_i].name, (int)s);
        if (opt.momentum != 0.0)
            assert_bits(buf, (const float *)bufs.data + s * n, n, "buffer", cases[_i].name,
                        (int)s);
    }
    free(buf);
    free(g);
    yl_npy_free(&lrs);
    yl_npy_free(&p0);
    yl_npy_free(&grads);
    yl_npy_free(&params);
    yl_npy_free(&bufs);
}
END_TEST

START_TEST(test_sgd_refuses_bad_options)
{
    float p = 1.0f, g = 1.0f, b = 0.0f;
    int first = 1;
    yl_sgd_options nesterov_alone = {0.1, 0.0, 0.0, 0.0, 1};
    ck_assert_status(yl_sgd_step(&nesterov_alone, 1, &p, &g, &b, &first),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yl_sgd_options dampened = {0.1, 0.9, 0.5, 0.0, 1};
    ck_assert_status(yl_sgd_step(&dampened, 1, &p, &g, &b, &first),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yl_sgd_options momentum = {0.1, 0.9, 0.0, 0.0, 0};
    ck_assert_status(yl_sgd_step(&momentum, 1, &p, &g, NULL, &first),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yl_sgd_options negative = {-0.1, 0.0, 0.0, 0.0, 0};
    ck_assert_status(yl_sgd_step(&negative, 1, &p, &g, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert(p == 1.0f && first == 1);     /* nothing written */
}
END_TEST

/* train.py's rates for a fresh run and for one resumed past the first step. */
START_TEST(test_lr_schedule_matches_train_py)
{
    static const int steps[] = {8, 12};
    const char *keys[] = {"lr_fresh", "lr_resumed"};
    const int starts[] = {0, 10};
    for (int k = 0; k < 2; k++) {
        yl_npy want;
        yl_test_load_npz(SGD_NPZ, keys[k], "<i8", &want);
        yl_lr_schedule s;
        yl_lr_schedule_init(&s, 1e-3, 0.1, 1e-4, 5, steps, 2);
        for (size_t i = 0; i < want.count; i++) {
            double got = yl_lr_schedule_at(&s, starts[k] + (int)i);
            double w = ((const double *)want.data)[i];
            ck_assert_msg(memcmp(&got, &w, sizeof got) == 0, "%s: iteration %d: %.17g, %.17g",
                          keys[k], starts[k] + (int)i, got, w);
        }
        yl_npy_free(&want);
    }
}
END_TEST

Suite *sgd_suite(void)
{
    Suite *s = suite_create("sgd");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_sgd_matches_torch, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_sgd_refuses_bad_options);
    tcase_add_test(tc, test_lr_schedule_matches_train_py);
    suite_add_tcase(s, tc);
    return s;
}
