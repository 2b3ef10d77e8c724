/* The benchmark's random networks (bench/support/random_weights.c) and the stage profile
 * (lib/profile.c) and the work per stage the bench divides by (bench/support/stage_flops.c):
 * every preset's random network loads and describes itself as the preset
 * says, the values are seeded and scaled as documented, and ops map to their stages; and
 * yolact-bench's CUDA columns, run on the emulated backend (build/yolact-bench-emu, or
 * YL_TEST_BENCH): the session's device memory, the machine facts and whether the network
 * ran as a CUDA graph reach its JSON; and
 * bench/compare says why it skips a side it cannot run: on a GPU (--device cuda), and ONNX
 * Runtime's column on the CPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench/support/random_weights.h"
#include "../bench/support/stage_flops.h"

#include "cpu/gemm.h"
#include "cuda/weights.h"
#include "model/model.h"
#include "profile.h"
#include "scratch_dir.h"
#include "yl_test.h"

typedef struct expected_net {
    const char *preset;
    yolact_backbone_kind backbone;
    int stages, depth[5], channels[5], input_size;
    int dcn[5], anchors, maskiou_layers; /* YOLACT++: DCN blocks per stage, 9, 6 */
} expected_net;

#define RESNET_CHANNELS {256, 512, 1024, 2048}
static const expected_net nets[] = {
    {"yolact_base", YOLACT_BACKBONE_RESNET, 4, {3, 4, 23, 3}, RESNET_CHANNELS, 550, {0}, 3, 0},
    {"yolact_im400", YOLACT_BACKBONE_RESNET, 4, {3, 4, 23, 3}, RESNET_CHANNELS, 400, {0}, 3, 0},
    {"yolact_im700", YOLACT_BACKBONE_RESNET, 4, {3, 4, 23, 3}, RESNET_CHANNELS, 700, {0}, 3, 0},
    {"yolact_resnet50", YOLACT_BACKBONE_RESNET, 4, {3, 4, 6, 3}, RESNET_CHANNELS, 550, {0}, 3,
     0},
    {"yolact_darknet53", YOLACT_BACKBONE_DARKNET, 5, {1, 2, 8, 8, 4},
     {64, 128, 256, 512, 1024}, 550, {0}, 3, 0},
    /* The official resnet101_dcn_inter3 (DCN in the last 4, 23, 3 blocks of stages 2-4, every
     * third, and the first) and resnet50_dcnv2 (every block of stages 2-4). */
    {"yolact_plus_base", YOLACT_BACKBONE_RESNET, 4, {3, 4, 23, 3}, RESNET_CHANNELS, 550,
     {0, 2, 8, 1}, 9, 6},
    {"yolact_plus_resnet50", YOLACT_BACKBONE_RESNET, 4, {3, 4, 6, 3}, RESNET_CHANNELS, 550,
     {0, 4, 6, 3}, 9, 6},
};

/* Parameters inference uses, counted independently of the builder: every floating tensor
 * but BatchNorm running statistics and the training-only semantic segmentation conv. */
static int64_t count_parameters(const yl_tensor_table *t)
{
    int64_t n = 0;
    for (size_t i = 0; i < t->count; i++) {
        const char *name = t->tensors[i].name;
        if (t->tensors[i].data && !strstr(name, "running_") &&
            strncmp(name, "semantic_seg_conv.", 18) != 0)
            n += t->tensors[i].numel;
    }
    return n;
}

