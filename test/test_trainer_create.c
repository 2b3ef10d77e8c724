/* What yolact-train needs of the trainer besides its step: a network made from nothing
 * (the official init_weights' values, seeded), an official checkpoint trained for another
 * class count (its class-dependent layers made again, and said so), float BGR input at
 * S x S (the augmentation's, not clipped), and the classes' names and ids written into what
 * it saves; with the hostile arguments of each refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weights/tensor_table.h"
#include "scratch_dir.h"
#include "yl_test.h"

/* Each check of the tcases that save files gets a scratch folder of its own. */
static void temp_open(void) { scratch_open("yl_trainer_create"); }

/* A small fresh network: yolact_resnet50's anchors, one block a stage, 16 features. */
static yolact_trainer_options tiny_options(uint64_t seed)
{
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    for (int i = 0; i < 4; i++)
        o.backbone_blocks[i] = 1;
    o.features = 16;
    o.seed = seed;
    return o;
}

static yolact_trainer *tiny_trainer(int num_classes, uint64_t seed)
{
    yolact_trainer_options o = tiny_options(seed);
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", num_classes, &o, &t),
                     YOLACT_OK);
    return t;
}

static const yl_tensor *tensor(const yl_tensor_table *table, const char *name)
{
    const yl_tensor *t = yl_tensor_table_find(table, name);
    ck_assert_msg(t != NULL, "no %s", name);
    return t;
}

/* Every value within +-bound, not all zero, and spread (a uniform draw's mean |x| is
 * bound / 2). */
static void assert_uniform(const yl_tensor *t, double bound)
{
    double sum = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        ck_assert_msg(fabs(t->data[i]) <= bound, "%s[%lld] = %g beyond %g", t->name,
                      (long long)i, t->data[i], bound);
        sum += fabs(t->data[i]);
    }
    double mean = sum / (double)t->numel;
    ck_assert_msg(mean > 0.4 * bound && mean < 0.6 * bound, "%s: mean |x| %g for bound %g",
                  t->name, mean, bound);
}

static void assert_all(const yl_tensor *t, float value)
{
    for (int64_t i = 0; i < t->numel; i++)
        ck_assert_msg(t->data[i] == value, "%s[%lld] = %g, not %g", t->name, (long long)i,
                      t->data[i], value);
}

/* The fresh network's values as the official init_weights leaves them, the same for the
 * same seed, other for another; it loads as a model of the asked size. */
