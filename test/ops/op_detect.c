/* The op families of Detect (kernels/detect.cu, nms.cu, score_filter.cu): Fast NMS alone,
 * the whole of Detect on a batch, and the score threshold on its lists, each against
 * yl_detect_cpu or yl_keep_scores_above_cpu. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cpu/post_ops.h"
#include "ops/op_harness.h"
#include "parity_raw.h"

/* ---- Fast NMS --------------------------------------------------------------------------
 * dims: priors, classes, top_k, prior clusters, odd boxes (0/1). Every prior is a candidate
 * (scores in (0, 1), threshold 0), so yl_detect_cpu's per-class order is the scores sorted
 * descending with ties by prior index; the kernel gets each class's first top_k boxes in
 * that order, and its kept flags (top_k a class, 0 past the class's count) must be 1 exactly
 * at the (class, prior) pairs yl_detect_cpu keeps when max_detections keeps all of them.
 * 0 priors: every count 0, nothing kept. */
static const float *sort_scores;

static int by_score_then_index(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    float si = sort_scores[i], sj = sort_scores[j];
    if (si != sj)
        return si > sj ? -1 : 1;
    return (i > j) - (i < j);
}

static void fast_nms_run(const op_case *c, op_run *r)
{
    const int num_priors = c->dims[0], num_classes = c->dims[1], top_k = c->dims[2];
    const int clusters = c->dims[3], odd = c->dims[4], fg = num_classes - 1;
    uint64_t *rng = op_rng(r);
    float *loc = op_host(r, (size_t)num_priors * 16), *priors = op_host(r, num_priors * 16);
    float *conf = op_host(r, (size_t)num_priors * num_classes * 4);
    float *decoded = op_host(r, (size_t)num_priors * 16);
    for (int p = 0; p < num_priors; p++) {
        /* Priors around a few centres, so IoUs straddle the threshold. */
        float *pr = priors + 4 * p;
        pr[0] = 0.1f + 0.8f * (float)(p % clusters) / (float)clusters +
                yl_test_rand(rng, -0.02f, 0.02f);
        pr[1] = 0.5f + yl_test_rand(rng, -0.05f, 0.05f);
        pr[2] = yl_test_rand(rng, 0.05f, 0.3f);
        pr[3] = yl_test_rand(rng, 0.05f, 0.3f);
        for (int j = 0; j < 4; j++)
            loc[4 * p + j] = yl_test_rand(rng, -1.0f, 1.0f);
        if (odd && p % 7 == 3)     /* huge, reaching far outside the image */
            loc[4 * p + 2] = loc[4 * p + 3] = 12.0f;
        if (odd && p % 7 == 5)     /* tiny */
            loc[4 * p + 2] = loc[4 * p + 3] = -30.0f;
        if (odd && p == 1)
            loc[4] = NAN;
        for (int k = 0; k < num_classes; k++)
            conf[(size_t)p * num_classes + k] = yl_test_rand(rng, 0.001f, 1.0f);
        if (odd && p % 5 == 0 && p > 0)    /* a tie with the previous prior */
            memcpy(conf + (size_t)p * num_classes, conf + (size_t)(p - 1) * num_classes,
                   (size_t)num_classes * 4);
        yl_decode_box(loc + 4 * p, pr, decoded + 4 * p);
    }
    const int k = num_priors < top_k ? num_priors : top_k;
    const size_t slots = (size_t)fg * top_k;
    float *boxes = op_host(r, slots * 16), *scores = op_host(r, (size_t)num_priors * 4);
    int *order = op_host(r, slots * sizeof(int)), *counts = op_host(r, (size_t)fg * 4);
    int *idx = op_host(r, (size_t)num_priors * sizeof(int));
    memset(boxes, 0, slots * 16);
    for (int cl = 0; cl < fg; cl++) {
        for (int p = 0; p < num_priors; p++) {
            scores[p] = conf[(size_t)p * num_classes + 1 + cl];
            idx[p] = p;
        }
        sort_scores = scores;
        qsort(idx, num_priors, sizeof(int), by_score_then_index);
        counts[cl] = k;
        for (int q = 0; q < k; q++) {
            order[cl * top_k + q] = idx[q];
            memcpy(boxes + ((size_t)cl * top_k + q) * 4, decoded + 4 * idx[q], 16);
        }
    }
    uint8_t *want = op_host(r, slots);
    memset(want, 0, slots);
    if (num_priors > 0) {
        yl_detect_params dp = {num_classes, 0.0f, top_k, 0.5f, fg * top_k};
        yl_raw_detection *det = op_host(r, slots * sizeof *det);
        int nwant;
        yl_detect_cpu(loc, conf, priors, num_priors, &dp, 1, det, fg * top_k, &nwant,
                      op_host(r, yl_detect_workspace_bytes(num_priors, &dp)));
        for (int i = 0; i < nwant; i++) {
            int q = 0, cl = det[i].class_index;
            while (q < k && order[cl * top_k + q] != det[i].prior)
                q++;
            ck_assert_msg(q < k, "NMS: the CPU keeps prior %d of class %d, not among its "
                          "first %d", det[i].prior, cl, k);
            want[cl * top_k + q] = 1;
        }
        ck_assert_msg(nwant > 0 && (nwant < fg * k || k == 1), "NMS case keeps %d of %d: it "
                      "tests no suppression", nwant, fg * k);
    }
    uint8_t *d_kept = op_dev(r, slots);
    ck_assert_status(yl_fast_nms_cuda(op_to_dev(r, boxes, slots * 16),
                                      op_to_dev(r, counts, (size_t)fg * 4), fg, top_k, 0.5f,
                                      d_kept, NULL), YOLACT_OK);
    op_output(r, "kept flags", OP_U8, slots, op_from_dev(r, d_kept, slots), want, NULL, NULL);
}
const op_family op_fast_nms = {"fast_nms", fast_nms_run};