START_TEST(random_network_loads_as_its_preset)
{
    const expected_net *e = &nets[_i];
    yl_tensor_table table;
    ck_assert_status(yl_random_weights(e->preset, 7, &table), YOLACT_OK);
    yolact_model *model;
    ck_assert_status(yl_model_build(&table, yl_preset_find(e->preset), YOLACT_PRESET_GIVEN,
                                    &model), YOLACT_OK);
    const yolact_model_info *in = yolact_model_get_info(model);
    ck_assert_str_eq(in->preset, e->preset);
    ck_assert_int_eq(in->backbone, e->backbone);
    ck_assert_int_eq(in->backbone_stages, e->stages);
    for (int s = 0; s < e->stages; s++) {
        ck_assert_msg(in->stage_depth[s] == e->depth[s], "%s stage %d: depth %d, expected %d",
                      e->preset, s, in->stage_depth[s], e->depth[s]);
        ck_assert_msg(in->stage_channels[s] == e->channels[s],
                      "%s stage %d: %d channels, expected %d", e->preset, s,
                      in->stage_channels[s], e->channels[s]);
        ck_assert_msg(in->stage_dcn[s] == e->dcn[s], "%s stage %d: %d DCN blocks, expected %d",
                      e->preset, s, in->stage_dcn[s], e->dcn[s]);
    }
    ck_assert_int_eq(in->maskiou_layers, e->maskiou_layers);
    ck_assert_int_eq(in->fpn_channels, 256);
    ck_assert_int_eq(in->fpn_downsample_levels, 2);
    ck_assert_int_eq(in->num_levels, 5);
    ck_assert_int_eq(in->protonet_channels, 256);
    ck_assert_int_eq(in->protonet_layers, 5);
    ck_assert_int_eq(in->num_prototypes, 32);
    ck_assert_int_eq(in->anchors_per_cell, e->anchors);
    ck_assert_int_eq(in->num_classes, 81);
    ck_assert_int_eq(in->input_size, e->input_size);
    ck_assert_int_eq(in->num_parameters, count_parameters(&table));
    /* Left over: the training-only head and the BatchNorm step counters, nothing else. */
    int counters = 0;
    for (size_t i = 0; i < table.count; i++)
        counters += strstr(table.tensors[i].name, ".num_batches_tracked") != NULL;
    ck_assert_int_eq(in->num_unused_keys, 2 + counters);
    for (int i = 0; i < in->num_unused_keys; i++)
        ck_assert_msg(strncmp(in->unused_keys[i], "semantic_seg_conv.", 18) == 0 ||
                      strstr(in->unused_keys[i], ".num_batches_tracked"),
                      "unexpected unused key '%s'", in->unused_keys[i]);
    yolact_model_free(model);
    yl_tensor_table_free(&table);
}
END_TEST

START_TEST(random_weights_are_seeded_and_scaled)
{
    yl_tensor_table a, b, c;
    ck_assert_status(yl_random_weights("yolact_resnet50", 1, &a), YOLACT_OK);
    ck_assert_status(yl_random_weights("yolact_resnet50", 1, &b), YOLACT_OK);
    ck_assert_status(yl_random_weights("yolact_resnet50", 2, &c), YOLACT_OK);
    ck_assert_uint_eq(a.count, b.count);
    const yl_tensor *w = yl_tensor_table_find(&a, "backbone.layers.3.0.conv2.weight");
    const yl_tensor *w_same = yl_tensor_table_find(&b, "backbone.layers.3.0.conv2.weight");
    const yl_tensor *w_other = yl_tensor_table_find(&c, "backbone.layers.3.0.conv2.weight");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->shape[0], 512);
    ck_assert_int_eq(w->shape[1], 512);
    ck_assert_int_eq(w->numel, 512 * 512 * 9);
    int64_t differ = 0;
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        ck_assert_msg(w->data[i] == w_same->data[i], "seed 1 twice differs at %lld: %g vs %g",
                      (long long)i, w->data[i], w_same->data[i]);
        differ += w->data[i] != w_other->data[i];
        sum += w->data[i];
        sum2 += (double)w->data[i] * w->data[i];
    }
    ck_assert_msg(differ > w->numel * 99 / 100, "seeds 1 and 2 share %lld of %lld values",
                  (long long)(w->numel - differ), (long long)w->numel);
    /* N(0, sqrt(2 / fan_in)), fan_in = 512 * 9: over 2.4M samples mean and std are tight. */
    double mean = sum / w->numel, std = sqrt(sum2 / w->numel - mean * mean);
    double expected = sqrt(2.0 / (512 * 9));
    ck_assert_msg(fabs(mean) < 1e-4 && fabs(std / expected - 1) < 0.01,
                  "mean %g std %g, expected 0 and %g", mean, std, expected);
    const yl_tensor *var = yl_tensor_table_find(&a, "backbone.layers.3.0.bn2.running_var");
    ck_assert_ptr_nonnull(var);
    for (int64_t i = 0; i < var->numel; i++)
        ck_assert_msg(var->data[i] >= 0.9f && var->data[i] <= 1.1f,
                      "running_var[%lld] = %g outside [0.9, 1.1]", (long long)i, var->data[i]);
    yl_tensor_table_free(&a);
    yl_tensor_table_free(&b);
    yl_tensor_table_free(&c);
}
END_TEST

