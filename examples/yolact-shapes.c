/* yolact-shapes: write a synthetic instance-segmentation data set in COCO format: coloured
 * shapes (circle, square, triangle, star, hexagon, cross) overlapping on textured
 * backgrounds, each object's exact visible mask as COCO RLE; a training and a validation
 * split, everything determined by the seed. Something to train on and evaluate against
 * where the truth is known to the pixel (yolact-eval reads the annotations). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/cli_error.h"
#include "common/cli_options.h"
#include "common/coco_results.h"
#include "shapes/shapes_scene.h"
#include "yolact.h"

static const char usage[] =
    "usage: yolact-shapes --out DIR [options]\n"
    "  -o, --out DIR         write DIR/train/*.png, DIR/val/*.png and\n"
    "                        DIR/annotations/{train,val}.json (COCO instances)\n"
    "      --train N         training images (default 2000)\n"
    "      --val N           validation images (default 200)\n"
    "      --size WxH        image size (default 320x320)\n"
    "      --objects MIN-MAX objects per image (default 2-6, at most 32)\n"
    "      --seed S          (default 1): the same seed writes the same files\n"
    "  -h, --help\n";

#define PROGRAM "yolact-shapes"

typedef struct cli {
    const char *out;
    int counts[2];               /* train, val */
    shape_scene_params scene;
} cli;

static int parse_pair(const char *arg, char sep, int lo, int hi, int *a, int *b)
{
    char *end;
    long x = strtol(arg, &end, 10);
    if (end == arg || *end != sep)
        return -1;
    const char *second = end + 1;
    long y = strtol(second, &end, 10);
    if (end == second || *end || x < lo || y < lo || x > hi || y > hi)
        return -1;
    *a = (int)x;
    *b = (int)y;
    return 0;
}

