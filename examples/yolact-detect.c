/* yolact-detect: run YOLACT on images from the command line; print a table, write COCO
 * results JSON (as the official eval.py --output_coco_json does) and overlay pictures, or
 * describe a checkpoint. Output files appear complete or not at all. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/cli_error.h"
#include "common/cli_options.h"
#include "common/coco_results.h"
#include "yolact.h"

static const char usage[] =
    "usage: yolact-detect -m WEIGHTS [options] IMAGE...\n"
    "       yolact-detect -m WEIGHTS [-c PRESET] --describe\n"
    "  -m, --model FILE          checkpoint (.pth zip or legacy, .safetensors)\n"
    "  -c, --config PRESET       yolact_base, yolact_im400, yolact_im700, yolact_resnet50,\n"
    "                            yolact_darknet53, yolact_plus_base, yolact_plus_resnet50\n"
    "                            (default: the file's metadata's, else from the file\n"
    "                            name, else guessed)\n"
    "      --names FILE          class names, one a line, replacing the preset's (or those\n"
    "                            a .safetensors from yolact-train stores)\n"
    "      --describe            print what was loaded and exit\n"
    "      --backend B           cpu | cuda | auto (default auto)\n"
    "      --precision P         fp32 | fp16 (default: the backend's best)\n"
    "      --threads N           CPU threads (default: all cores)\n"
    "      --score-threshold T   keep detections scoring above T (default 0, as eval.py)\n"
    "      --top-k K             keep the K best detections per image (default 100)\n"
    "      --nms-top-k K         candidates per class entering Fast NMS (default 200)\n"
    "  -o, --output FILE         write COCO results JSON for all images\n"
    "      --overlay OUT.png     draw the detections (a directory when several images)\n"
    "      --repeat N            time N more detections of each image after the first and\n"
    "                            print the median latency (ms) on stderr\n"
    "  -h, --help\n";

typedef struct cli {
    const char *model_path, *preset, *names, *json_path, *overlay_path;
    int describe, repeat;
    yolact_session_options options;
} cli;

static int fail(const char *what, yolact_status s)
{
    return cli_error("yolact-detect", what, s);
}

static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_NAMES = 256, O_DESCRIBE, O_NMS_TOPK, O_OVERLAY, O_REPEAT };
    static const struct option longs[] = {
        CLI_OPTIONS_MODEL, CLI_OPTIONS_SESSION, CLI_OPTION_SCORE_THRESHOLD, CLI_OPTION_TOP_K,
        {"names", required_argument, 0, O_NAMES}, {"describe", no_argument, 0, O_DESCRIBE},
        {"nms-top-k", required_argument, 0, O_NMS_TOPK},
        {"output", required_argument, 0, 'o'}, {"overlay", required_argument, 0, O_OVERLAY},
        {"repeat", required_argument, 0, O_REPEAT},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    yolact_session_options_init(&c->options);
    cli_options shared;
    cli_options_init(&shared, "yolact-detect", 0);
    int opt;
    double v;
    while ((opt = getopt_long(argc, argv, "m:c:o:h", longs, NULL)) != -1) {
        int taken = cli_options_parse(&shared, opt, optarg);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        switch (opt) {
        case 'o': c->json_path = optarg; break;
        case O_NAMES: c->names = optarg; break;
        case O_DESCRIBE: c->describe = 1; break;
        case O_OVERLAY: c->overlay_path = optarg; break;
        case O_NMS_TOPK:
            if (cli_number("yolact-detect", "--nms-top-k", optarg, 1, 10000, &v)) return -1;
            c->options.top_k = (int)v;
            break;
        case O_REPEAT:
            if (cli_number("yolact-detect", "--repeat", optarg, 1, 100000, &v)) return -1;
            c->repeat = (int)v;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    c->model_path = shared.model_path;
    c->preset = shared.preset;
    cli_options_session(&shared, &c->options);
    c->options.score_threshold = shared.score_threshold;
    if (!c->model_path) {
        fprintf(stderr, "yolact-detect: -m WEIGHTS is required; see --help\n");
        return -1;
    }
    if (!c->describe && optind >= argc) {
        fprintf(stderr, "yolact-detect: no image given; name one or more after the options\n");
        return -1;
    }
    return 0;
}

static void describe(const yolact_model *model)
{
    const yolact_model_info *in = yolact_model_get_info(model);
    static const char *const sources[] = {"given", "from the file name", "guessed from the shapes",
                                          "from the file's metadata"};
    printf("preset:           %s (%s%s)\n", in->preset, sources[in->preset_source],
           in->preset_source == YOLACT_PRESET_GUESSED && !strcmp(in->preset, "yolact_base")
               ? "; yolact_im400 and yolact_im700 have the same shapes: name it with -c"
               : "");
    printf("backbone:         %s [", in->backbone == YOLACT_BACKBONE_RESNET
                                          ? "ResNet (Bottleneck)" : "DarkNet-53");
    for (int i = 0; i < in->backbone_stages; i++)
        printf("%s%d", i ? "," : "", in->stage_depth[i]);
    printf("], stage channels [");
    for (int i = 0; i < in->backbone_stages; i++)
        printf("%s%d", i ? "," : "", in->stage_channels[i]);
    printf("]\n");
    int dcn = 0;
    for (int i = 0; i < in->backbone_stages; i++)
        dcn += in->stage_dcn[i];
    if (dcn > 0) {
        printf("deformable convs: %d DCNv2 (the blocks' 3x3 conv), per stage [", dcn);
        for (int i = 0; i < in->backbone_stages; i++)
            printf("%s%d", i ? "," : "", in->stage_dcn[i]);
        printf("]\n");
    }
    printf("fpn:              %d channels, %d levels (%d by downsampling)\n", in->fpn_channels,
           in->num_levels, in->fpn_downsample_levels);
    printf("protonet:         %d convolutions of %d input channels, %d prototypes\n",
           in->protonet_layers, in->protonet_channels, in->num_prototypes);
    printf("head:             %d anchors per cell, %d classes (with background)\n",
           in->anchors_per_cell, in->num_classes);
    if (in->maskiou_layers > 0) {
        printf("mask-IoU net:     %d convolutions, channels 1", in->maskiou_layers);
        for (int i = 0; i < in->maskiou_layers && i < 8; i++)
            printf(" -> %d", in->maskiou_channels[i]);
        printf(", global max: re-scores each mask (mask_score)\n");
    }
    printf("input:            %dx%d\n", in->input_size, in->input_size);
    printf("parameters:       %lld\n", (long long)in->num_parameters);
    printf("unused keys:      %d\n", in->num_unused_keys);
    for (int i = 0; i < in->num_unused_keys; i++)
        printf("  %s\n", in->unused_keys[i]);
}

/* eval.py's image id as JSON text into buf: the file name without extension, a number when
 * it is all digits, else a string. */
