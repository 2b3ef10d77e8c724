/* The network's forward pass for training on the CPU: the same ops as inference, but every
 * buffer kept in memory of its own (the backward reads them all) and the head's outputs as
 * the loss takes them (train/multibox_loss.h): box offsets, class LOGITS, coefficients after
 * tanh, prototypes after their ReLU, and P3 for the semantic segmentation conv. */
#ifndef YL_CPU_TRAINING_FORWARD_H
#define YL_CPU_TRAINING_FORWARD_H

#include "cpu/prepared_weights.h"
#include "cpu/run_op.h"
#include "model/model.h"

typedef struct yl_training_forward {
    const yolact_model *model;  /* borrowed until destroy */
    int threads;
    float **buffers;            /* model->num_buffers, each (C, H, W) of its own; buffers[0]
                                   is the preprocessed input */
    float *loc, *conf, *coeff;  /* (P, 4), (P, classes) logits, (P, K) tanh */
    float *proto;               /* (proto_h, proto_w, K) after the ReLU */
    int p3;                     /* the buffer the protonet reads: P3, (fpn channels, H, W) */
    const yl_cpu_prepared *prepared;
    yl_cpu_op_scratch scratch;
} yl_training_forward;

/* The buffer the protonet reads (P3), or -1 for a model without one. */
int yl_training_p3(const yolact_model *m);

/* threads: 0 = every core. */
yolact_status yl_cpu_training_forward_create(const yolact_model *m, int threads,
                                             yl_training_forward **f);
/* One image: fill f->buffers[0] (yl_preprocess_cpu's output) first. */
yolact_status yl_cpu_training_forward(yl_training_forward *f);
/* Only op i of it, for a caller that walks the op list itself (ops in order). */
yolact_status yl_cpu_training_forward_op(yl_training_forward *f, int i);
void yl_cpu_training_forward_destroy(yl_training_forward *f);

#endif