START_TEST(unknown_preset_is_refused)
{
    yl_tensor_table t;
    ck_assert_status(yl_random_weights("yolact_plus_huge", 0, &t), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(t.count, 0);
    ck_assert_ptr_null(t.tensors);
}
END_TEST

/* The stage of each op of the parity network as its checkpoint module's prefix says:
 * backbone., fpn., proto_net., prediction_layers. (the builder records it as the op's part). */
static yl_stage stage_of_module(const char *name)
{
    static const struct {
        const char *prefix;
        yl_stage stage;
    } rules[] = {{"backbone.", YL_STAGE_BACKBONE},
                 {"fpn.", YL_STAGE_FPN},
                 {"proto_net.", YL_STAGE_PROTONET},
                 {"prediction_layers.", YL_STAGE_HEADS}};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strncmp(name, rules[i].prefix, strlen(rules[i].prefix)) == 0)
            return rules[i].stage;
    return YL_STAGE_COUNT;
}

START_TEST(ops_map_to_their_stages)
{
    yolact_model *model = yl_test_parity_model();
    int seen[YL_STAGE_COUNT] = {0};
    for (int i = 0; i < model->num_ops; i++) {
        const yl_op *op = &model->ops[i];
        ck_assert_msg(yl_stage_of_op(op) == stage_of_module(op->name), "op %s: stage %s",
                      op->name, yl_stage_name(yl_stage_of_op(op)));
        seen[yl_stage_of_op(op)]++;
    }
    yolact_model_free(model);
    for (yl_stage s = YL_STAGE_BACKBONE; s <= YL_STAGE_HEADS; s++)
        ck_assert_msg(seen[s] > 0, "no op in stage %s", yl_stage_name(s));
    ck_assert_str_eq(yl_stage_name(YL_STAGE_DETECT), "detect");
    ck_assert_str_eq(yl_stage_name(YL_STAGE_COUNT), "unknown");
}
END_TEST

/* A profiled frame of the bundled (reduced) network: every CPU stage took time, the copy
 * stages none, and the frame was counted once; each op's time, asked for, went to its op,
 * and a stage's ops add up to no more than the stage (the stage also holds the time between
 * ops' laps, none of it outside). */
START_TEST(profile_times_every_cpu_stage)
{
    yolact_model *model = yl_test_parity_model();
    yolact_session *session;
    ck_assert_status(yolact_session_create(model, NULL, &session), YOLACT_OK);
    static uint8_t pixels[48 * 32 * 3];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)(i * 37);
    yolact_image image = {pixels, 48, 32, 48 * 3, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    double *op_seconds = calloc((size_t)model->num_ops, sizeof *op_seconds);
    ck_assert_ptr_nonnull(op_seconds);
    yl_profile profile = {.op_seconds = op_seconds};
    ck_assert_status(yl_session_set_profile(session, &profile), YOLACT_OK);
    const yolact_result *result;
    ck_assert_status(yolact_session_detect(session, &image, &result), YOLACT_OK);
    ck_assert_int_eq(profile.frames, 1);
    for (int s = 0; s < YL_STAGE_COUNT; s++) {
        int copies = s == YL_STAGE_UPLOAD || s == YL_STAGE_DOWNLOAD;
        ck_assert_msg(copies ? profile.seconds[s] == 0 : profile.seconds[s] > 0,
                      "stage %s took %g s", yl_stage_name((yl_stage)s), profile.seconds[s]);
    }
    double by_stage[YL_STAGE_COUNT] = {0};
    for (int i = 0; i < model->num_ops; i++) {
        ck_assert_msg(op_seconds[i] >= 0, "op %s took %g s", model->ops[i].name, op_seconds[i]);
        by_stage[yl_stage_of_op(&model->ops[i])] += op_seconds[i];
    }
    for (yl_stage s = YL_STAGE_BACKBONE; s <= YL_STAGE_HEADS; s++)
        ck_assert_msg(by_stage[s] > 0 && by_stage[s] <= profile.seconds[s] * (1 + 1e-9),
                      "stage %s: its ops took %g s of its %g s", yl_stage_name(s), by_stage[s],
                      profile.seconds[s]);
    ck_assert_status(yl_session_set_profile(session, NULL), YOLACT_OK);
    ck_assert_status(yolact_session_detect(session, &image, &result), YOLACT_OK);
    ck_assert_int_eq(profile.frames, 1);
    free(op_seconds);
    yolact_session_free(session);
    yolact_model_free(model);
}
END_TEST

