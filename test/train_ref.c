/* The training parity reference's readers and tolerances (train_ref.h). */
#include "train_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yl_test.h"

const char *const yl_train_ref_images[YL_TRAIN_REF_BATCH] = {"astronaut", "coffee"};

/* The number after the keys of path, each searched for after the previous one, in text. */
double yl_json_number(const char *text, const char *const *path, int depth)
{
    const char *at = text;
    for (int i = 0; i < depth; i++) {
        char key[160];
        snprintf(key, sizeof key, "\"%s\"", path[i]);
        at = strstr(at, key);
        ck_assert_msg(at != NULL, "no key %s", key);
        at += strlen(key);
    }
    at = strchr(at, ':');
    ck_assert_ptr_nonnull(at);
    return strtod(at + 1, NULL);
}

char *yl_read_text(const char *path)
{
    size_t n;
    char *text = (char *)yl_test_read_file(path, &n);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    text = realloc(text, n + 1);
    text[n] = '\0';
    return text;
}

/* Relative L2 error of got against the reference array key of the npz at path. */
static double rel_l2(const char *path, const double *got, size_t n, const char *key)
{
    yl_npy ref;
    const char *err = yl_npz_read(path, key, &ref);
    ck_assert_msg(err == NULL, "%s: %s", key, err);
    ck_assert_uint_eq(ref.count, n);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double r = ((const float *)ref.data)[i];
        num += (got[i] - r) * (got[i] - r);
        den += r * r;
    }
    yl_npy_free(&ref);
    return sqrt(num / den);
}

double yl_train_ref_rel_l2(const double *got, size_t n, const char *key)
{
    return rel_l2(YL_TRAIN_REF_DATA "/grads.npz", got, n, key);
}

/* One parameter's gradient against grads.npz: its L2 norm, the 32 sampled entries (in units
 * of its max |g|) and, where the reference has it, the whole tensor, each as a ratio of
 * error to tolerance (max(base, 5 x spread)) put into worst[3] when larger. */
void yl_train_ref_check_grad(const char *spread, const char *name, const float *got,
                             size_t n, double worst[3], const char *worst_name[3])
{
    yl_train_ref_check_grad_in(YL_TRAIN_REF_DATA, spread, name, got, n, worst, worst_name);
}

void yl_train_ref_check_grad_in(const char *dir, const char *spread, const char *name,
                                const float *got, size_t n, double worst[3],
                                const char *worst_name[3])
{
    char key[200], path[256];
    snprintf(path, sizeof path, "%s/grads.npz", dir);
    yl_npy stats, idx, at, full;
    snprintf(key, sizeof key, "%s/stats", name);
    const char *err = yl_npz_read(path, key, &stats);
    ck_assert_msg(err == NULL, "%s: %s", key, err);
    snprintf(key, sizeof key, "%s/idx", name);
    ck_assert(yl_npz_read(path, key, &idx) == NULL);
    snprintf(key, sizeof key, "%s/at", name);
    ck_assert(yl_npz_read(path, key, &at) == NULL);
    const double *st = stats.data;
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        norm += (double)got[i] * got[i];
    norm = sqrt(norm);
    const char *np[] = {"grads", name, "norm"}, *sp[] = {"grads", name, "sampled"};
    double ratio[3] = {fabs(norm - st[0]) / st[0] / fmax(3e-3, 5 * yl_json_number(spread, np, 3)),
                       0, 0};
    const double sampled_tol = fmax(5e-3, 5 * yl_json_number(spread, sp, 3)) * st[2];
    for (size_t j = 0; j < idx.count; j++) {
        int64_t i = ((const int64_t *)idx.data)[j];
        ck_assert(i >= 0 && (size_t)i < n);
        double r = fabs(got[i] - ((const double *)at.data)[j]) / sampled_tol;
        ratio[1] = fmax(ratio[1], r);
    }
    snprintf(key, sizeof key, "%s/full", name);
    if (yl_npz_read(path, key, &full) == NULL) {
        yl_npy_free(&full);
        double *g = malloc(n * sizeof *g);
        for (size_t i = 0; i < n; i++)
            g[i] = got[i];
        const char *fp[] = {"grads", name, "full"};
        ratio[2] = rel_l2(path, g, n, key) / fmax(1e-3, 5 * yl_json_number(spread, fp, 3));
        free(g);
    }
    for (int k = 0; k < 3; k++) {
        if (ratio[k] > worst[k]) {
            worst[k] = ratio[k];
            worst_name[k] = name;
        }
    }
    ck_assert_msg(ratio[0] <= 1 && ratio[1] <= 1 && ratio[2] <= 1,
                  "%s: norm %.8g official %.8g; error / tolerance: norm %.3g, sampled %.3g, "
                  "full %.3g", name, norm, st[0], ratio[0], ratio[1], ratio[2]);
    yl_npy_free(&stats);
    yl_npy_free(&idx);
    yl_npy_free(&at);
}

