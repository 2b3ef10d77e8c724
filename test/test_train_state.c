/* Tests of the training state file (lib/weights/train_state.h): weights, momentum buffers,
 * iteration and optimizer settings written and read back bit for bit; the file is also a
 * checkpoint the model loader takes; states it must not write or read are refused. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "weights/train_state.h"
#include "yl_test.h"

static char path[64];

static void make_path(void)
{
    snprintf(path, sizeof path, "/tmp/yl_state_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* Random floats with the bit patterns that a text round trip would lose. */
static void fill(float *v, int64_t n, uint64_t *seed)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = yl_test_rand(seed, -1.0f, 1.0f) * 0x1p-20f;
    if (n > 2)
        v[0] = -0.0f, v[1] = 0x1p-149f, v[2] = nextafterf(1.0f, 2.0f);
}

static void assert_tables_equal(const yl_tensor_table *got, const yl_tensor_table *want)
{
    ck_assert_uint_eq(got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        const yl_tensor *g = &got->tensors[i], *w = &want->tensors[i];
        ck_assert_str_eq(g->name, w->name);
        ck_assert_int_eq(g->ndim, w->ndim);
        ck_assert(memcmp(g->shape, w->shape, sizeof g->shape[0] * (size_t)w->ndim) == 0);
        ck_assert_int_eq(g->numel, w->numel);
        ck_assert(!w->data || memcmp(g->data, w->data, (size_t)w->numel * sizeof(float)) == 0);
    }
}

/* The parity checkpoint's weights, a buffer for a few of its parameters, settings that
 * decimal text with fewer digits would not give back. */
START_TEST(state_round_trips_bit_for_bit)
{
    make_path();
    yl_train_state st = {0};
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &st.weights), YOLACT_OK);
    const char *keys[] = {"fpn.lat_layers.0.weight", "proto_net.0.bias",
                          "prediction_layers.0.conf_layer.weight"};
    yl_tensor buffers[3];
    uint64_t seed = 7;
    for (int i = 0; i < 3; i++) {
        const yl_tensor *p = yl_tensor_table_find(&st.weights, keys[i]);
        ck_assert_ptr_nonnull(p);
        buffers[i] = *p;
        buffers[i].dtype = YL_DTYPE_F32;
        buffers[i].data = malloc((size_t)p->numel * sizeof(float));
        fill(buffers[i].data, p->numel, &seed);
    }
    st.momentum = (yl_tensor_table){buffers, 3, NULL, 0};
    st.iteration = 123456789012;
    st.sgd = (yl_sgd_options){.lr = 1e-3 / 3, .momentum = 0.9, .dampening = 0.1,
                              .weight_decay = 5e-4, .nesterov = 1};
    st.loss_scale = 8192; /* an FP16 run's */
    st.loss_scale_good_steps = 1999;
    const char *meta[] = {"preset", "yolact_resnet50", NULL};
    ck_assert_status(yl_train_state_write(&st, meta, path), YOLACT_OK);

    yl_train_state got;
    ck_assert_status(yl_train_state_read(path, &got), YOLACT_OK);
    ck_assert_int_eq(got.iteration, st.iteration);
    ck_assert(memcmp(&got.sgd.lr, &st.sgd.lr, sizeof(double)) == 0);
    ck_assert(got.sgd.momentum == 0.9 && got.sgd.dampening == 0.1);
    ck_assert(got.sgd.weight_decay == 5e-4 && got.sgd.nesterov == 1);
    ck_assert(got.loss_scale == 8192 && got.loss_scale_good_steps == 1999);
    ck_assert_str_eq(yl_tensor_table_metadata(&got.weights, "preset"), "yolact_resnet50");
    ck_assert_str_eq(yl_tensor_table_metadata(&got.weights, "format"), "libyolact-train-state");
    assert_tables_equal(&got.weights, &st.weights);   /* float16 values, float32 now */
    assert_tables_equal(&got.momentum, &st.momentum);
    yl_train_state_free(&got);
    ck_assert_ptr_null(got.weights.tensors);

    /* The file is a checkpoint too: the buffers are the model's unused keys. */
    yolact_model *m = yl_test_load_model(path, "yolact_resnet50");
    const yolact_model_info *info = yolact_model_get_info(m);
    int buffers_unused = 0;
    for (int i = 0; i < info->num_unused_keys; i++)
        buffers_unused += strncmp(info->unused_keys[i], YL_TRAIN_STATE_MOMENTUM_PREFIX,
                                  sizeof YL_TRAIN_STATE_MOMENTUM_PREFIX - 1) == 0;
    ck_assert_int_eq(buffers_unused, 3);
    yolact_model_free(m);

    /* Before the first step: no buffers, iteration 0; FP32: no loss scale. */
    st.momentum.count = 0;
    st.iteration = 0;
    st.loss_scale = 0;
    ck_assert_status(yl_train_state_write(&st, NULL, path), YOLACT_OK);
    ck_assert_status(yl_train_state_read(path, &got), YOLACT_OK);
    ck_assert(got.iteration == 0 && got.momentum.count == 0);
    ck_assert(got.loss_scale == 0 && !yl_tensor_table_metadata(&got.weights, "loss_scale"));
    ck_assert_uint_eq(got.weights.count, st.weights.count);
    yl_train_state_free(&got);

    for (int i = 0; i < 3; i++)
        free(buffers[i].data);
    yl_tensor_table_free(&st.weights);
    unlink(path);
}
END_TEST