/* The work per stage yolact-bench divides by the stage times: the parity network's protonet
 * (test/data/parity/README.md: three 64->64 3x3 convolutions on P3, 69x69; the upsample to
 * 138x138, one more, then 64->32 1x1) by hand, convolutions in every network stage and none
 * elsewhere; and the nominal peak is the product it says. */
START_TEST(stage_flops_count_the_convolutions)
{
    yolact_model *model = yl_test_parity_model();
    stage_flops w;
    stage_flops_count(model, &w);
    double proto = 2.0 * (3 * 64 * 64 * 9 * 69 * 69 + 64 * 64 * 9 * 138 * 138 +
                          64 * 32 * 138 * 138) * 1e-9;
    ck_assert_double_eq_tol(w.gflop[YL_STAGE_PROTONET], proto, 1e-9);
    for (int s = 0; s < YL_STAGE_COUNT; s++) {
        int network = s == YL_STAGE_BACKBONE || s == YL_STAGE_FPN || s == YL_STAGE_PROTONET ||
                      s == YL_STAGE_HEADS;
        ck_assert_msg(network ? w.gflop[s] > 0 : w.gflop[s] == 0, "stage %s: %g GFLOP",
                      yl_stage_name((yl_stage)s), w.gflop[s]);
    }
    const cpu_peak *p = &w.peak;
    ck_assert_double_eq_tol(p->core_gflops, p->ghz * p->fma_units * p->lanes * 2, 1e-9);
    ck_assert(p->lanes == 4 || p->lanes == 8 || p->lanes == 16);
    yolact_model_free(model);
}
END_TEST

/* The integer after "key": in a JSON text, or -1. */
static long long json_integer(const char *doc, const char *key)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(doc, quoted);
    long long v;
    return at && sscanf(at + strlen(quoted), " %lld", &v) == 1 ? v : -1;
}

/* Runs the bench (YL_TEST_BENCH, or the emulated one) with args and --json json; asserts it
 * succeeded and that its output contains expect; returns the JSON text (the caller frees). */
static const char *bench_binary(void)
{
    const char *bench = getenv("YL_TEST_BENCH");
    return bench && bench[0] ? bench : "build/yolact-bench-emu";
}

/* A file's text, NUL-terminated (the caller frees). */
static char *read_text(const char *path)
{
    size_t size;
    char *doc = (char *)yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(doc);
    doc = realloc(doc, size + 1);
    ck_assert_ptr_nonnull(doc);
    doc[size] = '\0';
    return doc;
}

static char *run_bench_json(const char *args, const char *json, const char *expect)
{
    const char *bench = bench_binary();
    char cmd[1024], *out;
    remove(json);
    snprintf(cmd, sizeof cmd, "%s %s --json %s", bench, args, json);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    ck_assert_msg(strstr(out, expect), "no '%s' in the output of %s:\n%s", expect, cmd, out);
    free(out);
    return read_text(json);
}

/* Into a pipe, the bench still shows where it is (progress lines on stderr) and each result
 * as it is measured, not all at the end: the first run's result comes before the second
 * run's progress. */
START_TEST(piped_output_shows_progress)
{
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "%s -m %s -c yolact_resnet50 --size 64x48 --backend cpu "
             "--threads 1,2 --warmup 0 --iters 1 2>&1 | cat", bench_binary(),
             YL_TEST_PARITY_CHECKPOINT);
    ck_assert_int_eq(yl_test_run(cmd, &out), 0);
    const char *first_result = strstr(out, "cpu fp32, 1 thread, batch 1:");
    const char *second_progress = strstr(out, "cpu fp32 threads 2 batch 1: iteration 1/1");
    ck_assert_msg(strstr(out, "cpu fp32 threads 1 batch 1: iteration 1/1") && first_result &&
                  second_progress && first_result < second_progress, "%s", out);
    free(out);
}
END_TEST

