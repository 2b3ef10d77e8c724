/* Model description: every preset's architecture inferred from tensor tables of names and
 * shapes built here (the full-size checkpoints do not belong in the repository), the
 * official key filter, refusals that name the tensor at fault, and BN folding checked
 * against an unfolded convolution + BatchNorm. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/prepared_weights.h"
#include "model/cache.h"
#include "model/model.h"
#include "yl_test.h"

/* ---- a state_dict of YOLACT's layout, built from an architecture -------------------- */

typedef struct arch {
    int darknet;
    int depth[5];
    int fpn;          /* FPN width */
    int downsample;   /* downsample layers stored */
    int proto;        /* protonet width */
    int prototypes;
    int anchors;
    int classes;      /* with background */
    int dcn_interval; /* YOLACT++: DCN in every dcn_interval-th block of stages 2-4, 0: none */
    int maskiou;      /* YOLACT++: the mask-IoU net */
} arch;

typedef struct table_builder {
    yl_tensor_table t;
    size_t cap;
} table_builder;

static void add(table_builder *b, int ndim, const int64_t *shape, const char *fmt, ...)
{
    if (b->t.count == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->t.tensors = realloc(b->t.tensors, b->cap * sizeof *b->t.tensors);
        ck_assert_ptr_nonnull(b->t.tensors);
    }
    yl_tensor *x = &b->t.tensors[b->t.count++];
    memset(x, 0, sizeof *x);
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    x->name = strdup(name);
    x->dtype = YL_DTYPE_F32;
    x->ndim = ndim;
    x->numel = 1;
    for (int i = 0; i < ndim; i++)
        x->numel *= x->shape[i] = shape[i];
    /* Values are irrelevant to the architecture; variances must be positive. */
    x->data = malloc((size_t)(x->numel ? x->numel : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x->data);
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = 0.01f;
}

static void conv(table_builder *b, int o, int i, int k, int bias, const char *name)
{
    add(b, 4, (int64_t[]){o, i, k, k}, "%s.weight", name);
    if (bias)
        add(b, 1, (int64_t[]){o}, "%s.bias", name);
}

static void bn(table_builder *b, int c, const char *name)
{
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        add(b, 1, (int64_t[]){c}, "%s.%s", name, parts[i]);
    add(b, 0, (int64_t[]){0}, "%s.num_batches_tracked", name);
    b->t.tensors[b->t.count - 1].dtype = YL_DTYPE_I64;
    free(b->t.tensors[b->t.count - 1].data);
    b->t.tensors[b->t.count - 1].data = NULL;
}

static void conv_bn(table_builder *b, int o, int i, int k, const char *c, const char *n)
{
    conv(b, o, i, k, 0, c);
    bn(b, o, n);
}

/* Returns the channels of each backbone stage in out. */
static void backbone(table_builder *b, const arch *a, int *out)
{
    char c[128], n[128];
    if (!a->darknet) {
        conv_bn(b, 64, 3, 7, "backbone.conv1", "backbone.bn1");
        int in = 64;
        for (int s = 0; s < 4; s++) {
            int planes = 64 << s;
            for (int k = 0; k < a->depth[s]; k++) {
                int ins[3] = {k ? 4 * planes : in, planes, planes}, outs[3] = {planes, planes, 4 * planes};
                for (int i = 0; i < 3; i++) {
                    snprintf(c, sizeof c, "backbone.layers.%d.%d.conv%d", s, k, i + 1);
                    snprintf(n, sizeof n, "backbone.layers.%d.%d.bn%d", s, k, i + 1);
                    conv_bn(b, outs[i], ins[i], i == 1 ? 3 : 1, c, n);
                    /* The official rule with dcn_layers = blocks: block 0, then every
                     * dcn_interval-th. */
                    if (i == 1 && a->dcn_interval && s > 0 && k % a->dcn_interval == 0) {
                        add(b, 1, (int64_t[]){planes}, "%s.bias", c);
                        char om[160];
                        snprintf(om, sizeof om, "%s.conv_offset_mask", c);
                        conv(b, 27, planes, 3, 1, om);
                    }
                }
                if (k == 0) {
                    snprintf(c, sizeof c, "backbone.layers.%d.0.downsample.0", s);
                    snprintf(n, sizeof n, "backbone.layers.%d.0.downsample.1", s);
                    conv_bn(b, 4 * planes, in, 1, c, n);
                }
            }
            out[s] = in = 4 * planes;
        }
    } else {
        conv_bn(b, 32, 3, 3, "backbone._preconv.0", "backbone._preconv.1");
        int in = 32;
        for (int s = 0; s < 5; s++) {
            int ch = 32 << s;
            snprintf(c, sizeof c, "backbone.layers.%d.0.0", s);
            snprintf(n, sizeof n, "backbone.layers.%d.0.1", s);
            conv_bn(b, 2 * ch, in, 3, c, n);
            for (int k = 1; k <= a->depth[s]; k++) {
                snprintf(c, sizeof c, "backbone.layers.%d.%d.conv1.0", s, k);
                snprintf(n, sizeof n, "backbone.layers.%d.%d.conv1.1", s, k);
                conv_bn(b, ch, 2 * ch, 1, c, n);
                snprintf(c, sizeof c, "backbone.layers.%d.%d.conv2.0", s, k);
                snprintf(n, sizeof n, "backbone.layers.%d.%d.conv2.1", s, k);
                conv_bn(b, 2 * ch, ch, 3, c, n);
            }
            out[s] = in = 2 * ch;
        }
    }
}

static yl_tensor_table make_table(const arch *a)
{
    table_builder b = {0};
    int ch[5];
    char name[128];
    backbone(&b, a, ch);
    int first = a->darknet ? 2 : 1;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "fpn.lat_layers.%d", i);
        conv(&b, a->fpn, ch[first + 2 - i], 1, 1, name);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "fpn.pred_layers.%d", i);
        conv(&b, a->fpn, a->fpn, 3, 1, name);
    }
    for (int i = 0; i < a->downsample; i++) {
        snprintf(name, sizeof name, "fpn.downsample_layers.%d", i);
        conv(&b, a->fpn, a->fpn, 3, 1, name);
    }
    conv(&b, a->proto, a->fpn, 3, 1, "proto_net.0");
    conv(&b, a->proto, a->proto, 3, 1, "proto_net.2");
    conv(&b, a->proto, a->proto, 3, 1, "proto_net.4");
    conv(&b, a->proto, a->proto, 3, 1, "proto_net.8");
    conv(&b, a->prototypes, a->proto, 1, 1, "proto_net.10");
    conv(&b, a->fpn, a->fpn, 3, 1, "prediction_layers.0.upfeature.0");
    conv(&b, 4 * a->anchors, a->fpn, 3, 1, "prediction_layers.0.bbox_layer");
    conv(&b, a->classes * a->anchors, a->fpn, 3, 1, "prediction_layers.0.conf_layer");
    conv(&b, a->prototypes * a->anchors, a->fpn, 3, 1, "prediction_layers.0.mask_layer");
    conv(&b, a->classes - 1, a->fpn, 1, 1, "semantic_seg_conv");
    for (int i = 0, in = 1; a->maskiou && i < 6; i++) {
        int out = i < 5 ? 8 << i : a->classes - 1;
        snprintf(name, sizeof name, "maskiou_net.maskiou_net.%d", 2 * i);
        conv(&b, out, in, i < 5 ? 3 : 1, 1, name);
        in = out;
    }
    return b.t;
}