/* A small state for the refusals: weight "w" (2x2), its buffer. */
typedef struct small_state {
    float w[4], b[4];
    yl_tensor weight, buffer;
    yl_train_state st;
} small_state;

static void make_small(small_state *s)
{
    *s = (small_state){.w = {1, 2, 3, 4}, .b = {5, 6, 7, 8}};
    s->weight = (yl_tensor){"w", YL_DTYPE_F32, 2, {2, 2}, 4, s->w};
    s->buffer = s->weight;
    s->buffer.data = s->b;
    s->st.weights = (yl_tensor_table){&s->weight, 1, NULL, 0};
    s->st.momentum = (yl_tensor_table){&s->buffer, 1, NULL, 0};
    s->st.iteration = 3;
    s->st.sgd = (yl_sgd_options){.lr = 0.1, .momentum = 0.9};
}

START_TEST(bad_states_are_not_written)
{
    make_path();
    small_state s;
    struct {
        const char *message;
    } expect[] = {{"iteration -1"}, {"buffer 'v' has no parameter"},
                  {"not a floating tensor of its parameter's shape"},
                  {"weight 'momentum_buffer.w' is named as a momentum buffer"},
                  {"metadata 'lr' given twice"}, {"metadata 'x' has no value"},
                  {"loss scale nan"}};
    for (int c = 0; c < 7; c++) {
        make_small(&s);
        const char *meta_dup[] = {"lr", "1", NULL}, *meta_none[] = {"x", NULL};
        const char *const *meta = c == 4 ? meta_dup : c == 5 ? meta_none : NULL;
        if (c == 0)
            s.st.iteration = -1;
        if (c == 1)
            s.buffer.name = "v";
        if (c == 2)
            s.buffer.shape[1] = 1, s.buffer.numel = 2;
        if (c == 3)
            s.weight.name = "momentum_buffer.w", s.st.momentum.count = 0;
        if (c == 6)
            s.st.loss_scale = NAN;
        ck_assert_status(yl_train_state_write(&s.st, meta, path), YOLACT_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(yolact_last_error(), expect[c].message), "case %d: %s", c,
                      yolact_last_error());
    }
    /* Nothing was written over the empty file mkstemp made. */
    size_t size;
    free(yl_test_read_file(path, &size));
    ck_assert_uint_eq(size, 0);
    unlink(path);
}
END_TEST

