/* The head permutes (see head_ops.h): plain loops, the reference for kernels/head.cu. */
#include "cpu/head_ops.h"
#include "cpu/exp_tanh.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>

/* One image; softmax 0 leaves conf the logits. */
static void head_output_image(const float *maps, int anchors, int classes, int prototypes,
                              int height, int width, float *loc, float *conf, float *coeff,
                              int softmax, int num_threads)
{
    const int A = anchors, C = classes, K = prototypes;
    const size_t plane = (size_t)height * width;
    const float *loc_maps = maps, *conf_maps = maps + (size_t)4 * A * plane,
                *coeff_maps = conf_maps + (size_t)C * A * plane;
    if (num_threads <= 0)
        num_threads = omp_get_max_threads();
#pragma omp parallel for num_threads(num_threads) schedule(static)
    for (size_t cell = 0; cell < plane; cell++) {
        for (int a = 0; a < A; a++) {
            size_t p = cell * A + a;
            for (int d = 0; d < 4; d++)
                loc[p * 4 + d] = loc_maps[((size_t)a * 4 + d) * plane + cell];
            float *row = conf + p * C;
            float max = -INFINITY, sum = 0;
            for (int c = 0; c < C; c++) {
                row[c] = conf_maps[((size_t)a * C + c) * plane + cell];
                max = row[c] > max ? row[c] : max;
            }
            if (softmax) {
                for (int c = 0; c < C; c++)
                    row[c] -= max;
                yl_expf_inplace(row, (size_t)C);
                for (int c = 0; c < C; c++) /* in class order, as one loop summed them */
                    sum += row[c];
                float inv = 1.0f / sum;
                for (int c = 0; c < C; c++)
                    row[c] *= inv;
            }
            for (int k = 0; k < K; k++)
                coeff[p * K + k] = coeff_maps[((size_t)a * K + k) * plane + cell];
            yl_tanhf_inplace(coeff + p * K, (size_t)K);
        }
    }
}

void yl_head_output_cpu(const float *maps, int anchors, int classes, int prototypes,
                        int height, int width, int batch, size_t image_priors, float *loc,
                        float *conf, float *coeff, int num_threads)
{
    const size_t maps_floats = (size_t)anchors * (4 + classes + prototypes) * height * width;
    for (int b = 0; b < batch; b++)
        head_output_image(maps + b * maps_floats, anchors, classes, prototypes, height, width,
                          loc + b * image_priors * 4, conf + b * image_priors * classes,
                          coeff + b * image_priors * prototypes, 1, num_threads);
}

void yl_head_output_logits_cpu(const float *maps, int anchors, int classes, int prototypes,
                               int height, int width, float *loc, float *conf, float *coeff,
                               int num_threads)
{
    head_output_image(maps, anchors, classes, prototypes, height, width, loc, conf, coeff, 0,
                      num_threads);
}

void yl_proto_output_cpu(const float *in, int channels, int height, int width, int batch,
                         float *out)
{
    const size_t plane = (size_t)height * width, image = plane * channels;
    for (int b = 0; b < batch; b++)
        for (size_t p = 0; p < plane; p++)
            for (int k = 0; k < channels; k++)
                out[b * image + p * channels + k] = in[b * image + (size_t)k * plane + p];
}
