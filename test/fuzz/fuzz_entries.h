/* The fuzz entry points, shared by the libFuzzer targets (test/fuzz/fuzz_*.c) and the
 * regressions suite that replays every input that once broke them. Each runs one input
 * through the library and checks what comes back; a broken invariant aborts. */
#ifndef YL_FUZZ_ENTRIES_H
#define YL_FUZZ_ENTRIES_H

#include <stddef.h>
#include <stdint.h>

#include "yolact.h"

/* yl_weights_read_memory (.pth zip and legacy, the pickle machine, .safetensors); every
 * value of an accepted table is read. */
yolact_status yl_fuzz_weights(const uint8_t *data, size_t size);

/* yl_image_decode_memory (PNG, JPEG); every pixel of an accepted image is read. */
yolact_status yl_fuzz_image(const uint8_t *data, size_t size);

/* yl_model_build on a tensor table described by the input, as text:
 *     preset NAME            (first line; an unknown name lets the shapes choose)
 *     TENSOR D0 D1 ...       (one float32 tensor a line, up to 8 dimensions)
 *     !TENSOR D0 ...         (an int64 tensor, kept by shape only)
 * Descriptions holding more than YL_FUZZ_MODEL_MAX_VALUES values in all are not built
 * (YOLACT_ERR_LIMIT) so that the fuzzer spends its time on shapes, not memory. */
#define YL_FUZZ_MODEL_MAX_VALUES ((int64_t)1 << 23)
yolact_status yl_fuzz_model(const uint8_t *data, size_t size);

#endif
