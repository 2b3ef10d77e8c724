/* Helpers shared by the Check suites. Tests run from the repository root. */
#ifndef YL_TEST_H
#define YL_TEST_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "yolact.h"

#define YL_TEST_DATA "test/data"

/* Assert a status, printing the detail message on failure. */
#define ck_assert_status(expr, expected)                                                   \
    do {                                                                                   \
        yolact_status ck_s_ = (expr);                                                      \
        ck_assert_msg(ck_s_ == (expected), "%s returned %d (%s: %s), expected %d", #expr,  \
                      (int)ck_s_, yolact_status_string(ck_s_), yolact_last_error(),        \
                      (int)(expected));                                                    \
    } while (0)

/* Deterministic pseudo-random floats in [lo, hi) (xorshift). */
static inline float yl_test_rand(uint64_t *state, float lo, float hi)
{
    uint64_t x = *state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    *state = x;
    return lo + (hi - lo) * (float)((x >> 40) * (1.0 / 16777216.0));
}

/* c channels of hw pixels from plain CHW into oneDNN's blocked layout nChw<block>c
 * (onednn_conv.h) when to_blocked, else back. */
void yl_test_reblock(const float *from, int c, int hw, int block, int to_blocked, float *to);

/* The bundled parity checkpoint (random weights, ResNet [1,1,1,1], FPN 64), run with the
 * yolact_resnet50 preset as the official parity outputs were made. */
#define YL_TEST_PARITY_CHECKPOINT YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth"

/* The bundled YOLACT++ parity checkpoint (random weights, ResNet [1,1,1,1] with DCN layers
 * in stages 2-4, FPN 64, mask-IoU net), run with the yolact_plus_resnet50 preset. */
#define YL_TEST_PARITY_PLUS_CHECKPOINT YL_TEST_DATA "/parity-plus/yolact_plus_tiny_seed2_fp16_zip.pth"

/* The shipped shapes model (yolact-train from scratch on yolact-shapes --seed
 * YL_TEST_SHAPES_SEED's training split; the README's first demo), fp16. */
#define YL_TEST_SHAPES_MODEL "examples/shapes/yolact_im400_13_3300.safetensors"
#define YL_TEST_SHAPES_SEED 1

/* That checkpoint loaded (a Check failure when it does not load). */
yolact_model *yl_test_parity_model(void);

/* A checkpoint loaded with a preset (a Check failure when it does not load). */
yolact_model *yl_test_load_model(const char *path, const char *preset);

/* A checkpoint loaded with a preset whose input is size x size (0: the preset's own) and
 * whose anchors are scaled with it, as the official im400/im700 configs scale yolact_base's:
 * the same network on other maps (a Check failure when it does not load). */
yolact_model *yl_test_load_model_at(const char *path, const char *preset, int size);

/* The input sizes of the emulated CUDA frames in `make test` (their runs at the networks'
 * own 550 are tagged "full"): YOLACT at 128, (128/550)^2 of the pixels, P7 1x1; YOLACT++ at
 * 256, the smallest multiple of 32 whose 64x64 prototypes leave its mask-IoU net's last
 * layer an output. */
#define YL_TEST_SMALL_INPUT 128
#define YL_TEST_SMALL_PLUS_INPUT 256

/* Read a whole file into a malloc'ed buffer; NULL if it cannot be read. */
uint8_t *yl_test_read_file(const char *path, size_t *size);

/* Run a shell command from the repository root; its stdout and stderr go to *out
 * (malloc'ed). Returns the exit code, -1 when it did not exit. */
int yl_test_run(const char *cmd, char **out);

#endif
