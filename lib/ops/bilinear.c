/* The bilinear axis rule (bilinear.h). */
#include "ops/bilinear.h"

void yl_bilinear_axis_range(int in, int out, int first, int count, int *i0, int *i1,
                            float *w0, float *w1)
{
    float scale = (float)in / (float)out;
    for (int j = 0; j < count; j++) {
        const int dst = first + j;
        if (in == out) { /* PyTorch copies: one source, weights 1 and 0 */
            i0[j] = i1[j] = dst;
            w0[j] = 1.0f;
            w1[j] = 0.0f;
            continue;
        }
        double src = (double)scale * (dst + 0.5) - 0.5;
        if (src < 0.0)
            src = 0.0;
        int lo = (int)src;
        i0[j] = lo;
        i1[j] = lo + (lo < in - 1);
        w1[j] = (float)(src - lo);
        w0[j] = 1.0f - w1[j];
    }
}

void yl_bilinear_axis(int in, int out, int *i0, int *i1, float *w0, float *w1)
{
    yl_bilinear_axis_range(in, out, 0, out, i0, i1, w0, w1);
}
