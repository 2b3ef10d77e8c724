/* The official make_priors (priors.h). */
#include "ops/priors.h"

#include <math.h>
#include <stddef.h>

int yl_make_priors(const yl_prior_level *levels, int num_levels, int input_size,
                   int square_anchors, float *out)
{
    int n = 0;
    for (int l = 0; l < num_levels; l++) {
        const yl_prior_level *lv = &levels[l];
        for (int y = 0; y < lv->height; y++) {
            for (int x = 0; x < lv->width; x++) {
                /* The official code works in Python doubles and rounds once to float32. */
                double cx = (x + 0.5) / lv->width;
                double cy = (y + 0.5) / lv->height;
                for (int s = 0; s < lv->num_scales; s++) {
                    for (int a = 0; a < lv->num_aspect_ratios; a++, n++) {
                        if (!out)
                            continue;
                        double ar = sqrt((double)lv->aspect_ratios[a]);
                        double scale = lv->scales[s];
                        double w = scale * ar / input_size;
                        double h = square_anchors ? w : scale / ar / input_size;
                        float *p = out + 4 * (size_t)n;
                        p[0] = (float)cx;
                        p[1] = (float)cy;
                        p[2] = (float)w;
                        p[3] = (float)h;
                    }
                }
            }
        }
    }
    return n;
}
