/* yolact-bench: latency per stage, FPS and throughput of libyolact for every backend,
 * precision, thread count and batch size asked for, on a checkpoint or on a preset's network
 * with random weights; prints tables and optionally writes the numbers as JSON with the
 * machine, commit and date. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../examples/common/cli_error.h"
#include "../examples/common/cli_options.h"
#include "bench_util.h"
#include "conv_shapes.h"
#include "cpu/gemm.h"
#include "model/model.h"
#include "profile.h"
#include "support/cuda_facts.h"
#include "support/stage_flops.h"
#include "support/random_weights.h"
#include "yolact.h"

static const char usage[] =
    "usage: yolact-bench [-m WEIGHTS] [-c PRESET] [options]\n"
    "  -m, --model FILE        checkpoint; without one, PRESET's network with random weights\n"
    "  -c, --config PRESET     yolact_base (default), yolact_im400, yolact_im700,\n"
    "                          yolact_resnet50, yolact_darknet53, yolact_plus_base,\n"
    "                          yolact_plus_resnet50\n"
    "      --seed N            random weights' seed (default 0)\n"
    "      --image FILE        the image timed (PNG/JPEG); a batch repeats it\n"
    "      --size WxH          a synthetic image instead (default 640x480)\n"
    "      --backend LIST      comma-separated: cpu, cuda (default cpu)\n"
    "      --precision LIST    comma-separated: fp32, fp16 (default fp32)\n"
    "      --threads LIST      CPU threads, comma-separated (default: all cores)\n"
    "      --batch LIST        images a call, comma-separated (default 1)\n"
    "      --warmup N          untimed calls before timing (default 1)\n"
    "      --iters N           timed calls (default 10)\n"
    "      --score-threshold T keep detections scoring above T (default 0)\n"
    "      --conf-threshold T  candidate threshold of Detect (default 0.05)\n"
    "      --top-k K           detections kept per image (default 100)\n"
    "      --json FILE         also write every number as JSON\n"
    "      --per-op            CPU: also each op's median time, and for a convolution its\n"
    "                          algorithm, GFLOP/s and share of the peak\n"
    "      --conv-shapes       also time each protonet/head convolution shape with our CUDA\n"
    "                          kernel and with cuDNN (each --precision and --batch, --iters\n"
    "                          calls a side; skipped without a GPU)\n"
    "  -h, --help\n";

#define NUM_COLUMNS (YL_STAGE_COUNT + 2) /* the stages, "other", "total" */
#define COL_OTHER YL_STAGE_COUNT
#define COL_TOTAL (YL_STAGE_COUNT + 1)

typedef struct options {
    cli_options shared;         /* model, preset, backends, precisions, threads, score
                                   threshold, top-k */
    const char *image_path, *json_path;
    unsigned long long seed;
    int width, height;
    int batches[CLI_MAX_LIST], num_batches;
    int warmup, iters;
    float conf_threshold;
    int conv_shapes;
    int per_op;
} options;

/* One (backend, precision, threads, batch) combination and what was measured. */
typedef struct run {
    yolact_backend backend;
    yolact_precision precision;
    int threads, batch;
    char skipped[256];           /* why it did not run, or "" */
    double *ms[NUM_COLUMNS];     /* iters samples a column, milliseconds per call */
    double median[NUM_COLUMNS], p90[NUM_COLUMNS];
    /* CUDA: end-to-end times of calls without the profile, which run the network as one
     * CUDA graph (profiled calls run it op by op); NULL on the CPU, where timing the stages
     * costs nothing. FPS and images/s come from these when present. */
    double *unprofiled_ms;
    double unprofiled_median, unprofiled_p90;
    int detections;              /* of the first image, last call */
    long peak_rss_kb;            /* the process's, so far */
    yl_device_memory device;     /* the session's own device memory after the timed calls */
    yl_graphs graphs;            /* whether its network ran as a CUDA graph, or why not */
    char conv_algorithms[512];   /* CPU: each convolution's algorithm, a letter each */
    int num_ops;                 /* --per-op on the CPU: the network's ops, else 0 */
    double *op_ms;               /* iters x num_ops samples, ms per call, op by op */
    double *op_median;           /* num_ops medians */
} run;

static const char *backend_name(yolact_backend b)
{
    return b == YOLACT_BACKEND_CUDA ? "cuda" : b == YOLACT_BACKEND_CPU ? "cpu" : "auto";
}

static double mib(size_t bytes)
{
    return bytes / (1024.0 * 1024.0);
}

static const char *column_name(int c)
{
    return c == COL_OTHER ? "other" : c == COL_TOTAL ? "total" : yl_stage_name((yl_stage)c);
}