START_TEST(fresh_network_is_initialised_as_the_official)
{
    yolact_trainer *t = tiny_trainer(4, 7);
    ck_assert_str_eq(yolact_trainer_notes(t), "");
    ck_assert_str_eq(yolact_trainer_preset(t), "yolact_resnet50");
    ck_assert_int_eq(yolact_trainer_input_size(t), 550);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("a.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    t = tiny_trainer(4, 7);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("b.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    t = tiny_trainer(4, 8);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("c.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);

    yl_tensor_table a, b, c;
    ck_assert_status(yl_weights_read(scratch_path("a.safetensors"), &a), YOLACT_OK);
    ck_assert_status(yl_weights_read(scratch_path("b.safetensors"), &b), YOLACT_OK);
    ck_assert_status(yl_weights_read(scratch_path("c.safetensors"), &c), YOLACT_OK);
    const yl_tensor *conf = tensor(&a, "prediction_layers.0.conf_layer.weight");
    ck_assert(conf->ndim == 4 && conf->shape[0] == 3 * 4 && conf->shape[1] == 16);
    assert_uniform(conf, sqrt(6.0 / (16 * 9 + 12 * 9)));
    assert_all(tensor(&a, "prediction_layers.0.conf_layer.bias"), 0.0f);
    assert_uniform(tensor(&a, "fpn.lat_layers.0.weight"), sqrt(6.0 / (2048 + 16)));
    const yl_tensor *segm = tensor(&a, "semantic_seg_conv.weight");
    ck_assert(segm->shape[0] == 3 && segm->shape[1] == 16);
    assert_uniform(segm, sqrt(6.0 / (16 + 3)));
    assert_all(tensor(&a, "semantic_seg_conv.bias"), 0.0f);
    /* The backbone: PyTorch's default convolution, BatchNorm the identity. */
    assert_uniform(tensor(&a, "backbone.conv1.weight"), 1 / sqrt(3.0 * 49));
    assert_uniform(tensor(&a, "backbone.layers.3.0.conv2.weight"), 1 / sqrt(512.0 * 9));
    assert_all(tensor(&a, "backbone.layers.2.0.bn3.weight"), 1.0f);
    assert_all(tensor(&a, "backbone.layers.2.0.bn3.bias"), 0.0f);
    assert_all(tensor(&a, "backbone.layers.2.0.bn3.running_mean"), 0.0f);
    assert_all(tensor(&a, "backbone.layers.2.0.bn3.running_var"), 1.0f);
    ck_assert_ptr_null(yl_tensor_table_find(&a, "backbone.layers.0.1.conv1.weight"));
    size_t same = 0, differ = 0;
    for (size_t i = 0; i < a.count; i++) {
        const yl_tensor *x = &a.tensors[i], *y = tensor(&b, x->name), *z = tensor(&c, x->name);
        if (!x->data)
            continue;
        ck_assert_msg(memcmp(x->data, y->data, (size_t)x->numel * 4) == 0, "%s", x->name);
        same++;
        differ += memcmp(x->data, z->data, (size_t)x->numel * 4) != 0;
    }
    ck_assert_uint_gt(same, 50);
    ck_assert_uint_ge(differ, 20); /* every convolution's weight */
    yl_tensor_table_free(&a);
    yl_tensor_table_free(&b);
    yl_tensor_table_free(&c);

    yolact_model *m;
    ck_assert_status(yolact_model_load(scratch_path("a.safetensors"), NULL, &m), YOLACT_OK);
    const yolact_model_info *info = yolact_model_get_info(m);
    ck_assert_int_eq(info->num_classes, 4);
    ck_assert_int_eq(info->fpn_channels, 16);
    ck_assert_int_eq(info->stage_depth[2], 1);
    yolact_model_free(m);

    /* The official sizes: yolact_base's ResNet-101 and 256 features. */
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    ck_assert_status(yolact_trainer_create_fresh("yolact_base", 3, &o, &t), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("base.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    ck_assert_status(yolact_model_load(scratch_path("base.safetensors"), NULL, &m), YOLACT_OK);
    info = yolact_model_get_info(m);
    ck_assert_int_eq(info->stage_depth[2], 23);
    ck_assert_int_eq(info->fpn_channels, 256);
    ck_assert_str_eq(info->preset, "yolact_base");
    yolact_model_free(m);
}
END_TEST

/* yolact_darknet53 from nothing: the official DarkNet-53 (its keys, shapes and order are the
 * official state dict's, checked against the official Yolact's when this was written),
 * initialised as the ResNet backbones are; it loads as that preset's network, and a step on
 * it takes and gives a finite loss (LeakyReLU's backward). */
START_TEST(fresh_network_of_darknet53)
{
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    o.features = 16;
    o.seed = 5;
    o.num_threads = 2;
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create_fresh("yolact_darknet53", 3, &o, &t), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("dark.safetensors")),
                     YOLACT_OK);
    yl_tensor_table w;
    ck_assert_status(yl_weights_read(scratch_path("dark.safetensors"), &w), YOLACT_OK);
    const yl_tensor *pre = tensor(&w, "backbone._preconv.0.weight");
    ck_assert(pre->shape[0] == 32 && pre->shape[1] == 3 && pre->shape[2] == 3);
    assert_uniform(pre, 1 / sqrt(3.0 * 9));
    const yl_tensor *last = tensor(&w, "backbone.layers.4.4.conv2.0.weight");
    ck_assert(last->shape[0] == 1024 && last->shape[1] == 512 && last->shape[2] == 3);
    assert_uniform(last, 1 / sqrt(512.0 * 9));
    assert_all(tensor(&w, "backbone.layers.2.8.conv1.1.running_var"), 1.0f);
    assert_all(tensor(&w, "backbone.layers.2.8.conv1.1.bias"), 0.0f);
    ck_assert_ptr_null(yl_tensor_table_find(&w, "backbone.layers.2.9.conv1.0.weight"));
    static const int lat_in[3] = {1024, 512, 256};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "fpn.lat_layers.%d.weight", i);
        ck_assert_int_eq(tensor(&w, name)->shape[1], lat_in[i]);
    }
    yl_tensor_table_free(&w);
    yolact_model *m;
    ck_assert_status(yolact_model_load(scratch_path("dark.safetensors"), NULL, &m), YOLACT_OK);
    const yolact_model_info *info = yolact_model_get_info(m);
    ck_assert_str_eq(info->preset, "yolact_darknet53");
    ck_assert_int_eq(info->backbone, YOLACT_BACKBONE_DARKNET);
    static const int depth[5] = {1, 2, 8, 8, 4};
    for (int st = 0; st < 5; st++)
        ck_assert_int_eq(info->stage_depth[st], depth[st]);
    ck_assert_int_eq(info->fpn_channels, 16);
    yolact_model_free(m);

    /* One step on a 64-pixel image (the trainer takes any size) with one object. */
    enum { S = 64 };
    static uint8_t pixels[S * S * 3], mask[S * S];
    for (int i = 0; i < S * S; i++) {
        mask[i] = i % S > 16 && i % S < 48 && i / S > 20 && i / S < 44;
        for (int c = 0; c < 3; c++)
            pixels[i * 3 + c] = (uint8_t)(mask[i] ? 40 + 60 * c : (i * 13) % 200);
    }
    const yolact_image image = {pixels, S, S, S * 3, YOLACT_PIXEL_RGB8, 0};
    const yolact_gt_object object = {17 / 64.0f, 21 / 64.0f, 48 / 64.0f, 44 / 64.0f, 1, 0,
                                     mask};
    const yolact_ground_truth truth = {1, &object, S, S};
    yolact_losses l;
    ck_assert_status(yolact_trainer_step(t, &image, &truth, 1, &l), YOLACT_OK);
    ck_assert_msg(l.step_taken && isfinite(l.total) && l.total > 0 && l.num_positives > 0,
                  "loss %g, %d positives, step %d", l.total, l.num_positives, l.step_taken);
    yolact_trainer_destroy(t);
}
END_TEST

