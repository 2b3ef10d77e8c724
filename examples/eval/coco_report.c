/* The evaluation's output: text as pycocotools prints it, JSON through jansson. */
#include "coco_report.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "coco_summary.h"

static const char *type_name(coco_iou_type t)
{
    return t == COCO_IOU_SEGM ? "segm" : "bbox";
}

void coco_print_summary(FILE *f, const coco_eval *e)
{
    fprintf(f, "Evaluate annotation type *%s*\n", type_name(e->type));
    for (int i = 0; i < 12; i++) {
        const coco_stat *s = &coco_stats[i];
        char iou[16];
        if (s->iou == 0)
            snprintf(iou, sizeof iou, "%0.2f:%0.2f", coco_iou_threshold(0),
                     coco_iou_threshold(COCO_T - 1));
        else
            snprintf(iou, sizeof iou, "%0.2f", s->iou);
        fprintf(f, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                s->ap ? "Average Precision" : "Average Recall", s->ap ? "(AP)" : "(AR)", iou,
                coco_area_label(s->area), coco_max_detections(s->max_dets_index), e->stats[i]);
    }
}

void coco_print_classes(FILE *f, const coco_dataset *gt, const coco_eval *e)
{
    fprintf(f, "Per-category %s AP @[ IoU=0.50:0.95 | area=all | maxDets=100 ] (-1: no ground "
               "truth)\n", type_name(e->type));
    for (size_t k = 0; k < e->num_categories; k++)
        fprintf(f, "  %6lld  %-24s %7.3f\n", (long long)gt->categories[k].id,
                gt->categories[k].name, e->class_ap[k]);
}

static const char *const stat_keys[12] = {"AP", "AP50", "AP75", "APs", "APm", "APl",
                                          "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

static json_t *eval_json(const coco_dataset *gt, const coco_eval *e)
{
    json_t *stats = json_array(), *named = json_object(), *classes = json_array();
    json_t *out = json_pack("{s:o, s:o, s:o}", "stats", stats, "summary", named, "per_class",
                            classes);
    for (int i = 0; i < 12; i++) {
        json_array_append_new(stats, json_real(e->stats[i]));
        json_object_set_new(named, stat_keys[i], json_real(e->stats[i]));
    }
    for (size_t k = 0; k < e->num_categories; k++)
        json_array_append_new(classes,
                              json_pack("{s:I, s:s, s:f}", "id",
                                        (json_int_t)gt->categories[k].id, "name",
                                        gt->categories[k].name, "ap", e->class_ap[k]));
    return out;
}

int coco_write_json(const char *path, const coco_dataset *gt, const coco_eval *evals, int n,
                    long images_evaluated, long images_missing, char *err, size_t err_size)
{
    json_t *root = json_pack("{s:{s:I, s:I}}", "images", "evaluated",
                             (json_int_t)images_evaluated, "missing", (json_int_t)images_missing);
    for (int i = 0; root && i < n; i++)
        json_object_set_new(root, type_name(evals[i].type), eval_json(gt, &evals[i]));
    int status = root && json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) == 0
                     ? 0 : -1;
    if (status)
        snprintf(err, err_size, "%s: cannot write the JSON: %s", path, strerror(errno));
    json_decref(root);
    return status;
}