/* A number of one of the bench's own options; a bad one ends the program (exit 2). */
static double parse_double(const char *text, const char *option, double lo, double hi)
{
    double v;
    if (cli_number("yolact-bench", option, text, lo, hi, &v))
        exit(2);
    return v;
}

static void parse_args(int argc, char **argv, options *o)
{
    enum { O_SEED = 256, O_IMAGE, O_SIZE, O_BATCH, O_WARMUP, O_ITERS, O_CONF, O_JSON,
           O_CONV_SHAPES, O_PER_OP };
    static const struct option longs[] = {
        CLI_OPTIONS_MODEL, CLI_OPTIONS_SESSION, CLI_OPTION_SCORE_THRESHOLD, CLI_OPTION_TOP_K,
        {"seed", required_argument, 0, O_SEED}, {"image", required_argument, 0, O_IMAGE},
        {"size", required_argument, 0, O_SIZE}, {"batch", required_argument, 0, O_BATCH},
        {"warmup", required_argument, 0, O_WARMUP}, {"iters", required_argument, 0, O_ITERS},
        {"conf-threshold", required_argument, 0, O_CONF},
        {"json", required_argument, 0, O_JSON},
        {"conv-shapes", no_argument, 0, O_CONV_SHAPES},
        {"per-op", no_argument, 0, O_PER_OP},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    *o = (options){.width = 640, .height = 480, .num_batches = 1,
                   .batches = {1}, .warmup = 1, .iters = 10, .conf_threshold = 0.05f};
    cli_options_init(&o->shared, "yolact-bench", 1);
    o->shared.backends[0] = YOLACT_BACKEND_CPU;
    o->shared.precisions[0] = YOLACT_PRECISION_FP32;
    int opt;
    while ((opt = getopt_long(argc, argv, "m:c:h", longs, NULL)) != -1) {
        int taken = cli_options_parse(&o->shared, opt, optarg);
        if (taken < 0)
            exit(2);
        if (taken)
            continue;
        switch (opt) {
        case O_SEED: o->seed = (unsigned long long)parse_double(optarg, "--seed", 0, 1e15); break;
        case O_IMAGE: o->image_path = optarg; break;
        case O_SIZE:
            if (sscanf(optarg, "%dx%d", &o->width, &o->height) != 2 || o->width < 1 ||
                o->height < 1 || o->width > YOLACT_MAX_IMAGE_SIDE ||
                o->height > YOLACT_MAX_IMAGE_SIDE) {
                fprintf(stderr, "yolact-bench: --size wants WxH, got '%s'\n", optarg);
                exit(2);
            }
            break;
        case O_BATCH:
            if (cli_number_list("yolact-bench", "--batch", optarg, 1, 256, o->batches,
                                &o->num_batches))
                exit(2);
            break;
        case O_WARMUP: o->warmup = (int)parse_double(optarg, "--warmup", 0, 100000); break;
        case O_ITERS: o->iters = (int)parse_double(optarg, "--iters", 1, 100000); break;
        case O_CONF:
            o->conf_threshold = (float)parse_double(optarg, "--conf-threshold", 0, 0.999999);
            break;
        case O_JSON: o->json_path = optarg; break;
        case O_CONV_SHAPES: o->conv_shapes = 1; break;
        case O_PER_OP: o->per_op = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "yolact-bench: unexpected argument '%s'; see --help\n", argv[optind]);
        exit(2);
    }
    if (!o->shared.model_path && !o->shared.preset)
        o->shared.preset = "yolact_base";
}

static int fail(const char *what, yolact_status s)
{
    return cli_error("yolact-bench", what, s);
}

/* The preset's full network with random weights. */
static yolact_status random_model(const yl_preset *preset, unsigned long long seed,
                                  yolact_model **model)
{
    yl_tensor_table table;
    yolact_status s = yl_random_weights(preset->name, seed, &table);
    if (s == YOLACT_OK)
        s = yl_model_build(&table, preset, YOLACT_PRESET_GIVEN, model);
    yl_tensor_table_free(&table);
    return s;
}

/* A deterministic picture with edges and texture: gradients under a checkerboard and noise. */
static uint8_t *synthetic_image(int w, int h, yolact_image *im)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    if (!p)
        return NULL;
    uint32_t r = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            r = r * 1664525u + 1013904223u;
            int check = ((x / 64) ^ (y / 64)) & 1 ? 60 : 0, noise = (int)(r >> 27);
            uint8_t *px = p + ((size_t)y * w + x) * 3;
            px[0] = (uint8_t)((x * 255 / w + check + noise) & 255);
            px[1] = (uint8_t)((y * 255 / h + noise) & 255);
            px[2] = (uint8_t)((255 - x * 255 / w + check) & 255);
        }
    *im = (yolact_image){p, w, h, (size_t)w * 3, YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
    return p;
}