/* A narrower backbone: every stage's width scales with it, the FPN's lateral layers read
 * the narrower stages, and the model loads with the widths read off its weights and the
 * preset its metadata names, whatever the file is called. */
START_TEST(fresh_network_narrows_the_backbone)
{
    yolact_trainer_options o = tiny_options(3);
    o.backbone_width = 16;
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create_fresh("yolact_im400", 3, &o, &t), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("narrow.safetensors")),
                     YOLACT_OK);
    yolact_trainer_destroy(t);
    yl_tensor_table w;
    ck_assert_status(yl_weights_read(scratch_path("narrow.safetensors"), &w), YOLACT_OK);
    ck_assert_int_eq(tensor(&w, "backbone.conv1.weight")->shape[0], 16);
    ck_assert_int_eq(tensor(&w, "backbone.layers.3.0.conv2.weight")->shape[0], 16 << 3);
    assert_uniform(tensor(&w, "backbone.layers.3.0.conv2.weight"), 1 / sqrt(128.0 * 9));
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "fpn.lat_layers.%d.weight", i);
        ck_assert_int_eq(tensor(&w, name)->shape[1], (4 * 16) << (3 - i));
    }
    /* The same weights naming a preset there is not: the load fails and says so. */
    const char *bad[] = {YOLACT_PRESET_METADATA, "yolact_im300", NULL};
    ck_assert_status(yl_weights_write_safetensors(&w, YL_DTYPE_F32, bad,
                                                  scratch_path("bad.safetensors")), YOLACT_OK);
    yl_tensor_table_free(&w);
    yolact_model *m = (yolact_model *)&w;
    ck_assert_status(yolact_model_load(scratch_path("bad.safetensors"), NULL, &m),
                     YOLACT_ERR_MODEL);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "'yolact_im300', not a preset"));

    /* The file's name says nothing; its metadata names the preset (400-pixel input). */
    ck_assert_status(yolact_model_load(scratch_path("narrow.safetensors"), NULL, &m), YOLACT_OK);
    const yolact_model_info *info = yolact_model_get_info(m);
    ck_assert_str_eq(info->preset, "yolact_im400");
    ck_assert_int_eq(info->preset_source, YOLACT_PRESET_FROM_METADATA);
    ck_assert_int_eq(info->input_size, 400);
    for (int s = 0; s < 4; s++)
        ck_assert_int_eq(info->stage_channels[s], (4 * 16) << s);
    ck_assert_int_eq(info->fpn_channels, 16);
    yolact_model_free(m);
    yolact_trainer *again;
    ck_assert_status(yolact_trainer_create(scratch_path("narrow.safetensors"), NULL, &again),
                     YOLACT_OK);
    ck_assert_str_eq(yolact_trainer_preset(again), "yolact_im400");
    yolact_trainer_destroy(again);
}
END_TEST

