/* The network's backward pass on the CPU: a reverse walk over the model's op list from the
 * loss's gradients (train/multibox_loss.h) to the gradient of every trainable parameter,
 * one gradient buffer per forward buffer (summed where a buffer feeds several ops). Frozen
 * BatchNorm stays folded; the parameter gradients are handed out unfolded under their
 * state-dict keys (model.h's yl_trainable). */
#ifndef YL_CPU_TRAINING_BACKWARD_H
#define YL_CPU_TRAINING_BACKWARD_H

#include "cpu/training_forward.h"
#include "train/multibox_loss.h"

typedef struct yl_training_backward {
    const yolact_model *model;  /* borrowed until destroy */
    int threads;
    float **grads;              /* model->num_buffers, d loss / d buffer, one image */
    float *scratch;             /* the largest buffer, for ops whose backward writes */
    float *conv_ws;
    void *resize_ws;
    float *param_grads;         /* d loss / d the FOLDED parameters, laid out as m->params */
    int num_trainables;
    yl_trainable *trainables;
    /* semantic_seg_conv (1x1 on P3, with bias), which inference does not load: */
    const float *segm_weight;   /* (classes - 1, P3 channels), borrowed; NULL: no S term */
    float *segm_weight_grad, *segm_bias_grad;
} yl_training_backward;

/* segm_weight: semantic_seg_conv's weight, borrowed, or NULL when the loss has no S term.
 * threads: 0 = every core. The parameter gradients start at zero. */
yolact_status yl_cpu_training_backward_create(const yolact_model *m, const float *segm_weight,
                                              int threads, yl_training_backward **bw);
/* Zero every parameter gradient (once per step). */
void yl_cpu_training_backward_zero(yl_training_backward *bw);
/* One image: f holds its forward, g the loss's gradients for it (g->segm read when the
 * backward has a segm_weight). Adds to the parameter gradients, so a batch's is the sum of
 * its images'. YOLACT_ERR_UNSUPPORTED for a network with deformable convolutions. */
yolact_status yl_cpu_training_backward(yl_training_backward *bw, const yl_training_forward *f,
                                       const yl_loss_grads *g);
/* The same in steps, for a caller that walks the op list itself (trainable BatchNorm joins
 * the images at its layers): begin (the buffers' gradients zeroed, semantic_seg_conv's
 * backward), then op i's backward for i from the last op down to 0, once each. */
void yl_cpu_training_backward_begin(yl_training_backward *bw, const yl_training_forward *f,
                                    const yl_loss_grads *g);
yolact_status yl_cpu_training_backward_op(yl_training_backward *bw,
                                          const yl_training_forward *f,
                                          const yl_loss_grads *g, int i);
/* The gradient of trainable t (rows x per_row floats), unfolded, to out. */
void yl_cpu_training_backward_grad(const yl_training_backward *bw, const yl_trainable *t,
                                   float *out);
void yl_cpu_training_backward_destroy(yl_training_backward *bw);

#endif