/* Peak resident memory in KiB. Linux's VmHWM belongs to this program's image; getrusage's
 * ru_maxrss survives execve, so under a large parent (bench/compare's Python with PyTorch
 * loaded) it reports the parent's peak: the fallback only. */
static long peak_rss_kb(void)
{
    long kb = -1;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    struct rusage ru;
    if (kb < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
        kb = ru.ru_maxrss;
    return kb;
}

/* Where the run is, on stderr: rewritten in place on a terminal; elsewhere (a log, a pipe) a
 * line at each phase's first call and then at most every 10 s. */
static void progress(int tty, const run *r, const char *phase, int i, int n, double last_ms)
{
    static double last_line;
    if (!tty) {
        if (i > 1 && yl_profile_now() - last_line < 10)
            return;
        last_line = yl_profile_now();
    }
    fprintf(stderr, "%s%s %s threads %d batch %d: %s %d/%d", tty ? "\r\033[K" : "",
            backend_name(r->backend), bench_precision_name(r->precision), r->threads,
            r->batch, phase, i, n);
    if (last_ms > 0)
        fprintf(stderr, " (last %.1f ms)", last_ms);
    fputs(tty ? "" : "\n", stderr);
    fflush(stderr);
}

/* warmup untimed calls, then iters timed ones: end-to-end times to total[], and with a profile
 * each call's stage times to r->ms. Returns 0 when a call failed. */
static int timed_calls(yolact_session *session, const options *o, int warmup,
                       const yolact_image *images, const yolact_result **results, run *r,
                       yl_profile *profile, double *total, int tty)
{
    const char *phase = profile ? "iteration" : "unprofiled";
    for (int it = -warmup; it < o->iters; it++) {
        if (it < 0)
            progress(tty, r, "warm-up", it + warmup + 1, warmup, 0);
        if (profile) {
            memset(profile->seconds, 0, sizeof profile->seconds);
            profile->frames = 0;
            if (r->num_ops)
                memset(profile->op_seconds, 0, (size_t)r->num_ops * sizeof(double));
        }
        double t0 = yl_profile_now();
        yolact_status s = yolact_session_detect_batch(session, images, r->batch, results);
        double t1 = yl_profile_now();
        if (s != YOLACT_OK)
            return !fail("detect", s);
        if (it < 0)
            continue;
        total[it] = 1e3 * (t1 - t0);
        r->detections = results[0]->count;
        progress(tty, r, phase, it + 1, o->iters, total[it]);
        if (!profile)
            continue;
        double staged = 0;
        for (int c = 0; c < YL_STAGE_COUNT; c++) {
            r->ms[c][it] = 1e3 * profile->seconds[c];
            staged += profile->seconds[c];
        }
        r->ms[COL_OTHER][it] = total[it] - 1e3 * staged;
        for (int i = 0; i < r->num_ops; i++)
            r->op_ms[(size_t)it * r->num_ops + i] = 1e3 * profile->op_seconds[i];
    }
    return 1;
}

/* Time one combination: warm-up calls, then iters timed calls with the stage profile on;
 * on CUDA then as many without it (after a warm-up call that captures the graph). */
static int measure(const yolact_model *model, const options *o, const yolact_image *image,
                   run *r, int tty)
{
    yolact_session_options so;
    yolact_session_options_init(&so);
    so.backend = r->backend;
    so.precision = r->precision;
    so.num_threads = r->threads;
    so.score_threshold = o->shared.score_threshold;
    so.conf_threshold = o->conf_threshold;
    so.max_detections = o->shared.top_k;
    so.batch_size = r->batch; /* the CUDA backend runs the whole batch in one pass */
    yolact_session *session;
    yolact_status s = yolact_session_create(model, &so, &session);
    if (s == YOLACT_ERR_BACKEND_UNAVAILABLE || s == YOLACT_ERR_UNSUPPORTED) {
        snprintf(r->skipped, sizeof r->skipped, "%s", yolact_last_error());
        return 0;
    }
    if (s != YOLACT_OK)
        return fail("creating a session", s);
    yolact_image *images = malloc((size_t)r->batch * sizeof *images);
    const yolact_result **results = malloc((size_t)r->batch * sizeof *results);
    double *scratch = malloc((size_t)o->iters * sizeof *scratch);
    double *op_seconds = NULL;   /* --per-op: the profile's, one per op */
    int ok = images && results && scratch;
    for (int c = 0; c < NUM_COLUMNS; c++)
        ok = ok && (r->ms[c] = calloc((size_t)o->iters, sizeof(double)));
    if (!ok) {
        fprintf(stderr, "yolact-bench: out of memory\n");
        goto done;
    }
    for (int i = 0; i < r->batch; i++)
        images[i] = *image;

    yl_profile profile = {0};
    if (o->per_op && r->backend == YOLACT_BACKEND_CPU) {
        r->num_ops = model->num_ops;
        op_seconds = calloc((size_t)r->num_ops, sizeof *op_seconds);
        r->op_ms = calloc((size_t)o->iters * r->num_ops, sizeof *r->op_ms);
        r->op_median = calloc((size_t)r->num_ops, sizeof *r->op_median);
        if (!op_seconds || !r->op_ms || !r->op_median) {
            fprintf(stderr, "yolact-bench: out of memory\n");
            ok = 0;
            goto done;
        }
        profile.op_seconds = op_seconds;
    }
    yl_session_set_profile(session, &profile);
    ok = timed_calls(session, o, o->warmup, images, results, r, &profile, r->ms[COL_TOTAL], tty);
    if (ok && r->backend == YOLACT_BACKEND_CUDA) {
        yl_session_set_profile(session, NULL);
        if (!(r->unprofiled_ms = calloc((size_t)o->iters, sizeof(double)))) {
            fprintf(stderr, "yolact-bench: out of memory\n");
            goto done;
        }
        ok = timed_calls(session, o, o->warmup > 0 ? o->warmup : 1, images, results, r, NULL,
                         r->unprofiled_ms, tty);
    }
    if (tty)
        fputs("\r\033[K", stderr);
    for (int c = 0; ok && c < NUM_COLUMNS; c++) {
        r->median[c] = yl_quantile(r->ms[c], o->iters, 0.5, scratch);
        r->p90[c] = yl_quantile(r->ms[c], o->iters, 0.9, scratch);
    }
    for (int i = 0; ok && i < r->num_ops; i++) {
        for (int it = 0; it < o->iters; it++)
            scratch[it] = r->op_ms[(size_t)it * r->num_ops + i];
        r->op_median[i] = yl_quantile(scratch, o->iters, 0.5, scratch);
    }
    if (ok && r->unprofiled_ms) {
        r->unprofiled_median = yl_quantile(r->unprofiled_ms, o->iters, 0.5, scratch);
        r->unprofiled_p90 = yl_quantile(r->unprofiled_ms, o->iters, 0.9, scratch);
    }
    r->peak_rss_kb = peak_rss_kb();
    yl_session_device_memory(session, &r->device);
    yl_session_graphs(session, &r->graphs);
    yl_session_conv_algorithms(session, r->conv_algorithms, sizeof r->conv_algorithms);
done:
    free(op_seconds);
    free(images);
    free(results);
    free(scratch);
    yolact_session_free(session);
    return ok ? 0 : 1;
}

/* How the unprofiled calls ran the network: "captured" (one CUDA graph a pass), "fallback:
 * <why>" (op by op: the runtime refused the capture), or NULL where no graph was tried. */
static const char *graphs_text(const run *r, char *text, size_t size)
{
    if (r->graphs.fallbacks)
        snprintf(text, size, "fallback: %s", r->graphs.fallback_reason);
    else if (r->graphs.captured)
        snprintf(text, size, "captured");
    return r->graphs.fallbacks || r->graphs.captured ? text : NULL;
}

/* The end-to-end median an application sees: without the profile where measured. */
static double end_to_end_ms(const run *r)
{
    return r->unprofiled_ms ? r->unprofiled_median : r->median[COL_TOTAL];
}

/* How many convolutions took each algorithm, then the letters layer by layer. */
static void print_conv_algorithms(const char *letters)
{
    int count[3] = {0};
    for (const char *c = letters; *c; c++)
        count[*c == 'g' ? 0 : *c == 'w' ? 1 : 2]++;
    printf("  convolutions: %d im2col+GEMM, %d Winograd, %d oneDNN (YOLACT_CPU_CONV=%s; by "
           "layer: %s)\n", count[0], count[1], count[2],
           getenv("YOLACT_CPU_CONV") && *getenv("YOLACT_CPU_CONV") ? getenv("YOLACT_CPU_CONV")
                                                                   : "fixed",
           letters);
}

static void print_run(const run *r, const options *o, const stage_flops *flops,
                      const yolact_model *model)
{
    printf("\n%s %s, %d thread%s, batch %d", backend_name(r->backend),
           bench_precision_name(r->precision), r->threads, r->threads == 1 ? "" : "s", r->batch);
    if (r->skipped[0]) {
        printf(": skipped (%s)\n", r->skipped);
        return;
    }
    printf(": %d timed call%s after %d warm-up, %d detection%s, peak RSS %.0f MiB", o->iters,
           o->iters == 1 ? "" : "s", o->warmup, r->detections, r->detections == 1 ? "" : "s",
           r->peak_rss_kb / 1024.0);
    if (r->backend == YOLACT_BACKEND_CUDA)
        printf(", device memory %.1f MiB (peak %.1f MiB)", mib(r->device.current_bytes),
               mib(r->device.peak_bytes));
    printf("\n");
    printf("  %-11s %10s %10s %7s\n", "stage", "median ms", "p90 ms", "share");
    for (int c = 0; c < NUM_COLUMNS; c++) {
        /* Stages a backend does not have (no copies on the CPU) are left out. */
        if (c < YL_STAGE_COUNT && r->median[c] == 0 && r->p90[c] == 0)
            continue;
        printf("  %-11s %10.2f %10.2f", column_name(c), r->median[c], r->p90[c]);
        if (c != COL_TOTAL)
            printf(" %6.1f%%", 100 * r->median[c] / r->median[COL_TOTAL]);
        printf("\n");
    }
    char graphs[sizeof r->graphs.fallback_reason + 16];
    if (r->unprofiled_ms)
        printf("  %-11s %10.2f %10.2f  (end to end without the profile; CUDA graphs: %s)\n",
               "unprofiled", r->unprofiled_median, r->unprofiled_p90,
               graphs_text(r, graphs, sizeof graphs) ? graphs : "none");
    printf("  %s %.2f\n", r->batch == 1 ? "FPS" : "images/s", r->batch * 1e3 / end_to_end_ms(r));
    if (r->backend == YOLACT_BACKEND_CPU) {
        print_conv_algorithms(r->conv_algorithms);
        stage_flops_print(flops, r->median, r->threads, r->batch);
        if (r->num_ops)
            op_flops_print(model, flops, r->op_median, r->conv_algorithms, r->threads,
                           r->batch);
    }
}

/* Peak RSS is the process's up to that run; device memory the run's session's own peak;
 * CUDA times are the unprofiled calls'. */
static void print_summary(const run *runs, int n)
{
    printf("\n%-7s %-9s %7s %5s %12s %12s %10s %9s %10s\n", "backend", "precision", "threads",
           "batch", "median ms", "p90 ms", "images/s", "RSS MiB", "device MiB");
    for (int i = 0; i < n; i++) {
        const run *r = &runs[i];
        printf("%-7s %-9s %7d %5d ", backend_name(r->backend), bench_precision_name(r->precision),
               r->threads, r->batch);
        if (r->skipped[0]) {
            printf("%12s\n", "skipped");
            continue;
        }
        printf("%12.2f %12.2f %10.2f %9.0f ", end_to_end_ms(r),
               r->unprofiled_ms ? r->unprofiled_p90 : r->p90[COL_TOTAL],
               r->batch * 1e3 / end_to_end_ms(r), r->peak_rss_kb / 1024.0);
        if (r->backend == YOLACT_BACKEND_CUDA)
            printf("%10.1f\n", mib(r->device.peak_bytes));
        else
            printf("%10s\n", "-");
    }
}

/* ---- machine description and JSON ---- */

/* The first line of a command's output without its newline, or "" (the command's errors
 * are discarded). */
static void command_line(const char *command, char *out, size_t size)
{
    out[0] = '\0';
    FILE *p = popen(command, "r");
    if (!p)
        return;
    if (!fgets(out, (int)size, p))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static void cpu_model(char *out, size_t size)
{
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon++;
            while (isspace((unsigned char)*colon))
                colon++;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(out, size, "%s", colon);
            break;
        }
    }
    fclose(f);
}

