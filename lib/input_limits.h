/* The process-wide limits on untrusted input (yolact_limits_set), read where sizes are
 * checked. */
#ifndef YL_INPUT_LIMITS_H
#define YL_INPUT_LIMITS_H

#include <stdint.h>

#include "yolact.h"

int yl_limit_image_side(void);
int64_t yl_limit_image_pixels(void);
int64_t yl_limit_weights_bytes(void);

#endif