START_TEST(fresh_network_refuses_bad_arguments)
{
    yolact_trainer *t = (yolact_trainer *)&t;
    yolact_trainer_options o = tiny_options(1);
    ck_assert_status(yolact_trainer_create_fresh(NULL, 4, &o, &t), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    const int bad_classes[] = {-1, 0, 1, YOLACT_MAX_CLASSES + 1};
    for (size_t i = 0; i < sizeof bad_classes / sizeof bad_classes[0]; i++) {
        ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", bad_classes[i], &o,
                                                     &t), YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_null(t);
        ck_assert_ptr_nonnull(strstr(yolact_last_error(), "num_classes"));
    }
    ck_assert_status(yolact_trainer_create_fresh("no_such_preset", 4, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_create_fresh("yolact_darknet53", 4, &o, &t),
                     YOLACT_ERR_UNSUPPORTED); /* tiny_options sizes a ResNet */
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "backbone_blocks and backbone_width size "
                                                      "a ResNet; yolact_darknet53's"));
    ck_assert_status(yolact_trainer_create_fresh("yolact_plus_base", 4, &o, &t),
                     YOLACT_ERR_UNSUPPORTED);
    o.backbone_blocks[2] = 0;
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "backbone_blocks"));
    o = tiny_options(1);
    o.backbone_blocks[1] = 65;
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o = tiny_options(1);
    o.features = -2;
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    const int bad_widths[] = {-1, 1025};
    for (size_t i = 0; i < 2; i++) {
        o = tiny_options(1);
        o.backbone_width = bad_widths[i];
        ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, &t),
                         YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(yolact_last_error(), "backbone_width"));
    }
    o = tiny_options(1);
    o.num_classes = 1;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(yolact_trainer_notes(NULL), "");
    ck_assert_ptr_null(yolact_trainer_preset(NULL));
    ck_assert_int_eq(yolact_trainer_input_size(NULL), 0);
    ck_assert_status(yolact_trainer_set_classes(NULL, 1, (const char *[]){"a"}, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The official-format parity checkpoint (81 classes) trained for 4: the conf layer and
 * semantic_seg_conv made again at the new size, every other tensor as it was, and the
 * notes say so; for its own count nothing changes. */
START_TEST(other_class_count_reinitialises_the_class_layers)
{
    yolact_trainer_options o;
    yolact_trainer_options_init(&o);
    o.preset = "yolact_resnet50";
    o.num_classes = 4;
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t), YOLACT_OK);
    ck_assert_msg(strstr(yolact_trainer_notes(t), "81 classes") &&
                      strstr(yolact_trainer_notes(t), "re-initialised 2"),
                  "%s", yolact_trainer_notes(t));
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("four.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    o.num_classes = 81;
    ck_assert_status(yolact_trainer_create(YL_TEST_PARITY_CHECKPOINT, &o, &t), YOLACT_OK);
    ck_assert_str_eq(yolact_trainer_notes(t), "");
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("same.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);

    yl_tensor_table orig, four, same;
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &orig), YOLACT_OK);
    ck_assert_status(yl_weights_read(scratch_path("four.safetensors"), &four), YOLACT_OK);
    ck_assert_status(yl_weights_read(scratch_path("same.safetensors"), &same), YOLACT_OK);
    const yl_tensor *conf = tensor(&four, "prediction_layers.0.conf_layer.weight");
    ck_assert(conf->shape[0] == 12 && conf->shape[1] == 64);
    assert_uniform(conf, sqrt(6.0 / (64 * 9 + 12 * 9)));
    assert_all(tensor(&four, "prediction_layers.0.conf_layer.bias"), 0.0f);
    ck_assert(tensor(&four, "semantic_seg_conv.weight")->shape[0] == 3);
    for (size_t i = 0; i < orig.count; i++) {
        const yl_tensor *x = &orig.tensors[i];
        if (!x->data || strstr(x->name, "conf_layer") || strstr(x->name, "semantic_seg"))
            continue;
        const yl_tensor *y = tensor(&four, x->name);
        ck_assert_msg(memcmp(x->data, y->data, (size_t)x->numel * 4) == 0, "%s", x->name);
    }
    for (size_t i = 0; i < orig.count; i++) {
        const yl_tensor *x = &orig.tensors[i];
        if (x->data)
            ck_assert_msg(memcmp(x->data, tensor(&same, x->name)->data,
                                 (size_t)x->numel * 4) == 0, "%s", x->name);
    }
    yl_tensor_table_free(&orig);
    yl_tensor_table_free(&four);
    yl_tensor_table_free(&same);
    yolact_model *m;
    ck_assert_status(yolact_model_load(scratch_path("four.safetensors"), NULL, &m), YOLACT_OK);
    ck_assert_int_eq(yolact_model_get_info(m)->num_classes, 4);
    yolact_model_free(m);
}
END_TEST