/* The GPU as recorded: the library's own facts (yl_cuda_describe: the device, the runtime
 * linked into libyolact, the cuDNN it opened) when a CUDA backend is benched and usable, and
 * the driver's release, which only the driver knows (nvidia-smi, or /proc). */
typedef struct gpu_record {
    int described;
    yl_cuda_facts facts;
    char name[512], driver[64]; /* nvidia-smi's, "" when unknown */
} gpu_record;

/* "13.0" for 13000, "" for 0 (unknown). */
static const char *cuda_version(int v, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%d", v / 1000, v % 1000 / 10);
    return v > 0 ? buf : "";
}

/* The first word of line that starts with a digit and has a dot ("580.95.05"), or "". */
static void release_word(const char *line, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = line; *p; p++)
        if (isdigit((unsigned char)*p) && (p == line || isspace((unsigned char)p[-1]))) {
            size_t n = strcspn(p, " \t\n");
            if (memchr(p, '.', n)) {
                snprintf(out, size, "%.*s", (int)n, p);
                return;
            }
        }
}

static void describe_gpu(const options *o, gpu_record *g)
{
    char line[512];
    memset(g, 0, sizeof *g);
    command_line("nvidia-smi --query-gpu=name,driver_version --format=csv,noheader "
                 "2>/dev/null", line, sizeof line);
    char *comma = strrchr(line, ',');
    if (comma) {
        *comma = '\0';
        snprintf(g->name, sizeof g->name, "%s", line);
        release_word(comma + 1, g->driver, sizeof g->driver);
    }
    FILE *f = g->driver[0] ? NULL : fopen("/proc/driver/nvidia/version", "r");
    if (f) {
        if (fgets(line, sizeof line, f))
            release_word(line, g->driver, sizeof g->driver);
        fclose(f);
    }
    int cuda = 0;
    for (int b = 0; b < o->shared.num_backends; b++)
        cuda |= o->shared.backends[b] == YOLACT_BACKEND_CUDA;
    if (!cuda)
        return;
    char rt[16], drv[16];
    if (yl_cuda_describe(0, &g->facts) != YOLACT_OK) {
        printf("GPU: none usable (%s)\n", yolact_last_error());
        return;
    }
    g->described = 1;
    const yl_cuda_facts *x = &g->facts;
    if (x->emulated)
        printf("GPU: %s; cuDNN: %s\n", x->gpu_name, x->dnn_library);
    else
        printf("GPU: %s, sm_%d%d, %.0f MiB; driver %s (CUDA %s), CUDA runtime %s, cuDNN %d "
               "(%s)\n", x->gpu_name, x->cc_major, x->cc_minor, mib(x->memory_bytes),
               g->driver[0] ? g->driver : "?", cuda_version(x->driver_version, drv, sizeof drv),
               cuda_version(x->runtime_version, rt, sizeof rt), x->dnn_version, x->dnn_library);
}

