/* Limits on untrusted input: the header's defaults until yolact_limits_set changes them.
 * Atomics, so a thread changing them never tears a value another thread is checking. */
#include "input_limits.h"

#include <stdatomic.h>

#include "status.h"

/* Beyond these, sizes stop fitting the types the readers compute them in. */
#define HARD_MAX_SIDE 65535
#define HARD_MAX_PIXELS ((int64_t)HARD_MAX_SIDE * HARD_MAX_SIDE)
#define HARD_MAX_WEIGHTS_BYTES ((int64_t)1 << 40)

static _Atomic int image_side = YOLACT_MAX_IMAGE_SIDE;
static _Atomic int64_t image_pixels = YOLACT_MAX_IMAGE_PIXELS;
static _Atomic int64_t weights_bytes = YOLACT_MAX_WEIGHTS_BYTES;

int yl_limit_image_side(void) { return atomic_load(&image_side); }
int64_t yl_limit_image_pixels(void) { return atomic_load(&image_pixels); }
int64_t yl_limit_weights_bytes(void) { return atomic_load(&weights_bytes); }

void yolact_limits_get(yolact_limits *limits)
{
    if (!limits)
        return;
    limits->max_image_side = yl_limit_image_side();
    limits->max_image_pixels = yl_limit_image_pixels();
    limits->max_weights_bytes = yl_limit_weights_bytes();
}

yolact_status yolact_limits_set(const yolact_limits *limits)
{
    yl_clear_error();
    if (!limits)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_limits_set: limits is NULL");
    if (limits->max_image_side < 1 || limits->max_image_side > HARD_MAX_SIDE)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "max_image_side %d is outside 1..%d",
                       limits->max_image_side, HARD_MAX_SIDE);
    if (limits->max_image_pixels < 1 || limits->max_image_pixels > HARD_MAX_PIXELS)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "max_image_pixels %lld is outside 1..%lld",
                       (long long)limits->max_image_pixels, (long long)HARD_MAX_PIXELS);
    if (limits->max_weights_bytes < 1 || limits->max_weights_bytes > HARD_MAX_WEIGHTS_BYTES)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "max_weights_bytes %lld is outside 1..%lld",
                       (long long)limits->max_weights_bytes, (long long)HARD_MAX_WEIGHTS_BYTES);
    atomic_store(&image_side, limits->max_image_side);
    atomic_store(&image_pixels, limits->max_image_pixels);
    atomic_store(&weights_bytes, limits->max_weights_bytes);
    return YOLACT_OK;
}
