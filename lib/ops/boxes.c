/* The official box sanitize (boxes.h). */
#include "ops/boxes.h"

#include <math.h>

/* torch.min/max of two floats: NaN if either is NaN. */
static inline float min_nan(float a, float b)
{
    return isnan(a) || isnan(b) ? NAN : (a < b ? a : b);
}

static inline float max_nan(float a, float b)
{
    return isnan(a) || isnan(b) ? NAN : (a > b ? a : b);
}

void yl_sanitize_padded(float a, float b, int size, float padding, float *lo, float *hi)
{
    float s = (float)size;
    float l = min_nan(a * s, b * s) - padding;
    float h = max_nan(a * s, b * s) + padding;
    *lo = l < 0.0f ? 0.0f : l;
    *hi = h > s ? s : h;
}

void yl_sanitize_coordinates(float a, float b, int size, float *lo, float *hi)
{
    yl_sanitize_padded(a, b, size, 0.0f, lo, hi);
}

void yl_crop_range(float a, float b, int size, int *begin, int *end)
{
    float lo, hi;
    yl_sanitize_padded(a, b, size, 1.0f, &lo, &hi);
    if (!(lo < hi)) {           /* also NaN */
        *begin = *end = 0;
        return;
    }
    /* lo >= 0 and hi <= size here, so the ceilings fit an int. */
    *begin = lo > (float)size ? size : (int)ceilf(lo);
    *end = hi <= 0.0f ? 0 : (int)ceilf(hi);
    if (*end < *begin)
        *end = *begin;
}