/* The machine object's GPU fields. */
static void json_gpu(FILE *f, const gpu_record *g)
{
    char v[32];
    const yl_cuda_facts *x = &g->facts;
    fputs(", \"gpu\": ", f);
    if (!g->described && !g->name[0]) {
        fputs("null, \"cuda\": null, \"cudnn\": null", f);
        return;
    }
    fputs("{\"name\": ", f);
    bench_json_string(f, g->described ? x->gpu_name : g->name);
    fputs(", \"driver\": ", f);
    bench_json_string(f, g->driver[0] ? g->driver : NULL);
    if (!g->described) {
        fputs("}, \"cuda\": null, \"cudnn\": null", f);
        return;
    }
    if (x->emulated) {
        fputs(", \"emulated\": true}", f);
    } else {
        fprintf(f, ", \"driver_cuda\": ");
        bench_json_string(f, x->driver_version ? cuda_version(x->driver_version, v, sizeof v)
                                               : NULL);
        fprintf(f, ", \"compute_capability\": \"%d.%d\", \"memory_mib\": %.0f, "
                "\"emulated\": false}", x->cc_major, x->cc_minor, mib(x->memory_bytes));
    }
    /* The runtime libyolact links (statically) and the cuDNN it opened (dlopen). */
    fputs(",\n    \"cuda\": ", f);
    bench_json_string(f, x->runtime_version ? cuda_version(x->runtime_version, v, sizeof v) : NULL);
    fputs(", \"cudnn\": ", f);
    snprintf(v, sizeof v, "%d.%d.%d", x->dnn_version / 10000, x->dnn_version % 10000 / 100,
             x->dnn_version % 100);
    bench_json_string(f, x->dnn_version ? v : NULL);
    fputs(", \"cudnn_library\": ", f);
    bench_json_string(f, x->dnn_library);
}

