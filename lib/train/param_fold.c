/* Folded and unfolded parameters' row-scalings (param_fold.h). */
#include "train/param_fold.h"

void yl_scale_rows(const float *in, size_t rows, size_t per_row, const float *scale, int add,
                   float factor, float *out)
{
    for (size_t r = 0; r < rows; r++) {
        const float s = scale ? scale[r] : 1.0f;
        for (size_t j = r * per_row; j < (r + 1) * per_row; j++) {
            const float v = in[j] * s;
            out[j] = (add ? out[j] + v : v) * factor;
        }
    }
}

void yl_fold_rows(const float *in, size_t rows, size_t per_row, const double *scale,
                  float *out)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = r * per_row; j < (r + 1) * per_row; j++)
            out[j] = (float)(in[j] * scale[r]);
}
