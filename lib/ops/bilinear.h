/* The one rule every bilinear resize of the library follows, on every backend: PyTorch
 * 1.13's CPU interpolation along one axis, align_corners=False. */
#ifndef YL_OPS_BILINEAR_H
#define YL_OPS_BILINEAR_H

/* For each of the out destination indices:
 *   scale = (float)in / (float)out   (float32 division)
 *   src   = max(scale * (dst + 0.5) - 0.5, 0)   evaluated in double
 *   i0 = (int)src, i1 = i0 + (i0 < in - 1), w1 = (float)(src - i0), w0 = 1 - w1
 * (in == out copies: i0 = i1 = dst, w0 = 1, w1 = 0). */
void yl_bilinear_axis(int in, int out, int *i0, int *i1, float *w0, float *w1);

/* Entries first .. first + count - 1 of the same table, at i0[0 .. count - 1] and so on: a
 * tile of it, for an op that keeps no table of the whole axis. */
void yl_bilinear_axis_range(int in, int out, int first, int count, int *i0, int *i1,
                            float *w0, float *w1);

#endif