typedef struct context {
    const options *o;
    const yolact_model *model;
    const yolact_model_info *info;
    const yolact_image *image;
    double load_ms;
    long rss_after_load_kb;
    gpu_record gpu;
    conv_shapes_run *conv_runs;  /* --conv-shapes: num_conv_runs of them */
    int num_conv_runs;
    stage_flops flops;
} context;

/* prefix (the key, quoted), then {"median": .., "p90": .., "samples": [..]}. */
static void json_series(FILE *f, const char *prefix, double median, double p90,
                        const double *samples, int n)
{
    fprintf(f, "%s: {\"median\": %.4f, \"p90\": %.4f, \"samples\": [", prefix, median, p90);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.4f", i ? ", " : "", samples[i]);
    fputs("]}", f);
}

static void json_run(FILE *f, const run *r, int iters, const stage_flops *flops,
                     const yolact_model *model)
{
    fprintf(f, "    {\"backend\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d",
            backend_name(r->backend), bench_precision_name(r->precision), r->threads, r->batch);
    if (r->skipped[0]) {
        fputs(", \"skipped\": ", f);
        bench_json_string(f, r->skipped);
        fputs("}", f);
        return;
    }
    fprintf(f, ", \"detections\": %d, \"peak_rss_mib\": %.1f, \"images_per_s\": %.4f",
            r->detections, r->peak_rss_kb / 1024.0, r->batch * 1e3 / end_to_end_ms(r));
    if (r->backend == YOLACT_BACKEND_CUDA)
        fprintf(f, ",\n     \"device_memory\": {\"current_bytes\": %zu, \"peak_bytes\": %zu, "
                "\"current_mib\": %.1f, \"peak_mib\": %.1f}", r->device.current_bytes,
                r->device.peak_bytes, mib(r->device.current_bytes), mib(r->device.peak_bytes));
    else
        fputs(", \"device_memory\": null", f);
    fputs(", \"conv_algorithms\": ", f);
    bench_json_string(f, r->backend == YOLACT_BACKEND_CPU ? r->conv_algorithms : NULL);
    char graphs[sizeof r->graphs.fallback_reason + 16];
    fputs(", \"cuda_graphs\": ", f);
    bench_json_string(f, graphs_text(r, graphs, sizeof graphs));
    if (r->batch == 1)
        fprintf(f, ", \"fps\": %.4f", 1e3 / end_to_end_ms(r));
    if (r->unprofiled_ms)
        json_series(f, ",\n     \"unprofiled_ms\"", r->unprofiled_median, r->unprofiled_p90,
                    r->unprofiled_ms, iters);
    fputs(",\n     \"latency_ms\": {", f);
    for (int c = 0; c < NUM_COLUMNS; c++) {
        char name[64];
        snprintf(name, sizeof name, "%s\n       \"%s\"", c ? "," : "", column_name(c));
        json_series(f, name, r->median[c], r->p90[c], r->ms[c], iters);
    }
    fputs("}", f);
    if (r->backend == YOLACT_BACKEND_CPU)
        stage_flops_json(f, flops, r->median, r->threads, r->batch);
    if (r->num_ops)
        op_flops_json(f, model, flops, r->op_median, r->conv_algorithms, r->threads, r->batch);
    fputs("}", f);
}