static const arch resnet101 = {0, {3, 4, 23, 3}, 256, 2, 256, 32, 3, 81, 0, 0};
static const arch resnet50 = {0, {3, 4, 6, 3}, 256, 2, 256, 32, 3, 81, 0, 0};
static const arch darknet53 = {1, {1, 2, 8, 8, 4}, 256, 2, 256, 32, 3, 81, 0, 0};
/* YOLACT++ (data/config.py): ResNet-101 with DCN every 3rd block, ResNet-50 with DCN in
 * every block of stages 2-4; 9 anchors; the mask-IoU net. */
static const arch plus101 = {0, {3, 4, 23, 3}, 256, 2, 256, 32, 9, 81, 3, 1};
static const arch plus50 = {0, {3, 4, 6, 3}, 256, 2, 256, 32, 9, 81, 1, 1};
/* Like the YOLACT++ parity checkpoint: ResNet [1,1,1,1] with dcn_layers [0,1,1,1]. */
static const arch plus_tiny = {0, {1, 1, 1, 1}, 64, 2, 64, 32, 9, 81, 1, 1};

static yolact_model *build_ok(const arch *a, const char *preset)
{
    yl_tensor_table t = make_table(a);
    yolact_model *m = NULL;
    ck_assert_status(yl_model_build(&t, yl_preset_find(preset), YOLACT_PRESET_GIVEN, &m),
                     YOLACT_OK);
    yl_tensor_table_free(&t);
    return m;
}

