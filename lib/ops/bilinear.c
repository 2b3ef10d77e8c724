/* The bilinear axis rule (bilinear.h). */
#include "ops/bilinear.h"

void yl_bilinear_axis(int in, int out, int *i0, int *i1, float *w0, float *w1)
{
    float scale = (float)in / (float)out;
    for (int dst = 0; dst < out; dst++) {
        if (in == out) { /* PyTorch copies: one source, weights 1 and 0 */
            i0[dst] = i1[dst] = dst;
            w0[dst] = 1.0f;
            w1[dst] = 0.0f;
            continue;
        }
        double src = (double)scale * (dst + 0.5) - 0.5;
        if (src < 0.0)
            src = 0.0;
        int lo = (int)src;
        i0[dst] = lo;
        i1[dst] = lo + (lo < in - 1);
        w1[dst] = (float)(src - lo);
        w0[dst] = 1.0f - w1[dst];
    }
}