/* ---- Detect ------------------------------------------------------------------------------
 * dims: priors, classes, top_k, max_detections, batch; list: per image (fg_percent, forced,
 * ties, odd, spread, fewest, most): the share of foreground priors (or, forced >= 0, exactly
 * the first `forced`), quantised scores, odd rows (NaN scores, -0 scores, zero-area boxes),
 * small priors all over the image (Fast NMS keeps nearly all), and the range the CPU's count
 * must fall in (the row tests what it says). Priors around a few centres so IoUs straddle
 * the threshold (unless spread); foreground rows score up to 0.5, background rows below the
 * 0.05 threshold. The batch shares image 0's priors.
 * With c->data (the parity raw outputs): dims priors 0, and the list one image's range.
 * Outputs: the counts, (class, prior) and scores of every list (exact), the boxes (check[1]:
 * bit for bit with the C library's expf; on a GPU, within 3 ulps for w and h, a corner
 * cx - w / 2 can cancel, so each corner within 8 ulps of the larger of its axis' two
 * corners), and each row's tail past max_detections, which must be left alone. In the
 * emulation the call must also allocate, copy and wait for nothing. */
#define DETECT_ITEM 7

static void detect_inputs(uint64_t *rng, const int *item, int np, int nc, float *loc,
                          float *conf, float *priors)
{
    const int forced = item[1], ties = item[2], odd = item[3], spread = item[4];
    const float fg_prob = (float)item[0] / 100.0f;
    for (int p = 0; p < np; p++) {
        float *pr = priors + 4 * p;
        if (spread) {
            pr[0] = yl_test_rand(rng, 0.0f, 1.0f);
            pr[1] = yl_test_rand(rng, 0.0f, 1.0f);
            pr[2] = yl_test_rand(rng, 0.005f, 0.02f);
            pr[3] = yl_test_rand(rng, 0.005f, 0.02f);
        } else {
            pr[0] = 0.2f + 0.15f * (float)(p % 5) + yl_test_rand(rng, -0.02f, 0.02f);
            pr[1] = 0.5f + yl_test_rand(rng, -0.05f, 0.05f);
            pr[2] = yl_test_rand(rng, 0.05f, 0.3f);
            pr[3] = yl_test_rand(rng, 0.05f, 0.3f);
        }
        for (int j = 0; j < 4; j++)
            loc[4 * p + j] = yl_test_rand(rng, -1.0f, 1.0f);
        int fg = forced >= 0 ? p < forced : yl_test_rand(rng, 0, 1) < fg_prob;
        float *row = conf + (size_t)p * nc;
        row[0] = yl_test_rand(rng, 0, 1);
        for (int k = 1; k < nc; k++) {
            float v = fg ? yl_test_rand(rng, 0.0f, 0.5f) : yl_test_rand(rng, 0.0f, 0.04f);
            row[k] = ties ? floorf(v * 16) / 16 : v;
        }
        if (fg && forced >= 0)
            row[1] = 0.5f;    /* a candidate whatever the draw */
        if (!odd)
            continue;
        if (p % 11 == 3)
            row[1 + p % (nc - 1)] = NAN;     /* never a candidate */
        if (p % 13 == 4)
            for (int k = 2; k < nc; k++)
                row[k] = -0.0f;              /* ties with +0 */
        if (p % 9 == 2)
            loc[4 * p + 2] = -1000.0f;       /* zero width: NaN IoU, suppressed */
    }
}