/* losses_before_each_step[step]'s "total" in text (sgd.json, spread.json). */
double yl_train_ref_step_total(const char *text, int step)
{
    const char *at = strstr(text, "\"losses_before_each_step\"");
    ck_assert_ptr_nonnull(at);
    for (int i = 0; i < step; i++) {
        at = strstr(at, "\"total\"");
        ck_assert_ptr_nonnull(at);
        at += 7;
    }
    const char *path[] = {"total"};
    return yl_json_number(at, path, 1);
}


int yl_train_ref_objects(const char *json, const char *name, yl_npy *m, yolact_gt_object *obj,
                         int cap)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *at = strstr(json, key);
    ck_assert_ptr_nonnull(at);
    const char *err = yl_npz_read(YL_TRAIN_REF_DATA "/gt_masks.npz", name, m);
    ck_assert_msg(err == NULL, "%s", err);
    int n = (int)m->shape[0], h = (int)m->shape[1], w = (int)m->shape[2];
    ck_assert_int_le(n, cap);
    for (int i = 0; i < n; i++) {
        at = strstr(at, "\"label\":");
        obj[i].label = (int)strtol(at + 8, NULL, 10);
        at = strstr(at, "\"box\": [") + 8;
        float box[4];
        for (int d = 0; d < 4; d++) {
            char *end;
            box[d] = (float)strtod(at, &end);
            at = end + 1;
        }
        obj[i].x1 = box[0], obj[i].y1 = box[1], obj[i].x2 = box[2], obj[i].y2 = box[3];
        at = strstr(at, "\"crowd\":") + 8;
        obj[i].crowd = strncmp(at, " true", 5) == 0;
        obj[i].mask = (const uint8_t *)m->data + (size_t)i * h * w;
    }
    return n;
}

void yl_train_ref_check_losses(const char *who, const double got[5])
{
    yl_train_ref_check_losses_in(YL_TRAIN_REF_DATA, who, got);
}

void yl_train_ref_check_losses_in(const char *dir, const char *who, const double got[5])
{
    char path[256];
    snprintf(path, sizeof path, "%s/losses.json", dir);
    char *ref = yl_read_text(path);
    snprintf(path, sizeof path, "%s/spread.json", dir);
    char *spread = yl_read_text(path);
    const char *names[5] = {"B", "C", "M", "S", "total"};
    for (int i = 0; i < 5; i++) {
        const char *rp[] = {"losses", names[i]}, *sp[] = {"losses_before_each_step", names[i]};
        double want = yl_json_number(ref, rp, 2);
        double tol = fmax(1e-3, 5 * yl_json_number(spread, sp, 2));
        double e = fabs(got[i] - want) / fabs(want);
        printf("%s: %s %.8g official %.8g relative %.3g (tolerance %.3g)\n", who, names[i],
               got[i], want, e, tol);
        ck_assert_msg(e <= tol, "%s = %.8g, official %.8g: relative %g > %g", names[i], got[i],
                      want, e, tol);
    }
    free(ref);
    free(spread);
}