/* Files that are no training state, or one whose metadata or buffers do not hold up. */
START_TEST(bad_state_files_are_refused)
{
    make_path();
    yl_train_state got = {0};
    ck_assert_status(yl_train_state_read(YL_TEST_PARITY_CHECKPOINT, &got), YOLACT_ERR_FORMAT);
    ck_assert_msg(strstr(yolact_last_error(), "not a training state"), "%s", yolact_last_error());
    ck_assert(got.weights.count == 0 && got.momentum.count == 0);

    small_state s;
    static const struct {
        const char *key, *value;
        yolact_status status;
        const char *message;
    } cases[] = {
        {"format_version", "2", YOLACT_ERR_UNSUPPORTED, "format_version '2'"},
        {"iteration", "12x", YOLACT_ERR_FORMAT, "'iteration' is '12x', not a number"},
        {"iteration", "-3", YOLACT_ERR_FORMAT, "'iteration' is '-3'"},
        {"iteration", "99999999999999999999", YOLACT_ERR_FORMAT, "not a number"},
        {"lr", " 0.1", YOLACT_ERR_FORMAT, "'lr' is ' 0.1', not a number"},
        {"momentum", "", YOLACT_ERR_FORMAT, "without its 'momentum'"},
        {"weight_decay", "1e999", YOLACT_ERR_FORMAT, "not a number"},
        {"nesterov", "yes", YOLACT_ERR_FORMAT, "'nesterov' is 'yes', not 0 or 1"},
    };
    const char *keys[] = {"format", "format_version", "iteration", "lr", "momentum",
                          "dampening", "weight_decay", "nesterov"};
    const char *good[] = {"libyolact-train-state", "1", "3", "0.1", "0.9", "0", "0", "0"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *meta[17];
        for (int k = 0; k < 8; k++) {
            meta[2 * k] = keys[k];
            meta[2 * k + 1] = strcmp(keys[k], cases[c].key) == 0 ? cases[c].value : good[k];
        }
        meta[16] = NULL;
        make_small(&s);
        yl_tensor both[2] = {s.weight, s.buffer};
        both[1].name = "momentum_buffer.w";
        yl_tensor_table t = {both, 2, NULL, 0};
        ck_assert_status(yl_weights_write_safetensors(&t, YL_DTYPE_F32, meta, path), YOLACT_OK);
        ck_assert_status(yl_train_state_read(path, &got), cases[c].status);
        ck_assert_msg(strstr(yolact_last_error(), cases[c].message), "case %zu: %s", c,
                      yolact_last_error());
        ck_assert(got.weights.count == 0 && got.weights.metadata == NULL);
    }

    /* A buffer of another shape than its parameter, and one without a parameter. */
    make_small(&s);
    ck_assert_status(yl_train_state_write(&s.st, NULL, path), YOLACT_OK);
    yl_tensor_table t;
    ck_assert_status(yl_weights_read(path, &t), YOLACT_OK);
    const char *meta[2 * 8 + 1];
    for (size_t k = 0; k < t.metadata_count; k++)
        meta[2 * k] = t.metadata[2 * k], meta[2 * k + 1] = t.metadata[2 * k + 1];
    meta[2 * t.metadata_count] = NULL;
    for (int c = 0; c < 2; c++) {
        t.tensors[1].ndim = c == 0 ? 1 : 2;
        t.tensors[1].shape[0] = c == 0 ? 4 : 2;
        if (c == 1) {
            free(t.tensors[1].name);
            t.tensors[1].name = strdup("momentum_buffer.nothing");
        }
        ck_assert_status(yl_weights_write_safetensors(&t, YL_DTYPE_F32, meta, path), YOLACT_OK);
        ck_assert_status(yl_train_state_read(path, &got), YOLACT_ERR_FORMAT);
        ck_assert_msg(strstr(yolact_last_error(), c == 0 ? "not a floating tensor of its "
                             "parameter's shape" : "'nothing' has no parameter"), "%s",
                      yolact_last_error());
        ck_assert(got.momentum.count == 0 && got.momentum.tensors == NULL);
    }
    yl_tensor_table_free(&t);
    unlink(path);
}
END_TEST

Suite *train_state_suite(void)
{
    Suite *s = suite_create("train_state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, state_round_trips_bit_for_bit);
    tcase_add_test(tc, bad_states_are_not_written);
    tcase_add_test(tc, bad_state_files_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
