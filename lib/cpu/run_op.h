/* One op of the network's list on the CPU, over buffers the caller places: shared by the
 * inference session (buffers planned to share memory) and the training forward (every
 * buffer its own, kept for the backward; the class logits without softmax). */
#ifndef YL_CPU_RUN_OP_H
#define YL_CPU_RUN_OP_H

#include <stddef.h>

#include "cpu/conv_choice.h"
#include "cpu/prepared_weights.h"
#include "model/model.h"

typedef struct yl_cpu_op_scratch {
    float *conv;               /* yl_cpu_op_scratch_sizes' conv_floats floats */
    void *resize;              /* its resize_bytes bytes */
} yl_cpu_op_scratch;

/* Where the head and proto permutes write: (P, 4), (P, classes), (P, K), (proto_h,
 * proto_w, K) for one image; logits 1 leaves conf the class logits (training), 0 applies
 * the softmax (inference). */
typedef struct yl_cpu_head_outputs {
    float *loc, *conf, *coeff, *proto;
    int logits;
} yl_cpu_head_outputs;

/* The scratch the largest op of m needs. */
void yl_cpu_op_scratch_sizes(const yolact_model *m, size_t *conv_floats, size_t *resize_bytes);

/* Run op i of m on one image: buffers[b] holds buffer b; each convolution by its algorithm
 * in convs (NULL: the fixed rule, as training runs). Fails only as yl_dcn2d_cpu or a oneDNN
 * convolution can. */
yolact_status yl_cpu_run_op(const yolact_model *m, int i, float *const *buffers,
                            const yl_cpu_prepared *prepared, const yl_cpu_convs *convs,
                            const yl_cpu_op_scratch *scratch, const yl_cpu_head_outputs *heads,
                            int threads);

#endif
