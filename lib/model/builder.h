/* The model builder's state and the steps every part of the network is built from
 * (builder.c), shared by the files that build the parts (network.c), describe the model
 * (info.c) and assemble it (build.c). Internal to lib/model. */
#ifndef YL_MODEL_BUILDER_H
#define YL_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"

/* Where an op's folded weights live; shared modules (the head, used by every level) are
 * stored once and referenced by each op that runs them. */
typedef struct param_ref {
    int op;
    size_t weight, bias; /* offsets into the parameter block */
    size_t bn_scale;     /* the folded BatchNorm's scale, or YL_NO_BN_SCALE */
} param_ref;

#define YL_NO_BN_SCALE ((size_t)-1)

typedef struct builder {
    const yl_tensor_table *table;
    unsigned char *used;
    yolact_model *m;
    int cap_ops, cap_buffers, cap_fills;
    float *params;
    size_t num_params, cap_params;
    param_ref *refs;
    int num_refs, cap_refs;
    param_ref maskiou[YL_MAX_MASKIOU_LAYERS]; /* the mask-IoU layers' parameter offsets */
    yl_op_part part;                          /* of the ops being added */
} builder;


typedef struct conv_spec {
    const char *conv;      /* module holding .weight (and .bias unless bn) */
    const char *bn;        /* BatchNorm module folded into it, or NULL */
    int stride;
    yl_activation act;
    int residual;          /* buffer added before the activation, or -1 */
} conv_spec;

/* A new (channels, height, width) buffer; its index to *index. */
yolact_status yl_new_buffer(builder *b, int channels, int height, int width, int *index);
/* Append a copy of op (its name copied too) to the op list, in the part being built. */
yolact_status yl_new_op(builder *b, const yl_op *op);
/* count floats of the parameter block; their offset to *offset. */
yolact_status yl_reserve_params(builder *b, size_t count, size_t *offset);
/* Record where the next op's parameters are, for ops of the same module to share them
 * (bn_scale: YL_NO_BN_SCALE without a BatchNorm). */
yolact_status yl_add_param_ref(builder *b, size_t weight, size_t bias, size_t bn_scale);

/* Record how a module's parameters are made (names copied) and make them in the block
 * (its offsets reserved, its tensors' shapes checked before). */
yolact_status yl_add_fill(builder *b, const yl_param_fill *fill);

/* Whether the tensor named by the format exists (it is not marked used). */
int yl_tensor_exists(const builder *b, const char *fmt, ...) YL_PRINTF(2, 3);
/* A required floating tensor of the given rank, marked used; shape[0] checked when
 * expect0 >= 0. */
yolact_status yl_require_tensor(builder *b, const char *name, int ndim, int64_t expect0,
                                const yl_tensor **out);

/* A convolution (offsets 0) or a DCN sampling where buffer `offsets` says, reading buffer
 * `in`, its BatchNorm folded; its output buffer to *out (builder.c says more). */
yolact_status yl_add_conv_or_dcn(builder *b, const conv_spec *s, int in, int offsets,
                                 int *out);
yolact_status yl_add_conv(builder *b, const conv_spec *s, int in, int *out);
/* An op without parameters, writing a new buffer of the given shape. */
yolact_status yl_add_simple(builder *b, yl_op op, int channels, int height, int width,
                            int *out);

/* The parts of the network (network.c), each reading the buffers of the one before. */
yolact_status yl_build_resnet(builder *b, int *stage_out);
yolact_status yl_build_darknet(builder *b, int *stage_out);
yolact_status yl_build_fpn(builder *b, const int *stage_out, int *levels);
yolact_status yl_build_protonet(builder *b, int p3, int *proto);
yolact_status yl_build_head(builder *b, const int *levels);
yolact_status yl_build_maskiou(builder *b);

/* What the model tells about itself (info.c): the checkpoint's keys inference never read
 * (refusing unexpected ones in the FPN and the mask-IoU net), the class names and COCO
 * category ids. */
yolact_status yl_build_collect_unused(builder *b);
yolact_status yl_build_set_classes(yolact_model *m);

#endif
