/* The backward passes of the head's and the protonet's permutes (grad_ops.h): each row's
 * gradient, through the coefficients' tanh, back to the channel planes it was gathered
 * from. */
#include <omp.h>

#include "cpu/grad_ops.h"

/* One image. */
static void head_backward_image(const float *grad_loc, const float *grad_conf,
                                const float *grad_coeff, const float *coeff, int anchors,
                                int classes, int prototypes, int height, int width,
                                float *grad_maps, int num_threads)
{
    const int A = anchors, C = classes, K = prototypes;
    const size_t plane = (size_t)height * width;
    float *loc_maps = grad_maps, *conf_maps = grad_maps + (size_t)4 * A * plane,
          *coeff_maps = conf_maps + (size_t)C * A * plane;
#pragma omp parallel for num_threads(num_threads) schedule(static)
    for (size_t cell = 0; cell < plane; cell++) {
        for (int a = 0; a < A; a++) {
            size_t p = cell * A + a;
            for (int d = 0; d < 4; d++)
                loc_maps[((size_t)a * 4 + d) * plane + cell] = grad_loc[p * 4 + d];
            for (int c = 0; c < C; c++)
                conf_maps[((size_t)a * C + c) * plane + cell] = grad_conf[p * C + c];
            for (int k = 0; k < K; k++) {
                float y = coeff[p * K + k];
                coeff_maps[((size_t)a * K + k) * plane + cell] = grad_coeff[p * K + k] *
                                                                 (1.0f - y * y);
            }
        }
    }
}

void yl_head_output_backward_cpu(const float *grad_loc, const float *grad_conf,
                                 const float *grad_coeff, const float *coeff,
                                 int anchors, int classes, int prototypes, int height,
                                 int width, int batch, size_t image_priors, float *grad_maps,
                                 int num_threads)
{
    const size_t maps_floats = (size_t)anchors * (4 + classes + prototypes) * height * width;
    if (num_threads <= 0)
        num_threads = omp_get_max_threads();
    for (int b = 0; b < batch; b++)
        head_backward_image(grad_loc + b * image_priors * 4,
                            grad_conf + b * image_priors * classes,
                            grad_coeff + b * image_priors * prototypes,
                            coeff + b * image_priors * prototypes, anchors, classes, prototypes,
                            height, width, grad_maps + b * maps_floats, num_threads);
}

void yl_proto_output_backward_cpu(const float *grad_out, int channels, int height, int width,
                                  int batch, float *grad_in)
{
    const size_t plane = (size_t)height * width, image = plane * channels;
    for (int b = 0; b < batch; b++)
        for (int k = 0; k < channels; k++)
            for (size_t p = 0; p < plane; p++)
                grad_in[b * image + (size_t)k * plane + p] = grad_out[b * image + p * channels + k];
}