static void json_image_id(char *buf, size_t size, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[512];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    int digits = stem[0] != '\0';
    for (const char *p = stem; *p; p++)
        digits &= isdigit((unsigned char)*p) != 0;
    if (digits && strlen(stem) < 19) {
        snprintf(buf, size, "%lld", strtoll(stem, NULL, 10));
        return;
    }
    FILE *f = fmemopen(buf, size, "w");
    if (f) {
        cli_json_string(f, stem);
        fclose(f);
    }
}

/* The detections as a table; with mask re-scoring (YOLACT++) a column of mask scores. */
static void print_table(const char *path, const yolact_result *r, int rescored)
{
    printf("%s: %dx%d, %d detections\n", path, r->width, r->height, r->count);
    printf("  %3s  %-16s %8s%s  %27s  %8s\n", "#", "class", "score",
           rescored ? "  mask sc" : "", "box (x1, y1, x2, y2)", "mask px");
    for (int i = 0; i < r->count; i++) {
        const yolact_detection *d = &r->detections[i];
        long area = 0;
        for (int y = 0; y < r->height; y++)
            for (int x = 0; x < r->width; x++)
                area += yolact_mask_at(d, x, y);
        printf("  %3d  %-16s %8.4f", i, d->class_name, d->score);
        if (rescored)
            printf("  %7.4f", d->mask_score);
        printf("  %6d %6d %6d %6d  %8ld\n", (int)d->x1, (int)d->y1, (int)d->x2, (int)d->y2,
               area);
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Detect `repeat` more times (the first, already done, was the warm-up) and report the
 * median wall-clock latency. */
static yolact_status time_detection(yolact_session *session, const yolact_image *image,
                                    const char *path, int repeat)
{
    double *ms = malloc((size_t)repeat * sizeof *ms);
    if (!ms)
        return YOLACT_ERR_OUT_OF_MEMORY;
    const yolact_result *result;
    yolact_status s = YOLACT_OK;
    for (int i = 0; i < repeat && s == YOLACT_OK; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        s = yolact_session_detect(session, image, &result);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms[i] = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    }
    if (s == YOLACT_OK) {
        qsort(ms, (size_t)repeat, sizeof *ms, compare_doubles);
        fprintf(stderr, "%s: median %.1f ms over %d runs (min %.1f, max %.1f)\n", path,
                ms[repeat / 2], repeat, ms[0], ms[repeat - 1]);
    }
    free(ms);
    return s;
}

/* Where the overlay of one image goes: the path itself for a single image, else
 * DIR/<stem>.png. */
static void overlay_target(const char *overlay, const char *image_path, int many, char *out,
                           size_t cap)
{
    if (!many) {
        snprintf(out, cap, "%s", overlay);
        return;
    }
    const char *base = strrchr(image_path, '/');
    base = base ? base + 1 : image_path;
    char stem[256];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    snprintf(out, cap, "%s/%s.png", overlay, stem);
}

/* On a terminal, what was written: "coffee.png: 16 detections -> coffee.json,
 * coffee-overlay.png". Piped, stdout carries only the table (or nothing with -o). */
static void print_summary(const cli *c, const char *image, int num_images, long detections,
                          const char *overlay)
{
    if (!c->json_path && !c->overlay_path)
        return;
    if (num_images == 1)
        printf("%s: ", image);
    else
        printf("%d images: ", num_images);
    printf("%ld detection%s ->", detections, detections == 1 ? "" : "s");
    if (c->json_path)
        printf(" %s%s", c->json_path, c->overlay_path ? "," : "");
    if (c->overlay_path && num_images == 1)
        printf(" %s", overlay);
    else if (c->overlay_path)
        printf(" overlays in %s/", c->overlay_path);
    printf("\n");
}

int main(int argc, char **argv)
{
    cli c = {0};
    if (parse_args(argc, argv, &c))
        return 2;
    int num_images = argc - optind, many = num_images > 1;
    /* Where the outputs go is checked before the model loads, not found out at the end. */
    char overlay_first[4096] = "";
    if (c.describe)
        c.json_path = c.overlay_path = NULL; /* nothing is written */
    if (c.overlay_path && many) {
        struct stat st;
        if (stat(c.overlay_path, &st) || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "yolact-detect: %s: with several images --overlay must name an "
                            "existing folder; create it first\n", c.overlay_path);
            return 2;
        }
    }
    if (c.overlay_path)
        overlay_target(c.overlay_path, argv[optind], many, overlay_first, sizeof overlay_first);
    if ((c.json_path && cli_check_output("yolact-detect", c.json_path)) ||
        (c.overlay_path && cli_check_output("yolact-detect", overlay_first)))
        return 2;

    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = c.preset;
    mo.class_names_path = c.names;
    yolact_model *model;
    yolact_status s = yolact_model_load(c.model_path, &mo, &model);
    if (s != YOLACT_OK)
        return fail(c.model_path, s);
    if (c.describe) {
        describe(model);
        yolact_model_free(model);
        return 0;
    }

    c.options.want_rle = c.json_path != NULL;
    yolact_session *session;
    if ((s = yolact_session_create(model, &c.options, &session)) != YOLACT_OK) {
        yolact_model_free(model);
        return fail(NULL, s);
    }

    atomic_file json_out;
    FILE *json = NULL;
    int status = 0, first = 1;
    long detections = 0;
    if (c.json_path) {
        if (atomic_open(&json_out, "yolact-detect", c.json_path) != 0)
            status = 1;
        else
            fputc('[', json = json_out.f);
    }

    for (int i = optind; i < argc && status == 0; i++) {
        yolact_image image;
        const yolact_result *result;
        if ((s = yolact_image_load(argv[i], &image)) != YOLACT_OK) {
            status = fail(argv[i], s);
            break;
        }
        if ((s = yolact_session_detect(session, &image, &result)) != YOLACT_OK ||
            (c.repeat && (s = time_detection(session, &image, argv[i], c.repeat)) != YOLACT_OK)) {
            status = fail(argv[i], s);
        } else {
            int rescored = yolact_model_get_info(model)->maskiou_layers > 0;
            detections += result->count;
            if (json) {
                char id[1100];
                json_image_id(id, sizeof id, argv[i]);
                first &= cli_write_coco_detections(json, id, result, rescored, first) == 0;
            }
            else
                print_table(argv[i], result, rescored);
            if (c.overlay_path) {
                char target[4096];
                overlay_target(c.overlay_path, argv[i], many, target, sizeof target);
                /* The pixels were decoded for us; draw on them in place. */
                yolact_image_draw_detections((uint8_t *)image.data, image.stride, result, 0);
                if ((s = yolact_image_save_png(target, &image)) != YOLACT_OK)
                    status = fail(target, s);
            }
        }
        yolact_image_free_pixels(&image);
    }

    if (json) {
        fputs(first ? "]\n" : "\n]\n", json);
        if (status != 0)
            atomic_discard(&json_out);
        else if (atomic_commit(&json_out) != 0)
            status = 1;
    }
    if (status == 0 && isatty(STDOUT_FILENO))
        print_summary(&c, argv[optind], num_images, detections, overlay_first);
    yolact_session_free(session);
    yolact_model_free(model);
    return status;
}