static void check_common(const yolact_model *m, const char *preset, int size, int priors)
{
    int plus = strstr(preset, "_plus_") != NULL;
    const yolact_model_info *in = yolact_model_get_info(m);
    ck_assert_str_eq(in->preset, preset);
    ck_assert_int_eq(in->input_size, size);
    ck_assert_int_eq(in->fpn_channels, 256);
    ck_assert_int_eq(in->num_levels, 5);
    ck_assert_int_eq(in->fpn_downsample_levels, 2);
    ck_assert_int_eq(in->protonet_layers, 5);
    ck_assert_int_eq(in->protonet_channels, 256);
    ck_assert_int_eq(in->num_prototypes, 32);
    ck_assert_int_eq(in->anchors_per_cell, plus ? 9 : 3);
    ck_assert_int_eq(in->maskiou_layers, plus ? 6 : 0);
    ck_assert_int_eq(in->num_classes, 81);
    ck_assert_int_eq(m->num_priors, priors);
    ck_assert_int_eq(m->proto_h, m->levels[0].height * 2);
    ck_assert_str_eq(in->class_names[0], "person");
    ck_assert_str_eq(in->class_names[79], "toothbrush");
    ck_assert_int_eq(m->category_ids[79], 90);
    /* Unused: every num_batches_tracked and the semantic segmentation conv. */
    for (int i = 0; i < in->num_unused_keys; i++)
        ck_assert_msg(strstr(in->unused_keys[i], "num_batches_tracked") ||
                          strncmp(in->unused_keys[i], "semantic_seg_conv.", 18) == 0,
                      "unexpected unused key %s", in->unused_keys[i]);
}

START_TEST(resnet101_presets)
{
    /* Levels at 550: 69, 35, 18, 9, 5; at 400: 50, 25, 13, 7, 4; at 700: 88, 44, 22, 11, 6. */
    static const struct { const char *name; int size, priors; } cases[] = {
        {"yolact_base", 550, 19248}, {"yolact_im400", 400, 10077}, {"yolact_im700", 700, 30963}};
    for (int i = 0; i < 3; i++) {
        yolact_model *m = build_ok(&resnet101, cases[i].name);
        check_common(m, cases[i].name, cases[i].size, cases[i].priors);
        const yolact_model_info *in = yolact_model_get_info(m);
        ck_assert_int_eq(in->backbone, YOLACT_BACKBONE_RESNET);
        ck_assert_int_eq(in->backbone_stages, 4);
        ck_assert_int_eq(in->stage_depth[2], 23);
        ck_assert_int_eq(in->stage_channels[3], 2048);
        yolact_model_free(m);
    }
}
END_TEST

START_TEST(resnet50_and_darknet53_presets)
{
    yolact_model *m = build_ok(&resnet50, "yolact_resnet50");
    check_common(m, "yolact_resnet50", 550, 19248);
    ck_assert_int_eq(yolact_model_get_info(m)->stage_depth[2], 6);
    yolact_model_free(m);

    m = build_ok(&darknet53, "yolact_darknet53");
    check_common(m, "yolact_darknet53", 550, 19248);
    const yolact_model_info *in = yolact_model_get_info(m);
    ck_assert_int_eq(in->backbone, YOLACT_BACKBONE_DARKNET);
    ck_assert_int_eq(in->backbone_stages, 5);
    int depth[5] = {1, 2, 8, 8, 4};
    for (int s = 0; s < 5; s++) {
        ck_assert_int_eq(in->stage_depth[s], depth[s]);
        ck_assert_int_eq(in->stage_channels[s], 64 << s);
    }
    ck_assert_int_eq(m->preset.input_norm, YL_INPUT_DIV_255);
    yolact_model_free(m);
}
END_TEST