static int write_json(const char *path, const context *cx, const run *runs, int n)
{
    char tmp[4096], cpu[256], commit[128], date[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "yolact-bench: %s: cannot create it: %s; check the path and its "
                "permissions\n", path, strerror(errno));
        return 1;
    }
    const options *o = cx->o;
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cpu_model(cpu, sizeof cpu);
    command_line("git describe --always --dirty --abbrev=12 2>/dev/null", commit, sizeof commit);
    fputs("{\n  \"tool\": \"yolact-bench\",\n  \"libyolact\": ", f);
    bench_json_string(f, yolact_version_string());
    fputs(",\n  \"date\": ", f);
    bench_json_string(f, date);
    fputs(",\n  \"commit\": ", f);
    bench_json_string(f, commit[0] ? commit : NULL);
    fputs(",\n  \"machine\": {\"cpu\": ", f);
    bench_json_string(f, cpu);
    fprintf(f, ", \"cores\": %ld, \"memory_mib\": %lld", sysconf(_SC_NPROCESSORS_ONLN),
            (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) >> 20);
    /* The CPU convolutions' speed depends on it (OPENBLAS_CORETYPE can force it). */
    fputs(", \"gemm_kernels\": ", f);
    bench_json_string(f, yl_gemm_kernels());
    json_gpu(f, &cx->gpu);
    fputs("},\n  \"model\": {\"preset\": ", f);
    bench_json_string(f, cx->info->preset);
    fputs(", \"weights\": ", f);
    bench_json_string(f, o->shared.model_path);
    if (o->shared.model_path)
        fputs(", \"random_seed\": null", f);
    else
        fprintf(f, ", \"random_seed\": %llu", o->seed);
    fprintf(f, ", \"input_size\": %d, \"parameters\": %lld, \"load_ms\": %.1f, "
            "\"rss_after_load_mib\": %.1f},\n  \"image\": {\"file\": ",
            cx->info->input_size, (long long)cx->info->num_parameters, cx->load_ms,
            cx->rss_after_load_kb / 1024.0);
    bench_json_string(f, o->image_path);
    fprintf(f, ", \"width\": %d, \"height\": %d},\n", cx->image->width, cx->image->height);
    fprintf(f, "  \"options\": {\"score_threshold\": %g, \"conf_threshold\": %g, \"top_k\": %d, "
            "\"warmup\": %d, \"iterations\": %d},\n  \"runs\": [\n",
            o->shared.score_threshold, o->conf_threshold, o->shared.top_k, o->warmup, o->iters);
    for (int i = 0; i < n; i++) {
        json_run(f, &runs[i], o->iters, &cx->flops, cx->model);
        fputs(i + 1 < n ? ",\n" : "\n", f);
    }
    fputs("  ]", f);
    if (cx->num_conv_runs)
        conv_shapes_json(f, cx->conv_runs, cx->num_conv_runs);
    fprintf(f, ",\n  \"peak_rss_mib\": %.1f\n}\n", peak_rss_kb() / 1024.0);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "yolact-bench: %s: writing failed: %s; check the free space\n", path,
                strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    /* Before minutes of timing, not after them. */
    if (o.json_path && cli_check_output("yolact-bench", o.json_path))
        return 2;
    int tty = isatty(STDERR_FILENO);
    /* Each result as soon as it is measured, also into a pipe or a file. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    double t0 = yl_profile_now();
    yolact_model *model = NULL;
    yolact_status s;
    if (o.shared.model_path) {
        yolact_model_options mo;
        yolact_model_options_init(&mo);
        mo.preset = o.shared.preset;
        s = yolact_model_load(o.shared.model_path, &mo, &model);
    } else {
        const yl_preset *preset = yl_preset_find(o.shared.preset);
        if (!preset) {
            fprintf(stderr, "yolact-bench: unknown preset '%s'; see --help\n", o.shared.preset);
            return 2;
        }
        fprintf(stderr, tty ? "building %s with random weights..." :
                              "yolact-bench: building %s with random weights\n", o.shared.preset);
        s = random_model(preset, o.seed, &model);
        if (tty)
            fputs("\r\033[K", stderr);
    }
    if (s != YOLACT_OK)
        return fail(o.shared.model_path ? o.shared.model_path : "building the random network", s);
    context cx = {.o = &o, .model = model, .info = yolact_model_get_info(model),
                  .load_ms = 1e3 * (yl_profile_now() - t0), .rss_after_load_kb = peak_rss_kb()};

    yolact_image image;
    uint8_t *pixels = NULL;
    if (o.image_path) {
        if ((s = yolact_image_load(o.image_path, &image)) != YOLACT_OK) {
            yolact_model_free(model);
            return fail(o.image_path, s);
        }
    } else if (!(pixels = synthetic_image(o.width, o.height, &image))) {
        fprintf(stderr, "yolact-bench: out of memory for a %dx%d image\n", o.width, o.height);
        yolact_model_free(model);
        return 1;
    }
    cx.image = &image;
    stage_flops_count(model, &cx.flops);

    printf("yolact-bench: %s (%s), input %dx%d, %.1f M parameters; image %s %dx%d\n",
           cx.info->preset, o.shared.model_path ? o.shared.model_path : "random weights",
           cx.info->input_size, cx.info->input_size, cx.info->num_parameters / 1e6,
           o.image_path ? o.image_path : "synthetic", image.width, image.height);
    describe_gpu(&o, &cx.gpu);

    int n = o.shared.num_backends * o.shared.num_precisions * o.shared.num_threads * o.num_batches;
    int status = 0, k = 0;
    run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "yolact-bench: out of memory\n");
        status = 1;
    }
    for (int b = 0; !status && b < o.shared.num_backends; b++)
        for (int p = 0; !status && p < o.shared.num_precisions; p++)
            for (int t = 0; !status && t < o.shared.num_threads; t++)
                for (int z = 0; !status && z < o.num_batches; z++) {
                    run *r = &runs[k++];
                    r->backend = (yolact_backend)o.shared.backends[b];
                    r->precision = (yolact_precision)o.shared.precisions[p];
                    r->threads = o.shared.threads[t];
                    r->batch = o.batches[z];
                    status = measure(model, &o, &image, r, tty);
                    if (r->threads == 0) /* report what "all cores" meant */
                        r->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
                    if (!status)
                        print_run(r, &o, &cx.flops, model);
                }
    conv_shapes_run conv_runs[CLI_MAX_LIST * CLI_MAX_LIST] = {0};
    for (int p = 0; !status && o.conv_shapes && p < o.shared.num_precisions; p++)
        for (int z = 0; !status && z < o.num_batches; z++) {
            conv_shapes_run *r = &conv_runs[cx.num_conv_runs++];
            r->precision = (yolact_precision)o.shared.precisions[p];
            r->batch = o.batches[z];
            status = conv_shapes_measure(model, o.iters, r);
            if (!status)
                conv_shapes_print(r);
        }
    cx.conv_runs = conv_runs;
    if (!status) {
        print_summary(runs, n);
        printf("peak RSS %.0f MiB (after loading the model %.0f MiB, load %.0f ms)\n",
               peak_rss_kb() / 1024.0, cx.rss_after_load_kb / 1024.0, cx.load_ms);
        if (o.json_path)
            status = write_json(o.json_path, &cx, runs, n);
    }
    for (int i = 0; runs && i < n; i++) {
        for (int c = 0; c < NUM_COLUMNS; c++)
            free(runs[i].ms[c]);
        free(runs[i].unprofiled_ms);
        free(runs[i].op_ms);
        free(runs[i].op_median);
    }
    free(runs);
    for (int i = 0; i < cx.num_conv_runs; i++)
        conv_shapes_free(&conv_runs[i]);
    if (o.image_path)
        yolact_image_free_pixels(&image);
    free(pixels);
    yolact_model_free(model);
    return status;
}