/* The number after "key": in a JSON text, or NaN. */
static double json_number(const char *doc, const char *key)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(doc, quoted);
    return at ? strtod(at + strlen(quoted), NULL) : NAN;
}

/* A CPU run's stages are divided by the peak measured on this machine (a positive figure no
 * FMA count can exceed by much: not the nominal clock's), and of_peak is that quotient. */
START_TEST(cpu_json_divides_by_the_measured_peak)
{
    char args[512];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --size 64x48 --backend cpu "
             "--threads 1 --warmup 0 --iters 1", YL_TEST_PARITY_CHECKPOINT);
    char *doc = run_bench_json(args, scratch_path("cpu.json"), "GFLOP/s");
    double peak = json_number(doc, "peak_gflops");
    ck_assert_msg(peak > 1 && strstr(doc, "\"peak\": \"measured"), "%s", doc);
    const char *backbone = strstr(doc, "\"backbone\": {\"gflop\"");
    ck_assert_msg(backbone, "%s", doc);
    double gflops = json_number(backbone, "gflops"), of_peak = json_number(backbone, "of_peak");
    /* The JSON rounds the peak to 0.1 GFLOP/s and gflops to 0.01, so their quotient carries
     * up to ~0.5% relative rounding; a nominal-clock peak would be tens of percent off. */
    ck_assert_double_eq_tol(of_peak, gflops / peak, 5e-3 * of_peak + 1e-4);
    free(doc);
}
END_TEST

/* --per-op: a line and a JSON object per op of the network, each convolution with its
 * algorithm letter, and the ops' medians add up to about the network's stages. */
START_TEST(cpu_per_op_times_every_op)
{
    char args[512];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --size 64x48 --backend cpu "
             "--threads 1 --warmup 0 --iters 1 --per-op", YL_TEST_PARITY_CHECKPOINT);
    char *doc = run_bench_json(args, scratch_path("per-op.json"), "backbone.layers.3.0.conv3");
    yolact_model *model = yl_test_parity_model();
    const char *at = strstr(doc, "\"per_op\": [");
    ck_assert_msg(at, "%s", doc);
    int objects = 0, convs = 0;
    double sum_ms = 0;
    for (const char *o = strstr(at, "{\"name\""); o; o = strstr(o + 1, "{\"name\"")) {
        const char *algorithm = strstr(o, "\"algorithm\": \"") + strlen("\"algorithm\": \"");
        ck_assert_msg(model->ops[objects].kind == YL_OP_CONV ? strchr("gwo", *algorithm) != NULL
                                                             : *algorithm == '-',
                      "op %d (%s): algorithm %c", objects, model->ops[objects].name, *algorithm);
        convs += model->ops[objects].kind == YL_OP_CONV;
        sum_ms += json_number(o, "median_ms");
        objects++;
    }
    ck_assert_int_eq(objects, model->num_ops);
    ck_assert_int_gt(convs, 0);
    double stages = 0;
    for (const char *stage = "backbone\0fpn\0protonet\0heads\0"; *stage;
         stage += strlen(stage) + 1) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\": {\"median\"", stage);
        const char *series = strstr(doc, key);
        ck_assert_msg(series, "no %s in %s", key, doc);
        stages += strtod(strchr(series + strlen(key), ':') + 1, NULL);
    }
    /* One call: each stage is its ops' sum, both rounded to 1e-4 ms per number. */
    ck_assert_double_eq_tol(sum_ms, stages, 1e-4 * (model->num_ops + 4));
    yolact_model_free(model);
    free(doc);
}
END_TEST

/* yolact-bench on the CUDA backend writes the session's device memory, the very number an
 * identical session here holds after a frame of the same size, and the GPU it ran on. */