START_TEST(reduced_network_with_parent_preset)
{
    /* Like the parity checkpoint: ResNet [1,1,1,1], 64-wide FPN and protonet. */
    arch tiny = {0, {1, 1, 1, 1}, 64, 2, 64, 32, 3, 81, 0, 0};
    yolact_model *m = build_ok(&tiny, "yolact_resnet50");
    const yolact_model_info *in = yolact_model_get_info(m);
    ck_assert_int_eq(in->fpn_channels, 64);
    ck_assert_int_eq(in->protonet_channels, 64);
    for (int s = 0; s < 4; s++)
        ck_assert_int_eq(in->stage_depth[s], 1);
    ck_assert_int_eq(m->num_priors, 19248);
    yolact_model_free(m);
}
END_TEST

static int count_ops(const yolact_model *m, yl_op_kind kind)
{
    int n = 0;
    for (int i = 0; i < m->num_ops; i++)
        n += m->ops[i].kind == kind;
    return n;
}

START_TEST(yolact_plus_presets)
{
    /* 9 anchors on the 19248 cells of 550: 57744 priors. */
    yolact_model *m = build_ok(&plus101, "yolact_plus_base");
    check_common(m, "yolact_plus_base", 550, 57744);
    const yolact_model_info *in = yolact_model_get_info(m);
    const int dcn101[5] = {0, 2, 8, 1, 0}; /* blocks 0,3 | 0,3,...,21 | 0 */
    for (int s = 0; s < 5; s++)
        ck_assert_int_eq(in->stage_dcn[s], dcn101[s]);
    ck_assert_int_eq(count_ops(m, YL_OP_DCN), 11);
    const int widths[6] = {8, 16, 32, 64, 128, 80};
    for (int l = 0; l < 6; l++) {
        ck_assert_int_eq(in->maskiou_channels[l], widths[l]);
        ck_assert_int_eq(m->maskiou.layers[l].conv.stride, l < 5 ? 2 : 1);
        ck_assert_int_eq(m->maskiou.layers[l].conv.pad, 0);
    }
    ck_assert_int_eq(m->maskiou.in_h, 138);
    /* A DCN reads its offset conv's output: 27 channels at its own output size. */
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->kind != YL_OP_DCN)
            continue;
        ck_assert_int_eq(m->buffers[op->offsets].channels, 27);
        ck_assert_int_eq(m->buffers[op->offsets].height, m->buffers[op->out].height);
        ck_assert_ptr_nonnull(strstr(m->ops[i - 1].name, ".conv_offset_mask"));
    }
    /* Priors of the first cell: scale-major, then aspect ratios 1, 1/2, 2, not square. */
    for (int j = 0; j < 3; j++)
        for (int a = 0; a < 3; a++) {
            static const double ars[3] = {1, 0.5, 2};
            double scale = 24 * pow(2, j / 3.0), r = sqrt(ars[a]);
            const float *p = m->priors + 4 * (3 * j + a);
            ck_assert_float_eq_tol(p[0], 0.5 / 69, 1e-7);
            ck_assert_float_eq_tol(p[2], scale * r / 550, 1e-6);
            ck_assert_float_eq_tol(p[3], scale / r / 550, 1e-6);
        }
    yolact_model_free(m);

    m = build_ok(&plus50, "yolact_plus_resnet50");
    check_common(m, "yolact_plus_resnet50", 550, 57744);
    in = yolact_model_get_info(m);
    const int dcn50[5] = {0, 4, 6, 3, 0};
    for (int s = 0; s < 5; s++)
        ck_assert_int_eq(in->stage_dcn[s], dcn50[s]);
    yolact_model_free(m);

    /* The reduced network of the parity checkpoint loads with its parent preset. */
    m = build_ok(&plus_tiny, "yolact_plus_resnet50");
    in = yolact_model_get_info(m);
    ck_assert_int_eq(in->fpn_channels, 64);
    ck_assert_int_eq(count_ops(m, YL_OP_DCN), 3);
    ck_assert_int_eq(in->stage_dcn[0], 0);
    ck_assert_int_eq(m->num_priors, 57744);
    yolact_model_free(m);
}
END_TEST

