/* Box decoding and per-class Fast NMS on the CPU, reproducing the official
 * box_utils.decode/jaccard and Detect.fast_nms (see post_ops.h). */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cpu/post_ops.h"

void yl_decode_box(const float loc[4], const float prior[4], float box[4])
{
    /* Same float32 operation order as box_utils.decode: (loc * var) * prior_size. */
    float cx = prior[0] + loc[0] * 0.1f * prior[2];
    float cy = prior[1] + loc[1] * 0.1f * prior[3];
    float w = prior[2] * expf(loc[2] * 0.2f);
    float h = prior[3] * expf(loc[3] * 0.2f);
    box[0] = cx - w / 2;
    box[1] = cy - h / 2;
    box[2] = w + box[0];
    box[3] = h + box[1];
}

/* jaccard for one pair given both areas; clamp keeps NaN like torch.clamp. */
static inline float iou_with_areas(float ax1, float ay1, float ax2, float ay2, float area_a,
                                   float bx1, float by1, float bx2, float by2, float area_b)
{
    float iw = (ax2 < bx2 ? ax2 : bx2) - (ax1 > bx1 ? ax1 : bx1);
    float ih = (ay2 < by2 ? ay2 : by2) - (ay1 > by1 ? ay1 : by1);
    iw = iw < 0.0f ? 0.0f : iw;
    ih = ih < 0.0f ? 0.0f : ih;
    float inter = iw * ih;
    return inter / (area_a + area_b - inter);
}

static inline float box_area(const float b[4])
{
    return (b[2] - b[0]) * (b[3] - b[1]);
}

float yl_box_iou(const float a[4], const float b[4])
{
    return iou_with_areas(a[0], a[1], a[2], a[3], box_area(a), b[0], b[1], b[2], b[3],
                          box_area(b));
}

/* A sort key: higher score first, then lower order (the stable-sort tie rule). */
typedef struct score_key {
    float score;
    int order;
} score_key;

static inline int key_better(score_key a, score_key b)
{
    return a.score > b.score || (a.score == b.score && a.order < b.order);
}

/* Bounded selection of the best `cap` keys: a heap with the worst kept key at the root,
 * O(n log cap) worst case; keys never contain NaN scores (see yl_detect_cpu). */
typedef struct top_heap {
    score_key *a;
    int size, cap;
} top_heap;

static void heap_sift_down(score_key *a, int size, int i)
{
    for (;;) {
        int w = i, l = 2 * i + 1, r = l + 1;
        if (l < size && key_better(a[w], a[l]))
            w = l;
        if (r < size && key_better(a[w], a[r]))
            w = r;
        if (w == i)
            return;
        score_key t = a[i];
        a[i] = a[w];
        a[w] = t;
        i = w;
    }
}

static inline void heap_offer(top_heap *h, score_key k)
{
    if (h->size < h->cap) {
        int i = h->size++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!key_better(h->a[p], k))
                break;
            h->a[i] = h->a[p];
            i = p;
        }
        h->a[i] = k;
    } else if (key_better(k, h->a[0])) {
        h->a[0] = k;
        heap_sift_down(h->a, h->size, 0);
    }
}

/* Heap sort in place: leaves a[0..size) best first; returns size. */
static int heap_finish(top_heap *h)
{
    for (int n = h->size - 1; n > 0; n--) {
        score_key t = h->a[0];
        h->a[0] = h->a[n];
        h->a[n] = t;
        heap_sift_down(h->a, n, 0);
    }
    return h->size;
}

/* The workspace, carved from one block; with base == NULL only the size is computed. */
typedef struct detect_ws {
    int *cand;              /* (num_priors) candidate -> prior */
    float *cand_box;        /* (num_priors, 4) decoded boxes of the candidates */
    float *cand_area;       /* (num_priors) */
    float *class_scores;    /* (num_classes - 1, num_priors) candidate scores, class-major */
    score_key *heap;        /* (max(top_k, max_detections)) */
    float *x1, *y1, *x2, *y2, *area;    /* (top_k) one class's top boxes */
    unsigned char *suppressed;          /* (top_k) */
    score_key *kept;        /* ((num_classes - 1) * top_k) survivors of all classes */
    int *kept_cand;         /* ((num_classes - 1) * top_k) by order = class * top_k + rank */
} detect_ws;

static int params_valid(int num_priors, const yl_detect_params *p)
{
    /* The flat order class * top_k + rank must fit an int. */
    return num_priors > 0 && p->num_classes >= 2 && p->top_k > 0 && p->max_detections > 0 &&
           (long long)(p->num_classes - 1) * p->top_k <= INT_MAX;
}

static void *carve(unsigned char *base, size_t *offset, size_t count, size_t elem)
{
    size_t at = (*offset + 63) & ~(size_t)63;
    *offset = at + count * elem;
    return base ? base + at : NULL;
}

static size_t detect_layout(int num_priors, const yl_detect_params *p, void *base,
                            detect_ws *ws)
{
    size_t np = (size_t)num_priors, nc = (size_t)p->num_classes - 1, k = (size_t)p->top_k;
    size_t heap = k > (size_t)p->max_detections ? k : (size_t)p->max_detections;
    unsigned char *b = base;
    size_t off = 0;
    ws->cand = carve(b, &off, np, sizeof(int));
    ws->cand_box = carve(b, &off, np * 4, sizeof(float));
    ws->cand_area = carve(b, &off, np, sizeof(float));
    ws->class_scores = carve(b, &off, nc * np, sizeof(float));
    ws->heap = carve(b, &off, heap, sizeof(score_key));
    ws->x1 = carve(b, &off, k, sizeof(float));
    ws->y1 = carve(b, &off, k, sizeof(float));
    ws->x2 = carve(b, &off, k, sizeof(float));
    ws->y2 = carve(b, &off, k, sizeof(float));
    ws->area = carve(b, &off, k, sizeof(float));
    ws->suppressed = carve(b, &off, k, 1);
    ws->kept = carve(b, &off, nc * k, sizeof(score_key));
    ws->kept_cand = carve(b, &off, nc * k, sizeof(int));
    return off + 63;    /* room to align the caller's block */
}