/* An image and its ground truth at 550 x 550: a bright square with its mask. */
typedef struct sample {
    uint8_t *bgr8;
    float *bgr32f;
    uint8_t *mask;
    yolact_gt_object object;
    yolact_ground_truth gt;
} sample;

static void sample_open(sample *s)
{
    const int n = 550;
    s->bgr8 = malloc((size_t)n * n * 3);
    s->bgr32f = malloc((size_t)n * n * 3 * sizeof(float));
    s->mask = calloc((size_t)n * n, 1);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            int inside = x >= 100 && x < 300 && y >= 150 && y < 400;
            for (int c = 0; c < 3; c++) {
                uint8_t v = (uint8_t)(inside ? 200 + 20 * c : (x * 7 + y * 3 + c * 50) % 256);
                s->bgr8[((size_t)y * n + x) * 3 + c] = v;
                s->bgr32f[((size_t)y * n + x) * 3 + c] = v;
            }
            s->mask[(size_t)y * n + x] = (uint8_t)inside;
        }
    s->object = (yolact_gt_object){100 / 550.0f, 150 / 550.0f, 300 / 550.0f, 400 / 550.0f,
                                   1, 0, s->mask};
    s->gt = (yolact_ground_truth){1, &s->object, n, n};
}

static void sample_close(sample *s)
{
    free(s->bgr8);
    free(s->bgr32f);
    free(s->mask);
}

/* Float BGR at S x S is read as it is: the same loss as its 8-bit image, values beyond
 * 0..255 taken; a short stride is refused, and sessions refuse float pixels. */
START_TEST(float_bgr_input_is_read_as_it_is)
{
    sample s;
    sample_open(&s);
    yolact_trainer_options o = tiny_options(3);
    o.all_masks = 1;
    yolact_trainer *t;
    ck_assert_status(yolact_trainer_create_fresh("yolact_resnet50", 4, &o, &t), YOLACT_OK);
    const yolact_image bytes = {s.bgr8, 550, 550, 550 * 3, YOLACT_PIXEL_BGR8, 0};
    yolact_image floats = {(const uint8_t *)s.bgr32f, 550, 550, 550 * 12, YOLACT_PIXEL_BGR32F,
                           0};
    yolact_losses a, b;
    ck_assert_status(yolact_trainer_evaluate(t, &bytes, &s.gt, 1, &a), YOLACT_OK);
    ck_assert_status(yolact_trainer_evaluate(t, &floats, &s.gt, 1, &b), YOLACT_OK);
    ck_assert_msg(a.total == b.total && a.C == b.C && a.M == b.M, "%.9g vs %.9g", a.total,
                  b.total);
    for (size_t i = 0; i < (size_t)550 * 550 * 3; i += 7)
        s.bgr32f[i] = s.bgr32f[i] * 1.4f - 30.0f; /* beyond 0..255 both ways */
    ck_assert_status(yolact_trainer_evaluate(t, &floats, &s.gt, 1, &b), YOLACT_OK);
    ck_assert(isfinite(b.total) && b.total != a.total);
    floats.stride = 550 * 3;
    ck_assert_status(yolact_trainer_evaluate(t, &floats, &s.gt, 1, &b),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "stride"));
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("f.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);

    yolact_model *m;
    ck_assert_status(yolact_model_load(scratch_path("f.safetensors"), NULL, &m), YOLACT_OK);
    yolact_session *session;
    ck_assert_status(yolact_session_create(m, NULL, &session), YOLACT_OK);
    floats.stride = 550 * 12;
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(session, &floats, &r), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "only the trainer"));
    ck_assert_status(yolact_image_save_png(scratch_path("f.png"), &floats),
                     YOLACT_ERR_INVALID_ARGUMENT);
    yolact_session_free(session);
    yolact_model_free(m);
    sample_close(&s);
}
END_TEST