static void detect_run(const op_case *c, op_run *r)
{
    int np = c->dims[0], nc = c->dims[1], batch = c->dims[4];
    const yl_detect_params p0 = {nc, 0.05f, c->dims[2], 0.5f, c->dims[3]};
    yl_detect_params params = p0;
    float *loc, *conf, *priors;
    yl_parity_raw raw;
    if (c->data) {
        yl_parity_raw_load(&raw);
        np = raw.num_priors;
        params.num_classes = nc = raw.num_classes;
        if (params.max_detections == 0)    /* every kept detection */
            params.max_detections = (nc - 1) * params.top_k;
        loc = op_host_copy(r, raw.full_loc, (size_t)np * 16);
        conf = op_host_copy(r, raw.full_conf, (size_t)np * nc * 4);
        priors = op_host_copy(r, raw.priors.data, (size_t)np * 16);
        yl_parity_raw_free(&raw);
    } else {
        loc = op_host(r, (size_t)batch * np * 16);
        conf = op_host(r, (size_t)batch * np * nc * 4);
        priors = op_host(r, (size_t)np * 16);
        float *image_priors = op_host(r, (size_t)np * 16);
        for (int b = 0; b < batch; b++)    /* each image draws priors; image 0's are used */
            detect_inputs(op_rng(r), c->list + b * DETECT_ITEM, np, nc,
                          loc + (size_t)b * np * 4, conf + (size_t)b * np * nc,
                          b == 0 ? priors : image_priors);
    }
    const yl_detect_params *p = &params;
    const size_t maxd = (size_t)p->max_detections, stride = maxd + 3;
    const size_t out_bytes = (size_t)batch * stride * sizeof(yl_raw_detection);
    yl_raw_detection *untouched = op_host(r, out_bytes), *want = op_host(r, out_bytes);
    memset(untouched, 0x5a, out_bytes);
    memset(want, 0, out_bytes);
    void *ws = op_host(r, yl_detect_workspace_bytes(np, p));
    int *n_want = op_host(r, batch * sizeof *n_want);
    yl_detect_cpu(loc, conf, priors, np, p, batch, want, (int)stride, n_want, ws);
    for (int b = 0; b < batch; b++) {
        const int *item = c->list + b * DETECT_ITEM + (c->data ? 0 : 5);
        ck_assert_msg(n_want[b] >= item[0] && n_want[b] <= item[1], "detect %s, image %d: the "
                      "CPU finds %d, the row expects %d..%d", c->name, b, n_want[b], item[0],
                      item[1]);
    }
    yl_raw_detection *d_out = op_to_dev(r, untouched, out_bytes);
    const size_t ws_bytes = yl_detect_cuda_workspace_bytes(np, p, batch);
    ck_assert_msg(ws_bytes > 0, "detect %s: no workspace size", c->name);
    float *d_loc = op_to_dev(r, loc, (size_t)batch * np * 16);
    float *d_conf = op_to_dev(r, conf, (size_t)batch * np * nc * 4);
    float *d_priors = op_to_dev(r, priors, (size_t)np * 16);
    void *d_ws = op_dev(r, ws_bytes);
    int *d_count = op_dev(r, batch * 4);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters k;
    yl_emu_counters_reset();
#endif
    ck_assert_status(yl_detect_cuda(d_loc, d_conf, d_priors, np, p, batch, d_out, (int)stride,
                                    d_count, d_ws, NULL), YOLACT_OK);
#ifdef YL_CUDA_EMULATION
    yl_emu_counters_get(&k);
    ck_assert_msg(k.allocations == 0 && k.frees == 0 && k.h2d_copies == 0 &&
                  k.d2d_copies == 0 && k.memsets == 0 && k.d2h_copies == 0 &&
                  k.synchronizations == 0,
                  "%s: yl_detect_cuda made %ld allocations, %ld frees, %ld/%ld/%ld h2d/d2h/d2d "
                  "copies, %ld memsets, %ld synchronisations; expected none", c->name,
                  k.allocations, k.frees, k.h2d_copies, k.d2h_copies, k.d2d_copies, k.memsets,
                  k.synchronizations);
#endif
    const int *n_got = op_from_dev(r, d_count, batch * sizeof *n_got);
    const yl_raw_detection *got = op_from_dev(r, d_out, out_bytes);
    /* The lists as arrays: ids (class, prior), scores, boxes over each row's first
     * max(count) entries (zero past a list's count on both sides), and the tails' bytes. */
    const size_t rows = (size_t)batch * maxd, tail = (stride - maxd) * sizeof *got;
    int32_t *ids[2] = {op_host(r, rows * 8), op_host(r, rows * 8)};
    float *sc[2] = {op_host(r, rows * 4), op_host(r, rows * 4)};
    float *bx[2] = {op_host(r, rows * 16), op_host(r, rows * 16)};
    double *bmag = op_host(r, rows * 4 * sizeof *bmag);
    uint8_t *tails = op_host(r, batch * tail), *tails_want = op_host(r, batch * tail);
    memset(tails_want, 0x5a, batch * tail);
    for (int s = 0; s < 2; s++) {
        const yl_raw_detection *list = s ? want : got;
        const int *n = s ? n_want : n_got;
        for (int b = 0; b < batch; b++)
            for (size_t i = 0; i < maxd; i++) {
                const size_t at = (size_t)b * maxd + i;
                const yl_raw_detection *d = &list[b * stride + i];
                const int in = (int)i < n[b];
                ids[s][2 * at] = in ? d->class_index : 0;
                ids[s][2 * at + 1] = in ? d->prior : 0;
                sc[s][at] = in ? d->score : 0;
                for (int j = 0; j < 4; j++)
                    bx[s][4 * at + j] = in ? d->box[j] : 0;
                if (s)
                    for (int j = 0; j < 4; j++)
                        bmag[4 * at + j] = fmax(fabs(bx[1][4 * at + j % 2]),
                                                fabs(bx[1][4 * at + j % 2 + 2]));
            }
    }
    for (int b = 0; b < batch; b++)
        memcpy(tails + b * tail, got + b * stride + maxd, tail);
    op_output(r, "counts", OP_I32, batch, n_got, n_want, NULL, &op_exact);
    op_output(r, "(class, prior)", OP_I32, 2 * rows, ids[0], ids[1], NULL, &op_exact);
    op_output(r, "scores", OP_F32, rows, sc[0], sc[1], NULL, NULL);
    op_output(r, "boxes", OP_F32, 4 * rows, bx[0], bx[1], bmag, &c->check[1]);
    op_output(r, "row tails", OP_U8, batch * tail, tails, tails_want, NULL, &op_exact);
}
const op_family op_detect = {"detect", detect_run};