static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_TRAIN = 256, O_VAL, O_SIZE, O_OBJECTS, O_SEED };
    static const struct option longs[] = {
        {"out", required_argument, 0, 'o'},       {"train", required_argument, 0, O_TRAIN},
        {"val", required_argument, 0, O_VAL},     {"size", required_argument, 0, O_SIZE},
        {"objects", required_argument, 0, O_OBJECTS}, {"seed", required_argument, 0, O_SEED},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    *c = (cli){NULL, {2000, 200}, {320, 320, 2, 6, 1, 0}};
    double v;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (opt) {
        case 'o': c->out = optarg; break;
        case O_TRAIN:
        case O_VAL:
            if (cli_number(PROGRAM, opt == O_TRAIN ? "--train" : "--val", optarg, 0, 999999,
                           &v))
                return -1;
            c->counts[opt == O_VAL] = (int)v;
            break;
        case O_SIZE:
            if (parse_pair(optarg, 'x', 32, 4096, &c->scene.width, &c->scene.height)) {
                fprintf(stderr, PROGRAM ": --size wants WxH, each in [32, 4096], got '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case O_OBJECTS:
            if (parse_pair(optarg, '-', 1, SHAPES_MAX_OBJECTS, &c->scene.min_objects,
                           &c->scene.max_objects) ||
                c->scene.min_objects > c->scene.max_objects) {
                fprintf(stderr, PROGRAM ": --objects wants MIN-MAX, 1 <= MIN <= MAX <= %d, "
                        "got '%s'\n", SHAPES_MAX_OBJECTS, optarg);
                return -1;
            }
            break;
        case O_SEED:
            if (cli_number(PROGRAM, "--seed", optarg, 0, 4294967295.0, &v))
                return -1;
            c->scene.seed = (uint64_t)v;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (!c->out || optind != argc) {
        fputs(c->out ? PROGRAM ": unexpected arguments\n" : PROGRAM ": --out DIR is needed\n",
              stderr);
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, PROGRAM ": cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* One split: its images, then its annotation file (which appears complete or not at all). */
static int write_split(const cli *c, int split)
{
    static const char *const names[2] = {"train", "val"};
    char path[4096], json_path[4096];  /* the atomic file keeps json_path until committed */
    snprintf(path, sizeof path, "%s/%s", c->out, names[split]);
    if (make_dir(path))
        return -1;
    snprintf(json_path, sizeof json_path, "%s/annotations/%s.json", c->out, names[split]);
    atomic_file json;
    if (atomic_open(&json, PROGRAM, json_path))
        return -1;
    FILE *f = json.f;
    fprintf(f, "{\"info\": {\"description\": \"libyolact synthetic shapes, %s split\", "
            "\"seed\": %llu},\n \"categories\": [", names[split],
            (unsigned long long)c->scene.seed);
    for (int k = 0; k < SHAPE_KINDS; k++)
        fprintf(f, "%s{\"id\": %d, \"name\": \"%s\", \"supercategory\": \"shape\"}",
                k ? ", " : "", k + 1, shape_names[k]);
    fputs("],\n \"images\": [", f);
    for (int i = 0; i < c->counts[split]; i++)
        fprintf(f, "%s\n  {\"id\": %d, \"file_name\": \"%06d.png\", \"width\": %d, "
                "\"height\": %d}", i ? "," : "", i + 1, i + 1, c->scene.width,
                c->scene.height);
    fputs("],\n \"annotations\": [", f);
    shape_scene_params params = c->scene;
    params.split = split;
    const size_t stride = ((size_t)params.width + 7) / 8;
    uint8_t *bits = malloc(stride * params.height);
    char *rle = NULL;
    size_t rle_cap = 0;
    int next_id = 1, ok = bits != NULL;
    for (int i = 0; ok && i < c->counts[split]; i++) {
        shape_scene s;
        if (shape_scene_make(&params, i, &s)) {
            ok = 0;
            break;
        }
        snprintf(path, sizeof path, "%s/%s/%06d.png", c->out, names[split], i + 1);
        yolact_image image = {s.rgb, s.width, s.height, (size_t)s.width * 3,
                              YOLACT_PIXEL_RGB8, YOLACT_MEMORY_HOST};
        yolact_status st = yolact_image_save_png(path, &image);
        if (st != YOLACT_OK) {
            cli_error(PROGRAM, path, st);
            shape_scene_free(&s);
            atomic_discard(&json);
            free(bits);
            free(rle);
            return -1;
        }
        for (int o = 0; ok && o < s.count; o++) {
            const shape_object *ob = &s.objects[o];
            shape_scene_mask(&s, o, bits, stride);
            size_t need = yolact_mask_rle(bits, s.width, s.height, stride, NULL, 0) + 1;
            if (need > rle_cap) {
                char *grown = realloc(rle, need);
                ok = grown != NULL;
                rle = ok ? grown : rle;
                rle_cap = ok ? need : rle_cap;
            }
            if (!ok)
                break;
            yolact_mask_rle(bits, s.width, s.height, stride, rle, rle_cap);
            fprintf(f, "%s\n  {\"id\": %d, \"image_id\": %d, \"category_id\": %d, "
                    "\"iscrowd\": 0, \"area\": %d, \"bbox\": [%d, %d, %d, %d], "
                    "\"segmentation\": {\"size\": [%d, %d], \"counts\": ",
                    next_id > 1 ? "," : "", next_id, i + 1, (int)ob->kind + 1,
                    ob->visible_pixels, ob->x0, ob->y0, ob->x1 - ob->x0, ob->y1 - ob->y0,
                    s.height, s.width);
            /* The RLE alphabet holds a backslash, which JSON must escape. */
            cli_json_string(f, rle);
            fputs("}}", f);
            next_id++;
        }
        shape_scene_free(&s);
    }
    free(bits);
    free(rle);
    if (!ok) {
        fputs(PROGRAM ": out of memory\n", stderr);
        atomic_discard(&json);
        return -1;
    }
    fputs("]}\n", f);
    if (atomic_commit(&json))
        return -1;
    printf("%s: %d images, %d objects -> %s/annotations/%s.json\n", names[split],
           c->counts[split], next_id - 1, c->out, names[split]);
    return 0;
}

int main(int argc, char **argv)
{
    cli c;
    if (parse_args(argc, argv, &c))
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/annotations", c.out);
    if (make_dir(c.out) || make_dir(path))
        return 1;
    for (int split = 0; split < 2; split++)
        if (write_split(&c, split))
            return 1;
    return 0;
}
