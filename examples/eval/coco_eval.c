/* COCOeval.evaluate + accumulate + summarize: objects grouped by category and image, each
 * image's IoUs computed once and matched in the four area ranges, each category accumulated
 * on its own (in parallel: categories share nothing). */
#include "coco_eval.h"

#include <stdlib.h>
#include <string.h>

#include "coco_accumulate.h"
#include "coco_match.h"
#include "coco_summary.h"

size_t coco_precision_at(const coco_eval *e, int t, int r, size_t k, int a, int m)
{
    return ((((size_t)t * COCO_R + (size_t)r) * e->num_categories + k) * COCO_A + (size_t)a) *
               COCO_M + (size_t)m;
}

size_t coco_recall_at(const coco_eval *e, int t, size_t k, int a, int m)
{
    return (((size_t)t * e->num_categories + k) * COCO_A + (size_t)a) * COCO_M + (size_t)m;
}

void coco_eval_free(coco_eval *e)
{
    free(e->precision);
    free(e->recall);
    free(e->class_ap);
    memset(e, 0, sizeof *e);
}

/* Objects by category, then image, then file order; starts[k] the first of category k. */
typedef struct grouped {
    const coco_object **items;
    size_t *starts;
} grouped;

static int by_category_image(const void *a, const void *b)
{
    const coco_object *x = *(const coco_object *const *)a, *y = *(const coco_object *const *)b;
    if (x->category != y->category)
        return x->category < y->category ? -1 : 1;
    if (x->image != y->image)
        return x->image < y->image ? -1 : 1;
    return (x > y) - (x < y);
}

static int group(const coco_objects *o, size_t num_categories, grouped *g)
{
    g->items = malloc((o->count + 1) * sizeof *g->items);
    g->starts = calloc(num_categories + 1, sizeof *g->starts);
    if (!g->items || !g->starts)
        return -1;
    for (size_t i = 0; i < o->count; i++) {
        g->items[i] = &o->items[i];
        g->starts[o->items[i].category + 1]++;
    }
    qsort(g->items, o->count, sizeof *g->items, by_category_image);
    for (size_t k = 0; k < num_categories; k++)
        g->starts[k + 1] += g->starts[k];
    return 0;
}

/* One category's growing lists (coco_category_matches' storage). */
typedef struct category_work {
    size_t *first;
    double *scores;
    uint8_t *flags[COCO_A];
    size_t images, image_cap, dets, det_cap;
    double *ious;
    size_t ious_cap;
    coco_ranked *rank;
    const coco_object **dts;
    size_t rank_cap;
    coco_match_scratch scratch;
} category_work;

static void work_free(category_work *w)
{
    free(w->first);
    free(w->scores);
    for (int a = 0; a < COCO_A; a++)
        free(w->flags[a]);
    free(w->ious);
    free(w->rank);
    free(w->dts);
    coco_match_scratch_free(&w->scratch);
}

/* Room for one more image with nd detections, ng ground truths and n_all detections before
 * the cut to 100. */
static int work_reserve(category_work *w, size_t nd, size_t ng, size_t n_all)
{
    if (w->images + 2 > w->image_cap) {
        size_t cap = w->image_cap * 2 + 16;
        size_t *first = realloc(w->first, cap * sizeof *first);
        if (!first)
            return -1;
        w->first = first;
        w->image_cap = cap;
    }
    if (w->dets + nd > w->det_cap || !w->scores) {
        size_t cap = (w->dets + nd) * 2 + 16;
        double *scores = realloc(w->scores, cap * sizeof *scores);
        if (!scores)
            return -1;
        w->scores = scores;
        for (int a = 0; a < COCO_A; a++) {
            uint8_t *f = realloc(w->flags[a], cap * COCO_T);
            if (!f)
                return -1;
            w->flags[a] = f;
        }
        w->det_cap = cap;
    }
    if (nd * ng > w->ious_cap || !w->ious) {
        free(w->ious);
        w->ious_cap = nd * ng + 1;
        if (!(w->ious = malloc(w->ious_cap * sizeof *w->ious)))
            return -1;
    }
    if (n_all > w->rank_cap) {
        free(w->rank);
        free(w->dts);
        w->rank_cap = n_all;
        w->rank = malloc(n_all * sizeof *w->rank);
        w->dts = malloc(n_all * sizeof *w->dts);
        if (!w->rank || !w->dts)
            return -1;
    }
    return coco_match_scratch_reserve(&w->scratch, ng);
}

/* evaluateImg in every area range for one image: gts[0..ng), dts_all[0..n_all) in file
 * order. */
