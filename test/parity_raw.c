/* The parity image's raw network outputs, expanded to every prior (see parity_raw.h). */
#include "parity_raw.h"

#include <string.h>

#include "yl_test.h"

void yl_test_load_npz(const char *path, const char *key, const char *dtype, yl_npy *a)
{
    const char *err = yl_npz_read(path, key, a);
    ck_assert_msg(err == NULL, "%s[%s]: %s", path, key, err ? err : "");
    ck_assert_msg(strcmp(a->dtype, dtype) == 0, "%s[%s]: dtype %s, expected %s", path, key,
                  a->dtype, dtype);
}

void yl_parity_raw_load(yl_parity_raw *r)
{
    memset(r, 0, sizeof *r);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "loc", "<f4", &r->loc);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "conf", "<f4", &r->conf);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "mask", "<f4", &r->mask);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "prior_index", "<i4", &r->index);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "proto", "<f4", &r->proto);
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "priors", "<f4", &r->priors);
    const size_t rows = r->index.count;
    ck_assert_msg(r->priors.ndim == 2 && r->priors.shape[1] == 4 && r->priors.shape[0] > 0 &&
                  r->priors.shape[0] < (1u << 30), "priors: unexpected shape");
    ck_assert_msg(r->conf.ndim == 2 && r->conf.shape[0] == rows && r->conf.shape[1] >= 2 &&
                  r->conf.shape[1] < 1024, "conf: unexpected shape");
    ck_assert_msg(r->loc.count == rows * 4, "loc: %zu values for %zu rows", r->loc.count, rows);
    const size_t np = r->priors.shape[0], nc = r->conf.shape[1];
    r->num_priors = (int)np;
    r->num_classes = (int)nc;
    r->full_loc = calloc(np * 4, sizeof(float));
    r->full_conf = calloc(np * nc, sizeof(float));
    ck_assert_msg(r->full_loc && r->full_conf, "out of memory");
    for (size_t i = 0; i < np; i++)
        r->full_conf[i * nc] = 1.0f;
    const int32_t *idx = r->index.data;
    for (size_t i = 0; i < rows; i++) {
        ck_assert_msg(idx[i] >= 0 && (size_t)idx[i] < np, "prior_index[%zu] = %d", i, idx[i]);
        memcpy(r->full_loc + 4 * (size_t)idx[i], (float *)r->loc.data + 4 * i, 4 * sizeof(float));
        memcpy(r->full_conf + nc * (size_t)idx[i], (float *)r->conf.data + nc * i,
               nc * sizeof(float));
    }
}

void yl_parity_raw_free(yl_parity_raw *r)
{
    yl_npy_free(&r->loc);
    yl_npy_free(&r->conf);
    yl_npy_free(&r->mask);
    yl_npy_free(&r->index);
    yl_npy_free(&r->proto);
    yl_npy_free(&r->priors);
    free(r->full_loc);
    free(r->full_conf);
}
