/* Trainable BatchNorm in the training pass: nn.BatchNorm2d in train mode, as train.py runs
 * it at 6 or more images per GPU (cfg.freeze_bn off). Each BatchNorm after a backbone
 * convolution normalises with the statistics of the whole batch, so the pass walks the op
 * list layer by layer over the images (train_pass.c) and joins them here: the convolution
 * runs alone (the model's parameters refilled without the BatchNorm folded, and a view of
 * its op list without the activation and residual it fuses), then this file's forward
 * (batch statistics, the running averages, the normalisation, the residual and the
 * activation) and backward (the gradients of its input, weight and bias). */
#ifndef YL_CPU_TRAIN_BATCHNORM_H
#define YL_CPU_TRAIN_BATCHNORM_H

#include "cpu/training_backward.h"

typedef struct yl_bn_layer {
    yl_bn_desc d;               /* the layer and its tensors (model.h) */
    float *input;               /* (capacity, C, plane): the convolution's outputs */
    float *mean, *invstd;       /* (C): the last forward's batch statistics */
    float *grad_gamma, *grad_beta; /* (C), summed over the batch */
} yl_bn_layer;

typedef struct yl_train_batchnorm {
    yolact_model view;          /* the model with its ops copied and, for each layer, the
                                   convolution's activation and residual taken off; every
                                   other pointer is the model's, borrowed */
    int count;
    yl_bn_layer *layers;
    int *layer_of_op;           /* per op: its layer, or -1 */
    int capacity;               /* images each layer's input holds */
    float *scratch[2];          /* (capacity, the largest C·plane) each */
} yl_train_batchnorm;

/* The BatchNorm of every convolution of m that has one (m's fills name them), its tensors
 * found in table (their float32 data is read and the running statistics written there
 * until destroy). A tensor missing or of another size: YOLACT_ERR_MODEL naming it. */
yolact_status yl_train_batchnorm_create(const yolact_model *m, const yl_tensor_table *table,
                                        yl_train_batchnorm **bn);
void yl_train_batchnorm_destroy(yl_train_batchnorm *bn);
/* Room for batch images. */
yolact_status yl_train_batchnorm_reserve(yl_train_batchnorm *bn, int batch);

/* Layer l after its convolution ran on fw[0 .. batch) (the view's op): each image's output
 * buffer normalised with the batch's statistics, the residual added, the activation applied,
 * in place; with update_running, the running averages moved (momentum 0.1, the unbiased
 * variance), as a train-mode forward moves them. */
void yl_train_batchnorm_forward(yl_train_batchnorm *bn, int l, yl_training_forward *const *fw,
                                int batch, int update_running);
/* Zero every layer's weight and bias gradients (once per step). */
void yl_train_batchnorm_zero(yl_train_batchnorm *bn);
/* Layer l's backward, before its convolution's (the view's op): from each image's gradient
 * of the layer's output (complete: every later op's backward has run) through the
 * activation, to the residual's gradient (added) and, through the batch's normalisation, to
 * the convolution's output gradient (written in its place); the layer's weight and bias
 * gradients added to. */
void yl_train_batchnorm_backward(yl_train_batchnorm *bn, int l,
                                 yl_training_forward *const *fw,
                                 yl_training_backward *const *bw, int batch);

#endif