static int evaluate_image(category_work *w, coco_iou_type type, const coco_object *const *gts,
                          size_t ng, const coco_object *const *dts_all, size_t n_all,
                          size_t not_ignored[COCO_A])
{
    size_t nd = n_all < 100 ? n_all : 100;
    if (work_reserve(w, nd, ng, n_all))
        return -1;
    for (size_t d = 0; d < n_all; d++)
        w->rank[d] = (coco_ranked){type == COCO_IOU_SEGM ? dts_all[d]->mask_score
                                                         : dts_all[d]->score, d};
    coco_sort_by_score(w->rank, n_all);
    for (size_t d = 0; d < nd; d++) {
        w->dts[d] = dts_all[w->rank[d].index];
        w->scores[w->dets + d] = w->rank[d].score;
    }
    for (size_t d = 0; d < nd; d++)
        for (size_t g = 0; g < ng; g++)
            w->ious[d * ng + g] =
                type == COCO_IOU_BBOX
                    ? coco_box_iou(w->dts[d]->box, gts[g]->box, gts[g]->crowd)
                    : coco_rle_iou(&w->dts[d]->mask, w->dts[d]->mask_box, &gts[g]->mask,
                                   gts[g]->mask_box, gts[g]->crowd);
    for (int a = 0; a < COCO_A; a++) {
        double lo, hi;
        coco_area_range(a, &lo, &hi);
        not_ignored[a] += coco_match_image(gts, ng, w->dts, nd, w->ious, lo, hi, &w->scratch,
                                           w->flags[a] + w->dets * COCO_T);
    }
    w->first[w->images] = w->dets;
    w->images++;
    w->dets += nd;
    return 0;
}

/* Every image of category k, then its accumulation. */
static int evaluate_category(const grouped *gt, const grouped *dt, size_t k, coco_eval *e)
{
    category_work w = {0};
    coco_category_matches c = {0};
    const coco_object **g = gt->items + gt->starts[k], **g_end = gt->items + gt->starts[k + 1];
    const coco_object **d = dt->items + dt->starts[k], **d_end = dt->items + dt->starts[k + 1];
    int status = 0;
    while (status == 0 && (g < g_end || d < d_end)) {
        size_t image = g == g_end ? (*d)->image
                       : d == d_end ? (*g)->image
                       : (*g)->image < (*d)->image ? (*g)->image : (*d)->image;
        const coco_object **g0 = g, **d0 = d;
        while (g < g_end && (*g)->image == image)
            g++;
        while (d < d_end && (*d)->image == image)
            d++;
        status = evaluate_image(&w, e->type, g0, (size_t)(g - g0), d0, (size_t)(d - d0),
                                c.not_ignored);
    }
    if (status == 0 && w.images > 0) {
        w.first[w.images] = w.dets;
        c.num_images = w.images;
        c.first = w.first;
        c.scores = w.scores;
        for (int a = 0; a < COCO_A; a++)
            c.flags[a] = w.flags[a];
        status = coco_accumulate_category(&c, k, e);
    }
    work_free(&w);
    return status;
}

int coco_evaluate(const coco_dataset *gt, const coco_objects *dt, coco_iou_type type,
                  int threads, coco_eval *out)
{
    size_t K = gt->num_categories;
    memset(out, 0, sizeof *out);
    out->type = type;
    out->num_categories = K;
    size_t np = (size_t)COCO_T * COCO_R * K * COCO_A * COCO_M;
    size_t nr = (size_t)COCO_T * K * COCO_A * COCO_M;
    out->precision = malloc((np + 1) * sizeof *out->precision);
    out->recall = malloc((nr + 1) * sizeof *out->recall);
    out->class_ap = malloc((K + 1) * sizeof *out->class_ap);
    grouped g = {0}, d = {0};
    int failed = !out->precision || !out->recall || !out->class_ap ||
                 group(&gt->annotations, K, &g) || group(dt, K, &d);
    if (!failed) {
        for (size_t i = 0; i < np; i++)
            out->precision[i] = -1;
        for (size_t i = 0; i < nr; i++)
            out->recall[i] = -1;
#pragma omp parallel for schedule(dynamic) reduction(|| : failed) if (threads != 1)
        for (size_t k = 0; k < K; k++)
            failed = evaluate_category(&g, &d, k, out) || failed;
    }
    free(g.items);
    free(g.starts);
    free(d.items);
    free(d.starts);
    if (failed || coco_summarize(out)) {
        coco_eval_free(out);
        return -1;
    }
    return 0;
}