START_TEST(bench_json_carries_the_device_memory)
{
    char args[512];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --size 64x48 --backend cuda "
             "--threads 1 --warmup 0 --iters 1", YL_TEST_PARITY_CHECKPOINT);
    char *doc = run_bench_json(args, scratch_path("cuda.json"), "device memory");
    ck_assert_msg(strstr(doc, "\"backend\": \"cuda\"") && !strstr(doc, "\"skipped\""),
                  "the CUDA run did not run:\n%s", doc);
    ck_assert_msg(strstr(doc, "\"gpu\": {\"name\": \"CUDA emulation"), "%s", doc);
    /* The CPU products' kernels, OpenBLAS's choice or "portable". */
    char kernels[64];
    snprintf(kernels, sizeof kernels, "\"gemm_kernels\": \"%s\"", yl_gemm_kernels());
    ck_assert_msg(strstr(doc, kernels), "no %s in:\n%s", kernels, doc);
    ck_assert_msg(strstr(doc, "\"unprofiled_ms\": {\"median\""), "%s", doc);
    long long current = json_integer(doc, "current_bytes"), peak = json_integer(doc, "peak_bytes");

    yolact_model *model = yl_test_parity_model();
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = YOLACT_BACKEND_CUDA;
    yolact_session *session;
    ck_assert_status(yolact_session_create(model, &so, &session), YOLACT_OK);
    static uint8_t pixels[48 * 64 * 3];
    yolact_image image = {pixels, 64, 48, 64 * 3, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    const yolact_result *result;
    ck_assert_status(yolact_session_detect(session, &image, &result), YOLACT_OK);
    yl_device_memory m;
    ck_assert_status(yl_session_device_memory(session, &m), YOLACT_OK);
    ck_assert_msg(current == (long long)m.current_bytes && peak == (long long)m.peak_bytes,
                  "the bench says %lld bytes (peak %lld), a session holds %zu (peak %zu)",
                  current, peak, m.current_bytes, m.peak_bytes);
    yolact_session_free(session);
    yolact_model_free(model);
    free(doc);
}
END_TEST

/* yolact-bench says how each CUDA run's unprofiled calls ran the network: as a graph, or
 * op by op after the runtime refused the capture, and why (the emulation refusing it). */
START_TEST(bench_json_says_whether_the_graph_was_captured)
{
    char args[512];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --size 64x48 --backend cuda "
             "--threads 1 --warmup 0 --iters 1", YL_TEST_PARITY_CHECKPOINT);
    char *doc = run_bench_json(args, scratch_path("graphs.json"), "CUDA graphs: captured");
    ck_assert_msg(strstr(doc, "\"cuda_graphs\": \"captured\""), "%s", doc);
    free(doc);
    setenv("YL_EMU_REFUSE_CAPTURE", "1", 1);
    doc = run_bench_json(args, scratch_path("graphs.json"), "CUDA graphs: fallback: ");
    unsetenv("YL_EMU_REFUSE_CAPTURE");
    ck_assert_msg(strstr(doc, "\"cuda_graphs\": \"fallback: ") &&
                  strstr(doc, "cudaErrorStreamCaptureUnsupported"), "%s", doc);
    free(doc);
}
END_TEST

/* yolact-bench --conv-shapes times every shape of the network's own convolutions, ours and
 * cuDNN's, for each precision: the shapes' op counts add up to the model's own convolutions,
 * and every time is positive (on the emulation, where they mean nothing, but every step of
 * the timing runs). */
