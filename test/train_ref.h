/* The training parity reference (test/data/train/, a copy of the parity-train set): its
 * batch, its ground truth, and the README's tolerances (the base, or 5 x the official
 * run-to-run spread of spread.json, whichever is larger) applied to losses and gradients. */
#ifndef YL_TRAIN_REF_H
#define YL_TRAIN_REF_H

#include <stddef.h>

#include "npz.h"
#include "yolact.h"

#define YL_TRAIN_REF_DATA YL_TEST_DATA "/train"
#define YL_TRAIN_REF_BATCH 2

/* The batch's images, in order: YL_TEST_DATA "/parity/<name>.png". */
extern const char *const yl_train_ref_images[YL_TRAIN_REF_BATCH];

/* The number after the keys of path, each searched for after the previous one, in text. */
double yl_json_number(const char *text, const char *const *path, int depth);
/* A whole text file, NUL-terminated (a Check failure when it cannot be read). */
char *yl_read_text(const char *path);

/* gt.json's objects of image `name` (json: the file's text) into obj (at most cap), their
 * masks pointing into *masks (gt_masks.npz's stack, which the caller frees). Returns the
 * count. */
int yl_train_ref_objects(const char *json, const char *name, yl_npy *masks,
                         yolact_gt_object *obj, int cap);

/* B, C, M, S, total against losses.json; prints each as "<who>: ...". The _in forms take
 * another reference's directory of the same layout (test/data/train/bn). */
void yl_train_ref_check_losses(const char *who, const double got[5]);
void yl_train_ref_check_losses_in(const char *dir, const char *who, const double got[5]);
/* losses_before_each_step[step]'s "total" in text (sgd.json, spread.json). */
double yl_train_ref_step_total(const char *text, int step);

/* Relative L2 error of got against grads.npz's array key. */
double yl_train_ref_rel_l2(const double *got, size_t n, const char *key);
/* One parameter's gradient against grads.npz: its L2 norm, the 32 sampled entries (in units
 * of its max |g|) and, where the reference has it, the whole tensor, each as a ratio of
 * error to tolerance put into worst[3] when larger. spread: spread.json's text. */
void yl_train_ref_check_grad(const char *spread, const char *name, const float *got,
                             size_t n, double worst[3], const char *worst_name[3]);
void yl_train_ref_check_grad_in(const char *dir, const char *spread, const char *name,
                                const float *got, size_t n, double worst[3],
                                const char *worst_name[3]);

#endif
