/* The official network outputs of the parity image coffee.png, stored for its 2000 best
 * priors (test/data/parity/coffee.raw_top2000.npz), and expanded to every prior: the stored
 * rows where they are, background certainty (conf 1 for class 0, loc 0) elsewhere, so such
 * priors never become Detect candidates. Shared by the suites that run Detect on it. */
#ifndef YL_TEST_PARITY_RAW_H
#define YL_TEST_PARITY_RAW_H

#include "npz.h"

#define YL_PARITY_RAW_NPZ "test/data/parity/coffee.raw_top2000.npz"

typedef struct yl_parity_raw {
    yl_npy loc, conf, mask, index, proto, priors;   /* as stored */
    int num_priors, num_classes;
    float *full_loc, *full_conf;                    /* (num_priors, 4), (num_priors, C) */
} yl_parity_raw;

/* Load and expand; a failure is a Check assertion failure naming the file and array. */
void yl_parity_raw_load(yl_parity_raw *r);
void yl_parity_raw_free(yl_parity_raw *r);

/* Read array key of path, asserting its dtype ("<f4", "<i4", ...). */
void yl_test_load_npz(const char *path, const char *key, const char *dtype, yl_npy *a);

#endif
