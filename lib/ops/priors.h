/* The anchors (priors) of the prediction levels, the official make_priors: computed once
 * when the model is built, used by Detect on every backend. */
#ifndef YL_OPS_PRIORS_H
#define YL_OPS_PRIORS_H

/* One prediction level's anchors. */
typedef struct yl_prior_level {
    int height, width;          /* the level's grid */
    int num_scales;             /* scales in pixels of the input */
    const float *scales;
    int num_aspect_ratios;
    const float *aspect_ratios;
} yl_prior_level;

/* Priors (cx, cy, w, h), relative to the input, for every level in order; inside a level
 * row-major over (y, x); inside a cell for each scale, for each aspect ratio (the official
 * make_priors loop with one aspect-ratio list per level):
 *   ar' = sqrt(ar), w = scale * ar' / input_size, h = scale / ar' / input_size,
 *   h = w when square_anchors.
 * Returns the number of priors written (call with out == NULL to count). */
int yl_make_priors(const yl_prior_level *levels, int num_levels, int input_size,
                   int square_anchors, float *out);

#endif