START_TEST(yolact_plus_preset_choice)
{
    ck_assert_ptr_eq(yl_preset_from_file_name("yolact_plus_base_54_800000.pth"),
                     yl_preset_find("yolact_plus_base"));
    ck_assert_ptr_eq(yl_preset_from_file_name("w/yolact_plus_resnet50_54_800000.pth"),
                     yl_preset_find("yolact_plus_resnet50"));
    const struct { const arch *a; const char *preset; } guesses[] = {
        {&plus101, "yolact_plus_base"}, {&plus50, "yolact_plus_resnet50"},
        {&plus_tiny, "yolact_plus_resnet50"}, {&resnet101, "yolact_base"}};
    for (int i = 0; i < 4; i++) {
        yl_tensor_table t = make_table(guesses[i].a);
        ck_assert_str_eq(yl_preset_guess(&t)->name, guesses[i].preset);
        yl_tensor_table_free(&t);
    }
    int named = 0;
    for (const char *const *p = yolact_preset_names(); *p; p++)
        named += !strcmp(*p, "yolact_plus_base") || !strcmp(*p, "yolact_plus_resnet50");
    ck_assert_int_eq(named, 2);
}
END_TEST

START_TEST(official_key_filter)
{
    /* v1.0 checkpoints carry legacy 'backbone.layerN' keys and a third downsample layer;
     * the official load_weights drops both. */
    arch tiny = {0, {1, 1, 1, 1}, 64, 3, 64, 32, 3, 81, 0, 0};
    yl_tensor_table t = make_table(&tiny);
    table_builder b = {t, t.count};
    add(&b, 1, (int64_t[]){4}, "backbone.layer1.0.conv1.weight");
    yolact_model *m = NULL;
    ck_assert_status(yl_model_build(&b.t, yl_preset_find("yolact_resnet50"), YOLACT_PRESET_GIVEN,
                                    &m), YOLACT_OK);
    const yolact_model_info *in = yolact_model_get_info(m);
    int legacy = 0, third = 0;
    for (int i = 0; i < in->num_unused_keys; i++) {
        legacy += strcmp(in->unused_keys[i], "backbone.layer1.0.conv1.weight") == 0;
        third += strncmp(in->unused_keys[i], "fpn.downsample_layers.2.", 24) == 0;
    }
    ck_assert_int_eq(legacy, 1);
    ck_assert_int_eq(third, 2);
    ck_assert_int_eq(in->num_levels, 5);
    yolact_model_free(m);
    yl_tensor_table_free(&b.t);
}
END_TEST

/* Build with one tensor removed or reshaped; expect a refusal naming it. */
static void expect_refusal(const arch *a, const char *preset, const char *tensor,
                           int64_t new_dim0, yolact_status expected, const char *needle)
{
    yl_tensor_table t = make_table(a);
    for (size_t i = 0; i < t.count; i++) {
        if (strcmp(t.tensors[i].name, tensor) != 0)
            continue;
        if (new_dim0 < 0)
            t.tensors[i].name[0] = '#'; /* no longer found under its name */
        else { /* only ever shrunk, so the data stays large enough */
            t.tensors[i].numel = t.tensors[i].numel / t.tensors[i].shape[0] * new_dim0;
            t.tensors[i].shape[0] = new_dim0;
        }
    }
    yolact_model *m = NULL;
    ck_assert_status(yl_model_build(&t, yl_preset_find(preset), YOLACT_PRESET_GIVEN, &m), expected);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(yolact_last_error(), needle), "message '%s' does not name '%s'",
                  yolact_last_error(), needle);
    yl_tensor_table_free(&t);
}

