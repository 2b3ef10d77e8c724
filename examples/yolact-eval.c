/* yolact-eval: COCO box and mask AP of a results file, with pycocotools' numbers; or run a
 * model over every image of a COCO data set first (the results JSON as yolact-detect writes
 * it), then evaluate. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/cli_error.h"
#include "common/cli_options.h"
#include "eval/coco_eval.h"
#include "eval/coco_load.h"
#include "eval/coco_report.h"
#include "eval/dataset_run.h"
#include "yolact.h"

static const char usage[] =
    "usage: yolact-eval --annotations A.json --results DETS.json [options]\n"
    "       yolact-eval --annotations A.json -m WEIGHTS --images DIR [options]\n"
    "      --annotations FILE    COCO annotations (instances_val2017.json)\n"
    "      --results FILE        COCO results JSON to evaluate (yolact-detect -o)\n"
    "      --iou-type T          segm | bbox | both (default both)\n"
    "      --json-out FILE       also write every number as JSON\n"
    "      --per-class           print each category's AP\n"
    " detection mode (the options of yolact-detect):\n"
    "  -m, --model FILE          checkpoint; runs it over the images first\n"
    "  -c, --config PRESET       its preset (default: the file's metadata's, else from the\n"
    "                            file name, else guessed)\n"
    "      --images DIR          the images (DIR/file_name of each listed image)\n"
    "      --backend B           cpu | cuda | auto (default auto)\n"
    "      --precision P         fp32 | fp16 (default: the backend's best)\n"
    "      --threads N           CPU threads (default: all cores)\n"
    "      --batch N             images per pass on the CUDA backend (default 1)\n"
    "      --max-images N        only the first N images (by id); AP covers those\n"
    "      --require-images      stop at a missing or unreadable image (default: report,\n"
    "                            count and leave it out)\n"
    "  -o, --output FILE         keep the results JSON (default: a temporary file)\n"
    "  -h, --help\n";

typedef struct cli {
    const char *annotations, *results, *json_out, *images, *output;
    int want;              /* COCO_WANT_BOXES | COCO_WANT_MASKS */
    int per_class, batch, require_images;
    long max_images;
    cli_options shared;
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_ANN = 256, O_RES, O_IOU, O_JSON, O_IMAGES, O_BATCH, O_MAX, O_REQUIRE, O_CLASSES };
    static const struct option longs[] = {
        CLI_OPTIONS_MODEL, CLI_OPTIONS_SESSION,
        {"annotations", required_argument, 0, O_ANN}, {"results", required_argument, 0, O_RES},
        {"iou-type", required_argument, 0, O_IOU}, {"json-out", required_argument, 0, O_JSON},
        {"images", required_argument, 0, O_IMAGES}, {"batch", required_argument, 0, O_BATCH},
        {"max-images", required_argument, 0, O_MAX},
        {"require-images", no_argument, 0, O_REQUIRE},
        {"per-class", no_argument, 0, O_CLASSES}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_options_init(&c->shared, "yolact-eval", 0);
    c->want = COCO_WANT_BOXES | COCO_WANT_MASKS;
    c->batch = 1;
    int opt;
    double v;
    while ((opt = getopt_long(argc, argv, "m:c:o:h", longs, NULL)) != -1) {
        int taken = cli_options_parse(&c->shared, opt, optarg);
        if (taken < 0)
            return -1;
        if (taken)
            continue;
        switch (opt) {
        case O_ANN: c->annotations = optarg; break;
        case O_RES: c->results = optarg; break;
        case O_JSON: c->json_out = optarg; break;
        case O_IMAGES: c->images = optarg; break;
        case O_REQUIRE: c->require_images = 1; break;
        case O_CLASSES: c->per_class = 1; break;
        case 'o': c->output = optarg; break;
        case O_IOU:
            c->want = !strcmp(optarg, "bbox") ? COCO_WANT_BOXES
                      : !strcmp(optarg, "segm") ? COCO_WANT_MASKS
                      : !strcmp(optarg, "both") ? COCO_WANT_BOXES | COCO_WANT_MASKS : 0;
            if (!c->want) {
                fprintf(stderr, "yolact-eval: --iou-type wants segm, bbox or both, got '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case O_BATCH:
            if (cli_number("yolact-eval", "--batch", optarg, 1, YOLACT_MAX_BATCH_SIZE, &v))
                return -1;
            c->batch = (int)v;
            break;
        case O_MAX:
            if (cli_number("yolact-eval", "--max-images", optarg, 1, 1e9, &v))
                return -1;
            c->max_images = (long)v;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    const char *wrong = optind < argc ? "unexpected arguments after the options"
                        : !c->annotations ? "--annotations FILE is required"
                        : !c->results == !c->shared.model_path
                            ? "give --results FILE, or -m WEIGHTS with --images DIR"
                        : c->shared.model_path && !c->images ? "-m needs --images DIR"
                                                             : NULL;
    if (wrong) {
        fprintf(stderr, "yolact-eval: %s; see --help\n", wrong);
        return -1;
    }
    return 0;
}

/* Detection mode: the model over the images into f (the results list). 0, or 1 after saying
 * why on stderr. */
static int detect_all(cli *c, coco_dataset *gt, FILE *f, dataset_run *run)
{
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = c->shared.preset;
    yolact_model *model;
    yolact_status s = yolact_model_load(c->shared.model_path, &mo, &model);
    if (s != YOLACT_OK)
        return cli_error("yolact-eval", c->shared.model_path, s);
    yolact_session_options so;
    yolact_session_options_init(&so);
    cli_options_session(&c->shared, &so);
    so.score_threshold = c->shared.score_threshold;
    so.want_rle = 1;
    so.batch_size = c->batch;
    yolact_session *session;
    int status;
    if ((s = yolact_session_create(model, &so, &session)) != YOLACT_OK) {
        status = cli_error("yolact-eval", NULL, s);
    } else {
        run->images_dir = c->images;
        run->max_images = c->max_images;
        run->batch = c->batch;
        run->rescored = yolact_model_get_info(model)->maskiou_layers > 0;
        run->require_images = c->require_images;
        status = dataset_run_detect(run, session, gt, f);
        fprintf(stderr, "yolact-eval: %ld images run, %ld missing or unreadable\n",
                run->images_run, run->images_missing);
    }
    yolact_session_free(session);
    yolact_model_free(model);
    return status;
}

/* The results file: --results, or detection mode's output (kept with -o). Returns the open
 * file positioned at its start, or NULL after saying why. */
static FILE *results_file(cli *c, coco_dataset *gt, dataset_run *run, int *status)
{
    if (c->results) {
        FILE *f = fopen(c->results, "r");
        if (!f)
            perror(c->results);
        return f;
    }
    FILE *f = tmpfile();
    if (!f) {
        perror("yolact-eval: a temporary file");
        return NULL;
    }
    if ((*status = detect_all(c, gt, f, run)) != 0 || fflush(f) != 0) {
        fclose(f);
        return NULL;
    }
    rewind(f);
    if (c->output) {
        atomic_file copy;
        if (atomic_open(&copy, "yolact-eval", c->output)) {
            fclose(f);
            return NULL;
        }
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, copy.f);
        if (atomic_commit(&copy)) {
            fclose(f);
            return NULL;
        }
        rewind(f);
    }
    return f;
}

int main(int argc, char **argv)
{
    cli c = {0};
    if (parse_args(argc, argv, &c))
        return 2;
    if ((c.json_out && cli_check_output("yolact-eval", c.json_out)) ||
        (c.output && cli_check_output("yolact-eval", c.output)))
        return 2;
    char err[1024];
    coco_dataset gt;
    if (coco_load_annotations(c.annotations, c.want, &gt, err, sizeof err)) {
        fprintf(stderr, "yolact-eval: %s\n", err);
        return 1;
    }
    dataset_run run = {0};
    int status = 0;
    coco_objects dt = {0};
    coco_eval evals[2] = {{0}};
    int n = 0;
    if (!(run.ran = calloc(gt.num_images + 1, 1))) {
        status = cli_error("yolact-eval", NULL, YOLACT_ERR_OUT_OF_MEMORY);
        goto done;
    }
    FILE *f = results_file(&c, &gt, &run, &status);
    if (!f) {
        status = status ? status : 1;
        goto done;
    }
    const char *name = c.results ? c.results : c.output ? c.output : "the detections";
    if (coco_load_results(f, name, &gt, c.want, &dt, err, sizeof err)) {
        fprintf(stderr, "yolact-eval: %s\n", err);
        status = 1;
    }
    fclose(f);
    if (status)
        goto done;
    if (!c.results)
        coco_keep_images(&gt, run.ran);
    for (int type = 0; type < 2; type++) {
        if (!(c.want & (type == COCO_IOU_BBOX ? COCO_WANT_BOXES : COCO_WANT_MASKS)))
            continue;
        if (coco_evaluate(&gt, &dt, (coco_iou_type)type, 0, &evals[n])) {
            status = cli_error("yolact-eval", "evaluation", YOLACT_ERR_OUT_OF_MEMORY);
            goto done;
        }
        coco_print_summary(stdout, &evals[n]);
        if (c.per_class)
            coco_print_classes(stdout, &gt, &evals[n]);
        n++;
    }
    long evaluated = c.results ? (long)gt.num_images : run.images_run;
    if (c.json_out &&
        coco_write_json(c.json_out, &gt, evals, n, evaluated, run.images_missing, err,
                        sizeof err)) {
        fprintf(stderr, "yolact-eval: %s\n", err);
        status = 1;
    }
done:
    for (int i = 0; i < n; i++)
        coco_eval_free(&evals[i]);
    coco_objects_free(&dt);
    coco_dataset_free(&gt);
    free(run.ran);
    return status;
}