size_t yl_detect_workspace_bytes(int num_priors, const yl_detect_params *params)
{
    detect_ws ws;
    if (!params_valid(num_priors, params))
        return 0;
    return detect_layout(num_priors, params, NULL, &ws);
}

/* Fast NMS of one class's top k boxes (in ws->x1.. order, best first, suppressed[] cleared):
 * marks suppressed[j] when any earlier box i < j, suppressed or not, has IoU > threshold
 * (or NaN, which torch.max propagates and `<=` rejects). The full triangle is evaluated,
 * branch-free, so the inner loop vectorises. */
static void fast_nms_class(detect_ws *ws, int k, float threshold)
{
    unsigned char *sup = ws->suppressed;
    for (int i = 0; i < k; i++) {
        float ax1 = ws->x1[i], ay1 = ws->y1[i], ax2 = ws->x2[i], ay2 = ws->y2[i];
        float aa = ws->area[i];
        for (int j = i + 1; j < k; j++) {
            float iou = iou_with_areas(ax1, ay1, ax2, ay2, aa, ws->x1[j], ws->y1[j],
                                       ws->x2[j], ws->y2[j], ws->area[j]);
            sup[j] |= !(iou <= threshold);
        }
    }
}

/* One image's list into out; returns its length. */
static int detect_image(const float *loc, const float *conf, const float *priors,
                        int num_priors, const yl_detect_params *params, yl_raw_detection *out,
                        void *workspace)
{
    detect_ws ws;
    detect_layout(num_priors, params,
                  (void *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63), &ws);
    const int nc = params->num_classes, fg = nc - 1;

    /* Candidates: best foreground score > threshold; a NaN anywhere makes torch.max NaN,
     * which fails the test, so every candidate score below is a number. */
    int n = 0;
    for (int p = 0; p < num_priors; p++) {
        const float *row = conf + (size_t)p * nc;
        float best = row[1];
        int has_nan = 0;
        for (int c = 1; c < nc; c++) {
            has_nan |= isnan(row[c]);
            best = row[c] > best ? row[c] : best;
        }
        if (has_nan || !(best > params->conf_threshold))
            continue;
        ws.cand[n] = p;
        yl_decode_box(loc + 4 * (size_t)p, priors + 4 * (size_t)p, ws.cand_box + 4 * (size_t)n);
        ws.cand_area[n] = box_area(ws.cand_box + 4 * (size_t)n);
        n++;
    }
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++) {
        const float *row = conf + (size_t)ws.cand[i] * nc + 1;
        for (int c = 0; c < fg; c++)
            ws.class_scores[(size_t)c * n + i] = row[c];
    }

    const int k = n < params->top_k ? n : params->top_k;
    int num_kept = 0;
    for (int c = 0; c < fg; c++) {
        top_heap h = {ws.heap, 0, k};
        const float *s = ws.class_scores + (size_t)c * n;
        for (int i = 0; i < n; i++)
            heap_offer(&h, (score_key){s[i], i});
        heap_finish(&h);
        for (int r = 0; r < k; r++) {
            const float *b = ws.cand_box + 4 * (size_t)h.a[r].order;
            ws.x1[r] = b[0];
            ws.y1[r] = b[1];
            ws.x2[r] = b[2];
            ws.y2[r] = b[3];
            ws.area[r] = ws.cand_area[h.a[r].order];
            ws.suppressed[r] = 0;
        }
        fast_nms_class(&ws, k, params->nms_threshold);
        for (int r = 0; r < k; r++) {
            if (ws.suppressed[r])
                continue;
            int order = c * params->top_k + r;
            ws.kept[num_kept++] = (score_key){h.a[r].score, order};
            ws.kept_cand[order] = h.a[r].order;
        }
    }

    /* All classes' survivors by score; ties: lower class, then rank (the flat order). */
    top_heap h = {ws.heap, 0, params->max_detections};
    for (int i = 0; i < num_kept; i++)
        heap_offer(&h, ws.kept[i]);
    int count = heap_finish(&h);
    for (int i = 0; i < count; i++) {
        int order = h.a[i].order, cand = ws.kept_cand[order];
        out[i].prior = ws.cand[cand];
        out[i].class_index = order / params->top_k;
        out[i].score = h.a[i].score;
        memcpy(out[i].box, ws.cand_box + 4 * (size_t)cand, sizeof out[i].box);
    }
    return count;
}

void yl_detect_cpu(const float *loc, const float *conf, const float *priors, int num_priors,
                   const yl_detect_params *params, int batch, yl_raw_detection *out,
                   int out_stride, int *count, void *workspace)
{
    const int valid = params_valid(num_priors, params);
    const size_t nc = valid ? (size_t)params->num_classes : 0;
    for (int b = 0; b < batch; b++)
        count[b] = valid ? detect_image(loc + (size_t)b * num_priors * 4,
                                        conf + (size_t)b * num_priors * nc, priors, num_priors,
                                        params, out + (size_t)b * out_stride, workspace)
                         : 0;
}

void yl_keep_scores_above_cpu(const yl_raw_detection *detections, int stride, int *counts,
                              int batch, float threshold)
{
    for (int b = 0; b < batch; b++) {
        const yl_raw_detection *list = detections + (size_t)b * stride;
        int kept = 0;
        while (kept < counts[b] && list[kept].score > threshold)
            kept++;
        counts[b] = kept;
    }
}