START_TEST(refusals_name_the_tensor)
{
    arch tiny = {0, {1, 1, 1, 1}, 64, 2, 64, 32, 3, 81, 0, 0};
    expect_refusal(&tiny, "yolact_resnet50", "backbone.layers.1.0.bn2.running_var", -1,
                   YOLACT_ERR_MODEL, "backbone.layers.1.0.bn2.running_var");
    expect_refusal(&tiny, "yolact_resnet50", "prediction_layers.0.mask_layer.weight", 3 * 16,
                   YOLACT_ERR_MODEL, "prediction_layers.0.mask_layer.");
    expect_refusal(&tiny, "yolact_resnet50", "fpn.lat_layers.1.weight", 32, YOLACT_ERR_MODEL,
                   "fpn.");
    expect_refusal(&tiny, "yolact_resnet50", "fpn.downsample_layers.1.weight", -1,
                   YOLACT_ERR_MODEL, "fpn.downsample_layers.1.weight");
    expect_refusal(&tiny, "yolact_darknet53", "backbone.conv1.weight", 64, YOLACT_ERR_MODEL,
                   "DarkNet");
    /* 9 anchors per cell contradict a 3-anchor preset, and 3 a 9-anchor one. */
    arch nine = tiny;
    nine.anchors = 9;
    expect_refusal(&nine, "yolact_resnet50", "none", 0, YOLACT_ERR_MODEL,
                   "prediction_layers.0.bbox_layer.weight");
    expect_refusal(&tiny, "yolact_plus_resnet50", "none", 0, YOLACT_ERR_MODEL,
                   "prediction_layers.0.bbox_layer.weight");
    /* YOLACT++: a DCN without its bias, an offset conv of the wrong width, a mask-IoU net
     * whose last layer does not give one value per class or that misses a bias. */
    expect_refusal(&plus_tiny, "yolact_plus_resnet50", "backbone.layers.2.0.conv2.bias", -1,
                   YOLACT_ERR_MODEL, "backbone.layers.2.0.conv2.bias");
    expect_refusal(&plus_tiny, "yolact_plus_resnet50",
                   "backbone.layers.1.0.conv2.conv_offset_mask.weight", 18, YOLACT_ERR_MODEL,
                   "backbone.layers.1.0.conv2.conv_offset_mask");
    expect_refusal(&plus_tiny, "yolact_plus_resnet50", "maskiou_net.maskiou_net.10.weight", 40,
                   YOLACT_ERR_MODEL, "maskiou_net.maskiou_net.10.");
    expect_refusal(&plus_tiny, "yolact_plus_resnet50", "maskiou_net.maskiou_net.4.bias", -1,
                   YOLACT_ERR_MODEL, "maskiou_net.maskiou_net.4.bias");
    expect_refusal(&plus_tiny, "yolact_plus_resnet50", "maskiou_net.maskiou_net.2.weight", 12,
                   YOLACT_ERR_MODEL, "maskiou_net.maskiou_net.");
}
END_TEST

START_TEST(preset_from_file_name)
{
    ck_assert_ptr_eq(yl_preset_from_file_name("weights/yolact_im700_54_800000.pth"),
                     yl_preset_find("yolact_im700"));
    ck_assert_ptr_eq(yl_preset_from_file_name("yolact_base_54_800000.pth"),
                     yl_preset_find("yolact_base"));
    ck_assert_ptr_eq(yl_preset_from_file_name("yolact_darknet53_54_800000.safetensors"),
                     yl_preset_find("yolact_darknet53"));
    ck_assert_ptr_eq(yl_preset_from_file_name("yolact_resnet50_1_2_interrupt.pth"),
                     yl_preset_find("yolact_resnet50"));
    ck_assert_ptr_null(yl_preset_from_file_name("yolact_tiny_seed1_fp16_zip.pth"));
    ck_assert_ptr_null(yl_preset_from_file_name("yolact_base.pth"));
    ck_assert_ptr_null(yl_preset_from_file_name("yolact_base_x_800000.pth"));
}
END_TEST