/* The classes' names and ids in the saved .safetensors (the loader names them) and in the
 * state (a trainer loading it saves them again); bad lists refused. */
START_TEST(classes_are_written_into_what_is_saved)
{
    yolact_trainer *t = tiny_trainer(4, 5);
    const char *names[3] = {"circle", "square", "star"};
    const int ids[3] = {7, 11, 30};
    ck_assert_status(yolact_trainer_set_classes(t, 2, names, ids), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_set_classes(t, 3, NULL, ids), YOLACT_ERR_INVALID_ARGUMENT);
    const char *bad_names[3][3] = {{"circle", NULL, "star"}, {"circle", "", "star"},
                                   {"circle", "two\nlines", "star"}};
    for (int i = 0; i < 3; i++)
        ck_assert_status(yolact_trainer_set_classes(t, 3, bad_names[i], NULL),
                         YOLACT_ERR_INVALID_ARGUMENT);
    const int bad_ids[3] = {1, 0, 2};
    ck_assert_status(yolact_trainer_set_classes(t, 3, names, bad_ids),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yolact_trainer_set_classes(t, 3, names, ids), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("named.safetensors")), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);

    yl_tensor_table table;
    ck_assert_status(yl_weights_read(scratch_path("named.safetensors"), &table), YOLACT_OK);
    ck_assert_str_eq(yl_tensor_table_metadata(&table, YOLACT_CLASS_NAMES_METADATA),
                     "circle\nsquare\nstar");
    ck_assert_str_eq(yl_tensor_table_metadata(&table, YOLACT_CATEGORY_IDS_METADATA),
                     "7\n11\n30");
    yl_tensor_table_free(&table);
    yolact_model *m;
    ck_assert_status(yolact_model_load(scratch_path("named.safetensors"), NULL, &m), YOLACT_OK);
    ck_assert_str_eq(yolact_model_get_info(m)->class_names[2], "star");
    yolact_model_free(m);

    t = tiny_trainer(4, 6);
    ck_assert_status(yolact_trainer_load_state(t, scratch_path("state.safetensors")), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("again.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    ck_assert_status(yl_weights_read(scratch_path("again.safetensors"), &table), YOLACT_OK);
    ck_assert_str_eq(yl_tensor_table_metadata(&table, YOLACT_CATEGORY_IDS_METADATA),
                     "7\n11\n30");
    yl_tensor_table_free(&table);
    /* A trainer made from the named checkpoint keeps its names. */
    ck_assert_status(yolact_trainer_create(scratch_path("named.safetensors"), NULL, &t), YOLACT_OK);
    ck_assert_status(yolact_trainer_save_weights(t, scratch_path("kept.safetensors")), YOLACT_OK);
    yolact_trainer_destroy(t);
    ck_assert_status(yl_weights_read(scratch_path("kept.safetensors"), &table), YOLACT_OK);
    ck_assert_str_eq(yl_tensor_table_metadata(&table, YOLACT_CLASS_NAMES_METADATA),
                     "circle\nsquare\nstar");
    yl_tensor_table_free(&table);
}
END_TEST

Suite *trainer_create_suite(void)
{
    Suite *s = suite_create("trainer_create");
    TCase *quick = tcase_create("arguments");
    tcase_add_test(quick, fresh_network_refuses_bad_arguments);
    suite_add_tcase(s, quick);
    /* Networks made, stepped and saved: seconds each, minutes under valgrind (its CI run
     * leaves "slow" out). */
    TCase *nets = tcase_create("networks");
    tcase_set_tags(nets, "slow");
    tcase_set_timeout(nets, 300);
    tcase_add_checked_fixture(nets, temp_open, scratch_close);
    tcase_add_test(nets, fresh_network_is_initialised_as_the_official);
    tcase_add_test(nets, fresh_network_narrows_the_backbone);
    tcase_add_test(nets, fresh_network_of_darknet53);
    tcase_add_test(nets, other_class_count_reinitialises_the_class_layers);
    tcase_add_test(nets, float_bgr_input_is_read_as_it_is);
    tcase_add_test(nets, classes_are_written_into_what_is_saved);
    suite_add_tcase(s, nets);
    return s;
}