START_TEST(bench_times_our_convolutions_against_cudnn)
{
    char args[512];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --size 64x48 --backend cuda "
             "--precision fp32,fp16 --threads 1 --warmup 0 --iters 1 --conv-shapes",
             YL_TEST_PARITY_CHECKPOINT);
    char *doc = run_bench_json(args, scratch_path("conv-shapes.json"),
                               "convolutions of our kernels against cuDNN, fp16, batch 1");

    yolact_model *model = yl_test_parity_model();
    int own = 0;
    for (int i = 0; i < model->num_ops; i++)
        own += yl_cuda_is_own_conv(&model->ops[i]);
    yolact_model_free(model);
    ck_assert_int_gt(own, 0);
    const char *run = strstr(doc, "\"conv_shapes\": [");
    ck_assert_msg(run, "no conv_shapes in:\n%s", doc);
    for (int p = 0; p < 2; p++) {
        const char *precision = p ? "fp16" : "fp32";
        char key[64];
        snprintf(key, sizeof key, "{\"precision\": \"%s\", \"batch\": 1, \"shapes\"", precision);
        const char *at = strstr(run, key);
        ck_assert_msg(at, "no %s shapes in:\n%s", precision, run);
        const char *end = strstr(at, "]}");
        ck_assert_ptr_nonnull(end);
        int ops = 0, shapes = 0;
        for (const char *q = strstr(at, "\"ops\": "); q && q < end;
             q = strstr(q + 1, "\"ops\": ")) {
            int n = 0;
            double own_ms = 0, cudnn_ms = 0;
            ck_assert_int_eq(sscanf(q, "\"ops\": %d", &n), 1);
            const char *t = strstr(q, "\"own_ms\": ");
            ck_assert_int_eq(sscanf(t, "\"own_ms\": %lf, \"cudnn_ms\": %lf", &own_ms,
                                    &cudnn_ms), 2);
            ck_assert_msg(own_ms > 0 && cudnn_ms > 0, "%s shape %d: %g and %g ms", precision,
                          shapes, own_ms, cudnn_ms);
            ops += n;
            shapes++;
        }
        ck_assert_msg(ops == own, "%s: the shapes cover %d convolutions, the model has %d",
                      precision, ops, own);
        ck_assert_int_lt(shapes, own);     /* the head's levels share shapes with nothing, the
                                              protonet's 3x3 layers share one */
    }
    free(doc);
}
END_TEST

/* bench/compare --device cuda where a side cannot run (no official checkout here, and on the
 * machines the tests run on no GPU or no CUDA PyTorch): it says why, times what can run, and
 * exits 0. */
START_TEST(compare_on_cuda_says_why_a_side_is_skipped)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP compare: no /usr/bin/python3\n");
        return;
    }
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd, "bench/compare --device cuda --bench build/yolact-bench "
             "--yolact-dir build/no-official-checkout --model %s --config yolact_resnet50 "
             "--warmup 0 --iters 1", YL_TEST_PARITY_CHECKPOINT);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    ck_assert_msg(strstr(out, "the official side is skipped: no official checkout at "
                              "build/no-official-checkout"), "%s", out);
    /* Without a GPU both sides are skipped in one line; with one, libyolact's table. */
    ck_assert_msg(strstr(out, "bench/compare --device cuda: skipped: libyolact cannot run on a "
                              "GPU here (") || strstr(out, "GPU fp32: libyolact (median"),
                  "%s", out);
    free(out);
}
END_TEST

/* bench/compare on the CPU with an --ort-python that is not there: it says why ONNX Runtime
 * is skipped (in its output and the JSON), and still times libyolact, network only included. */
START_TEST(compare_on_cpu_says_why_onnx_runtime_is_skipped)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP compare: no /usr/bin/python3\n");
        return;
    }
    const char *json = scratch_path("compare-ort-skipped.json");
    char cmd[1024], *out;
    remove(json);
    snprintf(cmd, sizeof cmd, "bench/compare --bench build/yolact-bench "
             "--yolact-dir build/no-official-checkout --model %s --config yolact_resnet50 "
             "--threads 1 --warmup 0 --iters 1 --ort-python build/no-such-python --json %s",
             YL_TEST_PARITY_CHECKPOINT, json);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    ck_assert_msg(strstr(out, "ONNX Runtime is skipped: no python at build/no-such-python "
                              "(--ort-python)."), "%s", out);
    ck_assert_msg(strstr(out, "network only, median ms: libyolact "), "%s", out);
    ck_assert_msg(!strstr(out, "onnxruntime "), "%s", out);
    free(out);
    char *doc = read_text(json);
    ck_assert_msg(strstr(doc, "\"onnxruntime_skipped\": \"no python at build/no-such-python "
                              "(--ort-python)\""), "%s", doc);
    ck_assert_msg(strstr(doc, "\"network_only\": {"), "%s", doc);
    free(doc);
    remove(json);
}
END_TEST

/* bench/compare --conv-modes times libyolact once per YOLACT_CPU_CONV mode: each mode's
 * network-only figure, and each mode's whole run (its algorithms) in the JSON. */