START_TEST(batchnorm_folding_matches_unfolded)
{
    /* conv(x, w) then BN(gamma, beta, mean, var) against conv(x, w') + b'. */
    enum { C = 5, O = 7, H = 9, W = 8, K = 3 };
    uint64_t rng = 42;
    float x[C * H * W], w[O * C * K * K], wf[O * C * K * K], bf[O];
    float gamma[O], beta[O], mean[O], var[O];
    for (int i = 0; i < C * H * W; i++)
        x[i] = yl_test_rand(&rng, -1, 1);
    for (int i = 0; i < O * C * K * K; i++)
        w[i] = yl_test_rand(&rng, -0.5f, 0.5f);
    for (int o = 0; o < O; o++) {
        gamma[o] = yl_test_rand(&rng, 0.5f, 1.5f);
        beta[o] = yl_test_rand(&rng, -0.2f, 0.2f);
        mean[o] = yl_test_rand(&rng, -0.3f, 0.3f);
        var[o] = yl_test_rand(&rng, 0.01f, 2.0f);
    }
    /* Without a bias of the convolution's own (plain convs), then with one (DCN layers). */
    float conv_bias[O];
    for (int o = 0; o < O; o++)
        conv_bias[o] = yl_test_rand(&rng, -0.3f, 0.3f);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *cb = with_bias ? conv_bias : NULL;
        memcpy(wf, w, sizeof wf);
        yl_fold_batchnorm(wf, bf, O, C * K * K, cb, gamma, beta, mean, var, 1e-5, NULL);
        yl_conv_desc d = {C, O, K, K, 1, 1, 1};
        float raw[O * H * W], folded[O * H * W];
        float *ws = malloc((yl_conv2d_workspace_floats(&d, H, W) + 1) * sizeof(float));
        ck_assert_int_eq(yl_conv2d_cpu(&d, x, 1, H, W, w, YOLACT_PRECISION_FP32, cb, NULL,
                                       YL_ACT_NONE, raw, ws, 1), YOLACT_OK);
        ck_assert_int_eq(yl_conv2d_cpu(&d, x, 1, H, W, wf, YOLACT_PRECISION_FP32, bf, NULL,
                                       YL_ACT_NONE, folded, ws, 1), YOLACT_OK);
        free(ws);
        for (int o = 0; o < O; o++)
            for (int p = 0; p < H * W; p++) {
                double ref = (raw[o * H * W + p] - mean[o]) / sqrt(var[o] + 1e-5) * gamma[o] +
                             beta[o];
                double got = folded[o * H * W + p];
                ck_assert_msg(fabs(got - ref) <= 1e-5 * (1 + fabs(ref)),
                              "conv bias %d, channel %d pixel %d: folded %.8g, unfolded %.8g",
                              with_bias, o, p, got, ref);
            }
    }
}
END_TEST

static yolact_status make_nothing(const yolact_model *m, const yl_cache_key *key, void *ctx,
                                  void **data)
{
    (void)m, (void)key, (void)ctx, (void)data;
    return YOLACT_ERR_INTERNAL;
}

/* The CPU's prepared weights that m holds, or NULL: looked up in its cache with a maker
 * that makes nothing. */
static const yl_cpu_prepared *cpu_prepared(const yolact_model *m)
{
    static const yl_cache_kind peek = {make_nothing, NULL, 0};
    const yl_cache_key key = {YOLACT_BACKEND_CPU, 0, YOLACT_PRECISION_FP32};
    void *data;
    if (yl_model_cache_acquire(m, &key, &peek, NULL, &data) != YOLACT_OK)
        return NULL;
    yl_model_cache_release(m, data);
    return data;
}

/* The CPU's prepared weights are made by the first CPU session, not at load (a CUDA-only
 * process never holds them), once per model: a second session shares them, and a session
 * made on a model without them gives the same detections as one made after. */
START_TEST(cpu_weights_are_prepared_by_the_first_cpu_session)
{
    yolact_model *m = yl_test_parity_model();
    ck_assert_ptr_null(cpu_prepared(m));

    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CPU;
    yolact_session *first, *second;
    ck_assert_status(yolact_session_create(m, &so, &first), YOLACT_OK);
    const yl_cpu_prepared *prepared = cpu_prepared(m);
    ck_assert_ptr_nonnull(prepared);
    int with_prepared = 0;
    for (int i = 0; i < m->num_ops; i++)
        with_prepared += prepared->op[i] != NULL;
    ck_assert_int_gt(with_prepared, 0);
    ck_assert_status(yolact_session_create(m, &so, &second), YOLACT_OK);
    ck_assert_ptr_eq(cpu_prepared(m), prepared);
    yolact_session_free(first);
    yolact_session_free(second);
    ck_assert_ptr_eq(cpu_prepared(m), prepared); /* the model's, not a session's */
    yolact_model_free(m);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resnet101_presets);
    tcase_add_test(tc, resnet50_and_darknet53_presets);
    tcase_add_test(tc, reduced_network_with_parent_preset);
    tcase_add_test(tc, yolact_plus_presets);
    tcase_add_test(tc, yolact_plus_preset_choice);
    tcase_add_test(tc, official_key_filter);
    tcase_add_test(tc, refusals_name_the_tensor);
    tcase_add_test(tc, preset_from_file_name);
    tcase_add_test(tc, batchnorm_folding_matches_unfolded);
    tcase_add_test(tc, cpu_weights_are_prepared_by_the_first_cpu_session);
    suite_add_tcase(s, tc);
    return s;
}