/* ---- the score threshold -------------------------------------------------------------------
 * dims: batch, stride, threshold (thousandths). Lists of descending scores (multiples of
 * 1/20, so some equal the threshold: dropped, strictly above is kept), counts 0..stride; the
 * tails past a count hold scores above the threshold, never to be read. batch 0: the lists
 * below, whose counts the CPU must give as the row's list says (the reference checked too):
 * all kept, none, a score equal to the threshold, an empty list, tails past the count. */
enum { KEEP_FIXED_BATCH = 5, KEEP_FIXED_STRIDE = 6 };
static const float keep_fixed[KEEP_FIXED_BATCH][KEEP_FIXED_STRIDE] = {
    {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f}, {0.2f, 0.1f, 0.05f, 0.0f, 0.0f, 0.0f},
    {0.9f, 0.3f, 0.25f, 0.2f, 0.9f, 0.9f}, {0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f},
    {0.8f, 0.6f, 0.3f, 0.1f, 0.0f, 0.0f}};
static const int keep_fixed_counts[KEEP_FIXED_BATCH] = {6, 3, 4, 0, 4};

static void keep_scores_above_run(const op_case *c, op_run *r)
{
    const int fixed = c->dims[0] == 0;
    const int batch = fixed ? KEEP_FIXED_BATCH : c->dims[0];
    const int stride = fixed ? KEEP_FIXED_STRIDE : c->dims[1];
    const float threshold = (float)c->dims[2] / 1000.0f;
    uint64_t *rng = op_rng(r);
    yl_raw_detection *dets = op_host(r, (size_t)batch * stride * sizeof *dets);
    int32_t *counts = op_host(r, batch * 4), *want = op_host(r, batch * 4);
    memset(dets, 0, (size_t)batch * stride * sizeof *dets);
    for (int b = 0; b < batch; b++) {
        float score = yl_test_rand(rng, 0.2f, 1.0f);
        counts[b] = fixed ? keep_fixed_counts[b] : (int)yl_test_rand(rng, 0, (float)stride + 1);
        counts[b] = counts[b] > stride ? stride : counts[b];
        for (int i = 0; i < stride; i++) {
            dets[b * stride + i].score = fixed ? keep_fixed[b][i]
                                       : i < counts[b] ? floorf(score * 20) / 20 : 0.9f;
            score -= yl_test_rand(rng, 0.0f, 0.1f);
        }
    }
    memcpy(want, counts, batch * 4);
    yl_keep_scores_above_cpu(dets, stride, want, batch, threshold);
    for (int b = 0; fixed && b < batch; b++)
        ck_assert_msg(b < c->list_len && want[b] == c->list[b], "keep_scores_above %s: list %d "
                      "keeps %d, the row expects %d", c->name, b, want[b],
                      b < c->list_len ? c->list[b] : -1);
    int *d_counts = op_to_dev(r, counts, batch * 4);
    const void *d_dets = op_to_dev(r, dets, (size_t)batch * stride * sizeof *dets);
    ck_assert_status(yl_keep_scores_above_cuda(d_dets, stride, d_counts, batch, threshold, NULL),
                     YOLACT_OK);
    op_output(r, "counts", OP_I32, batch, op_from_dev(r, d_counts, batch * 4), want, NULL,
              NULL);
}
const op_family op_keep_scores_above = {"keep_scores_above", keep_scores_above_run};
