/* The two permutes at the end of the network, as CPU reference ops the CUDA kernels share
 * their signatures with: a head level's conv maps -> per-prior loc, conf (softmax) and coeff
 * (tanh) rows, and the protonet's (K, H, W) output -> (H, W, K). */
#ifndef YL_CPU_HEAD_OPS_H
#define YL_CPU_HEAD_OPS_H

#include <stddef.h>

/* One level of the prediction head.
 *   maps:  (anchors * (4 + classes + prototypes), height, width): the loc maps
 *          (anchors * 4), then conf (anchors * classes), then coeff (anchors * prototypes),
 *          each channel a (height, width) plane, as the fused head convolution writes them
 *   loc:   (height * width * anchors, 4)           rows of the level's priors, cell-major,
 *   conf:  (height * width * anchors, classes)     anchor-minor: permute(0, 2, 3, 1).view
 *   coeff: (height * width * anchors, prototypes)  (pointers at the level's first prior)
 * conf is the softmax over classes (max subtracted, expf, one float division by the sum),
 * coeff is tanhf of the map. num_threads: OpenMP team size (0: the caller's default).
 * For each of batch images: image b's maps at maps + b * (its maps' floats), its rows at loc
 * + b * image_priors * 4, conf + b * image_priors * classes, coeff + b * image_priors *
 * prototypes (image_priors: the network's prior count, the rows of every level). */
void yl_head_output_cpu(const float *maps, int anchors, int classes, int prototypes,
                        int height, int width, int batch, size_t image_priors, float *loc,
                        float *conf, float *coeff, int num_threads);

/* The same permute for training, one image: conf keeps the class logits (no softmax). */
void yl_head_output_logits_cpu(const float *maps, int anchors, int classes, int prototypes,
                               int height, int width, float *loc, float *conf, float *coeff,
                               int num_threads);

/* The protonet's output permute: in (channels, height, width) -> out (height, width,
 * channels), for each of batch images (in and out hold them one after another). */
void yl_proto_output_cpu(const float *in, int channels, int height, int width, int batch,
                         float *out);

#endif