START_TEST(compare_times_each_conv_mode)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP compare: no /usr/bin/python3\n");
        return;
    }
    const char *json = scratch_path("compare-conv-modes.json");
    char cmd[1024], *out;
    remove(json);
    snprintf(cmd, sizeof cmd, "bench/compare --bench build/yolact-bench "
             "--yolact-dir build/no-official-checkout --model %s --config yolact_resnet50 "
             "--threads 1 --warmup 0 --iters 1 --conv-modes fixed,gemm --json %s",
             YL_TEST_PARITY_CHECKPOINT, json);
    int rc = yl_test_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, out);
    ck_assert_msg(strstr(out, "network only, median ms: libyolact ") &&
                  strstr(out, ", libyolact:gemm "), "%s", out);
    free(out);
    char *doc = read_text(json);
    const char *modes = strstr(doc, "\"libyolact_by_conv_mode\": {");
    ck_assert_msg(modes && strstr(modes, "\"fixed\": {") && strstr(modes, "\"gemm\": {"), "%s",
                  doc);
    /* gemm mode: every convolution by im2col + GEMM; fixed: Winograd where it applies. */
    const char *gemm_run = strstr(modes, "\"gemm\": {");
    const char *letters = strstr(gemm_run, "\"conv_algorithms\": \"");
    ck_assert_ptr_nonnull(letters);
    letters += strlen("\"conv_algorithms\": \"");
    ck_assert_int_eq((int)strspn(letters, "g"), (int)(strchr(letters, '"') - letters));
    ck_assert_msg(strstr(doc, "\"libyolact:gemm\": {"), "%s", doc);
    free(doc);
    remove(json);
}
END_TEST

static void open_scratch(void) { scratch_open("yl_bench"); }

Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    /* Full-size random networks (up to 50M parameters each): tagged "slow", which the valgrind
     * run leaves out (minutes each there); ASan runs them. */
    TCase *networks = tcase_create("random_networks");
    tcase_set_tags(networks, "slow");
    tcase_set_timeout(networks, 300);
    tcase_add_loop_test(networks, random_network_loads_as_its_preset, 0,
                        (int)(sizeof nets / sizeof nets[0]));
    tcase_add_test(networks, random_weights_are_seeded_and_scaled);
    suite_add_tcase(s, networks);
    /* The JSON files go to a fresh folder per test (profile, cuda, compare), so runners side by
     * side never share one. */
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_add_test(tc, unknown_preset_is_refused);
    tcase_add_test(tc, ops_map_to_their_stages);
    tcase_add_test(tc, profile_times_every_cpu_stage);
    tcase_add_test(tc, stage_flops_count_the_convolutions);
    tcase_add_test(tc, cpu_json_divides_by_the_measured_peak);
    tcase_add_test(tc, cpu_per_op_times_every_op);
    tcase_add_test(tc, piped_output_shows_progress);
    suite_add_tcase(s, tc);
    /* A whole emulated CUDA frame in a child process, and the GPU comparison: tagged "cuda", as
     * the CUDA backend's frames are (the sanitizer runs leave them out). */
    TCase *cuda = tcase_create("cuda");
    tcase_set_tags(cuda, "cuda");
    tcase_set_timeout(cuda, 300);
    tcase_add_checked_fixture(cuda, open_scratch, scratch_close);
    tcase_add_test(cuda, bench_json_carries_the_device_memory);
    tcase_add_test(cuda, bench_json_says_whether_the_graph_was_captured);
    tcase_add_test(cuda, bench_times_our_convolutions_against_cudnn);
    tcase_add_test(cuda, compare_on_cuda_says_why_a_side_is_skipped);
    suite_add_tcase(s, cuda);
    /* The CPU comparison runs the parity network in python's child processes: "slow", which
     * the valgrind run leaves out. */
    TCase *compare = tcase_create("compare");
    tcase_set_tags(compare, "slow");
    tcase_set_timeout(compare, 300);
    tcase_add_checked_fixture(compare, open_scratch, scratch_close);
    tcase_add_test(compare, compare_on_cpu_says_why_onnx_runtime_is_skipped);
    tcase_add_test(compare, compare_times_each_conv_mode);
    suite_add_tcase(s, compare);
    return s;
}
