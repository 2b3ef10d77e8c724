/* Tests of the ops after the network (lib/cpu/post_ops.h, lib/ops/, lib/rle.h): priors and
 * detections against the official implementation's dumps, Fast NMS against a plain
 * re-implementation, mask assembly / resize against direct loops and PyTorch, COCO RLE
 * against pycocotools' strings. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dense_ops.h"
#include "cpu/post_ops.h"
#include "ops/boxes.h"
#include "ops/priors.h"
#include "parity_raw.h"
#include "rle.h"
#include "ref_json.h"
#include "yl_test.h"

#define PARITY YL_TEST_DATA "/parity/"

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    ck_assert_msg(p != NULL, "out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    ck_assert_msg(p != NULL, "out of memory");
    return p;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Per-element comparisons in loops count mismatches and keep the first one's description,
 * then assert once (Check's asserts are too slow for millions of pixels). */
typedef struct mismatch {
    long count;
    char first[512];
} mismatch;

#define NOTE_MISMATCH(m, ...)                                                   \
    do {                                                                        \
        if ((m)->count++ == 0)                                                  \
            snprintf((m)->first, sizeof (m)->first, __VA_ARGS__);               \
    } while (0)

#define ASSERT_NO_MISMATCH(m) \
    ck_assert_msg((m).count == 0, "%ld mismatches, the first: %s", (m).count, (m).first)

/* The reference detections, through the shared reader. */
static int load_ref(const char *path, ref_detection **dets)
{
    int n = ref_json_read(path, dets);
    ck_assert_msg(n >= 0, "cannot parse %s", path);
    return n;
}

/* ---- priors ---- */

static const float tiny_scales[5] = {24, 48, 96, 192, 384};
static const float tiny_ars[3] = {1, 0.5f, 2};

static int tiny_levels(yl_prior_level lv[5])
{
    static const int grid[5] = {69, 35, 18, 9, 5};
    for (int l = 0; l < 5; l++)
        lv[l] = (yl_prior_level){grid[l], grid[l], 1, &tiny_scales[l], 3, tiny_ars};
    return 5;
}

START_TEST(test_priors_match_reference)
{
    yl_prior_level lv[5];
    int nl = tiny_levels(lv);
    ck_assert_int_eq(yl_make_priors(lv, nl, 550, 1, NULL), 19248);
    /* First row of each level: P3 0, P4 14283, P5 17958, P6 18930, P7 19173. */
    static const int starts[6] = {0, 14283, 17958, 18930, 19173, 19248};
    for (int l = 0; l < nl; l++)
        ck_assert_int_eq(yl_make_priors(lv, l + 1, 550, 1, NULL), starts[l + 1]);

    yl_npy ref;
    yl_test_load_npz(YL_PARITY_RAW_NPZ, "priors", "<f4", &ref);
    ck_assert_int_eq(ref.ndim, 2);
    ck_assert_uint_eq(ref.shape[0], 19248);
    ck_assert_uint_eq(ref.shape[1], 4);
    float *pri = xmalloc(19248 * 4 * sizeof(float));
    ck_assert_int_eq(yl_make_priors(lv, nl, 550, 1, pri), 19248);
    const float *r = ref.data;
    int bad = 0;
    for (int i = 0; i < 19248 * 4; i++) {
        if (float_bits(pri[i]) != float_bits(r[i]) && bad++ < 5)
            fprintf(stderr, "prior %d[%d]: %.9g, reference %.9g\n", i / 4, i % 4, pri[i], r[i]);
    }
    ck_assert_msg(bad == 0, "%d prior values differ from the reference", bad);

    /* Non-square anchors: h = scale / sqrt(ar) / size, in each cell scale-major. */
    float two_scales[2] = {10, 20}, ar2 = 2;
    yl_prior_level one = {1, 2, 2, two_scales, 1, &ar2};
    float p[4 * 4];
    ck_assert_int_eq(yl_make_priors(&one, 1, 100, 0, p), 4);
    ck_assert_float_eq(p[0], 0.25f);
    ck_assert_float_eq(p[1], 0.5f);
    ck_assert_float_eq(p[2], (float)(10 * sqrt(2.0) / 100));
    ck_assert_float_eq(p[3], (float)(10 / sqrt(2.0) / 100));
    ck_assert_float_eq(p[6], (float)(20 * sqrt(2.0) / 100));
    ck_assert_float_eq(p[8], 0.75f);
    yl_npy_free(&ref);
    free(pri);
}
END_TEST

/* ---- decode and IoU ---- */

START_TEST(test_decode_hand_values)
{
    const float prior[4] = {0.5f, 0.5f, 0.2f, 0.1f};
    const float loc[4] = {1.0f, -2.0f, 0.0f, 5.0f * logf(2.0f)};
    float b[4];
    yl_decode_box(loc, prior, b);
    /* cx = 0.5 + 0.1*0.2 = 0.52, cy = 0.5 - 0.2*0.1 = 0.48, w = 0.2, h = 0.1*2 = 0.2 */
    const float want[4] = {0.42f, 0.38f, 0.62f, 0.58f};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabsf(b[i] - want[i]) <= 1e-6f, "box[%d] = %.9g, expected %.9g", i,
                      b[i], want[i]);
    /* x2 is formed as w + x1, not cx + w/2. */
    ck_assert_float_eq(b[2], 0.2f + (0.52f - 0.1f));
}
END_TEST

START_TEST(test_iou_values)
{
    const float a[4] = {0, 0, 2, 2}, b[4] = {1, 0, 3, 2}, c[4] = {5, 5, 6, 6};
    const float pt[4] = {1, 1, 1, 1}, line[4] = {0, 1, 2, 1};
    ck_assert_float_eq(yl_box_iou(a, a), 1.0f);
    ck_assert_float_eq_tol(yl_box_iou(a, b), 1.0f / 3.0f, 1e-7f);
    ck_assert_float_eq(yl_box_iou(a, c), 0.0f);
    ck_assert_float_eq(yl_box_iou(a, pt), 0.0f);
    ck_assert_float_eq(yl_box_iou(pt, a), 0.0f);
    /* Two zero-area boxes: 0 / 0, which Fast NMS treats as suppressing. */
    ck_assert(isnan(yl_box_iou(pt, line)));
}
END_TEST

START_TEST(test_iou_matches_torch)
{
    const char *path = YL_TEST_DATA "/post/iou.npz";
    yl_npy boxes, iou;
    yl_test_load_npz(path, "boxes", "<f4", &boxes);
    yl_test_load_npz(path, "iou", "<f4", &iou);
    const int n = (int)boxes.shape[0];
    ck_assert_uint_eq(iou.count, (size_t)n * n);
    const float *b = boxes.data, *want = iou.data;
    mismatch bad = {0};
    int nan_pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float got = yl_box_iou(b + 4 * i, b + 4 * j), w = want[i * n + j];
            nan_pairs += isnan(w);
            if (isnan(w) ? !isnan(got) : float_bits(got) != float_bits(w))
                NOTE_MISMATCH(&bad, "boxes %d, %d: %.9g, PyTorch %.9g", i, j, got, w);
        }
    ASSERT_NO_MISMATCH(bad);
    ck_assert_int_gt(nan_pairs, 0);     /* the zero-area pairs are in the data */
    yl_npy_free(&boxes);
    yl_npy_free(&iou);
}
END_TEST

/* ---- Fast NMS against a plain re-implementation ---- */

static float ref_iou(const float *a, const float *b)
{
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    float inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    return inter / (area_a + area_b - inter);
}

typedef struct ref_entry {
    float score;
    int cls, rank, cand;
} ref_entry;

/* Stable insertion sort by descending score. */
static void ref_sort(ref_entry *e, int n)
{
    for (int i = 1; i < n; i++) {
        ref_entry t = e[i];
        int j = i;
        for (; j > 0 && e[j - 1].score < t.score; j--)
            e[j] = e[j - 1];
        e[j] = t;
    }
}

/* detection.py's fast_nms, literally: the whole per-class IoU matrix, upper triangle,
 * column max (NaN propagates), kept iff max <= threshold. */
static int ref_detect(const float *loc, const float *conf, const float *priors, int np,
                      const yl_detect_params *p, yl_raw_detection *out)
{
    const int nc = p->num_classes;
    int *cand = xmalloc(sizeof(int) * np);
    float *box = xmalloc(sizeof(float) * 4 * np);
    int n = 0;
    for (int i = 0; i < np; i++) {
        float m = -INFINITY;
        for (int c = 1; c < nc; c++) {
            float v = conf[i * nc + c];
            if (isnan(v) || isnan(m))
                m = NAN;
            else if (v > m)
                m = v;
        }
        if (m > p->conf_threshold) {
            cand[n] = i;
            yl_decode_box(loc + 4 * i, priors + 4 * i, box + 4 * n);
            n++;
        }
    }
    int k = n < p->top_k ? n : p->top_k, num = 0;
    ref_entry *all = xmalloc(sizeof(ref_entry) * (nc - 1) * (k ? k : 1));
    ref_entry *cls = xmalloc(sizeof(ref_entry) * (n ? n : 1));
    for (int c = 0; c < nc - 1; c++) {
        for (int i = 0; i < n; i++)
            cls[i] = (ref_entry){conf[cand[i] * nc + c + 1], c, 0, i};
        ref_sort(cls, n);
        for (int j = 0; j < k; j++) {
            float max = 0;
            for (int i = 0; i < j; i++) {
                float v = ref_iou(box + 4 * cls[i].cand, box + 4 * cls[j].cand);
                if (!isnan(max) && (isnan(v) || v > max))
                    max = v;
            }
            if (max <= p->nms_threshold) {
                all[num] = cls[j];
                all[num++].rank = j;
            }
        }
    }
    ref_sort(all, num);
    int count = num < p->max_detections ? num : p->max_detections;
    for (int i = 0; i < count; i++) {
        out[i].prior = cand[all[i].cand];
        out[i].class_index = all[i].cls;
        out[i].score = all[i].score;
        memcpy(out[i].box, box + 4 * all[i].cand, sizeof out[i].box);
    }
    free(cand);
    free(box);
    free(all);
    free(cls);
    return count;
}

static int run_detect(const float *loc, const float *conf, const float *priors, int np,
                      const yl_detect_params *p, yl_raw_detection *out)
{
    size_t bytes = yl_detect_workspace_bytes(np, p);
    void *ws = xmalloc(bytes);
    int n;
    yl_detect_cpu(loc, conf, priors, np, p, 1, out, p->max_detections, &n, ws);
    free(ws);
    return n;
}

static void check_same_detections(const yl_raw_detection *got, int n_got,
                                  const yl_raw_detection *want, int n_want, const char *what)
{
    ck_assert_msg(n_got == n_want, "%s: %d detections, reference %d", what, n_got, n_want);
    for (int i = 0; i < n_got; i++) {
        const yl_raw_detection *g = &got[i], *w = &want[i];
        int same = g->prior == w->prior && g->class_index == w->class_index &&
                   float_bits(g->score) == float_bits(w->score) &&
                   memcmp(g->box, w->box, sizeof g->box) == 0;
        ck_assert_msg(same,
                      "%s: detection %d is (prior %d, class %d, score %.9g), reference "
                      "(prior %d, class %d, score %.9g)",
                      what, i, g->prior, g->class_index, g->score, w->prior, w->class_index,
                      w->score);
    }
}

/* Random detection inputs. Scores are quantised when `ties` so equal scores are common;
 * `degenerate` makes some boxes zero-area (exp underflow) and some identical. */
static void random_inputs(uint64_t *rng, int np, int nc, float fg_prob, int ties,
                          int degenerate, float *loc, float *conf, float *priors)
{
    for (int i = 0; i < np; i++) {
        float *pr = priors + 4 * i;
        pr[0] = yl_test_rand(rng, 0.3f, 0.7f);
        pr[1] = yl_test_rand(rng, 0.3f, 0.7f);
        pr[2] = yl_test_rand(rng, 0.05f, 0.4f);
        pr[3] = yl_test_rand(rng, 0.05f, 0.4f);
        for (int j = 0; j < 4; j++)
            loc[4 * i + j] = yl_test_rand(rng, -2, 2);
        if (degenerate && i % 5 == 0)
            loc[4 * i + 2] = -1000;        /* w = 0 */
        if (degenerate && i % 7 == 1 && i > 7) {
            memcpy(loc + 4 * i, loc + 4 * (i - 7), 4 * sizeof(float));
            memcpy(pr, priors + 4 * (i - 7), 4 * sizeof(float));
        }
        float *row = conf + (size_t)i * nc;
        int fg = yl_test_rand(rng, 0, 1) < fg_prob;
        row[0] = 1;
        for (int c = 1; c < nc; c++) {
            float v = fg ? yl_test_rand(rng, 0, 0.5f) : yl_test_rand(rng, 0, 0.04f);
            row[c] = ties ? floorf(v * 16) / 16 : v;
        }
    }
}

START_TEST(test_detect_matches_plain_fast_nms)
{
    static const struct {
        int np, nc, top_k, max_det;
        float fg_prob, nms;
        int ties, degenerate;
    } cases[] = {
        {50, 5, 10, 100, 0.0f, 0.5f, 0, 0},         /* no candidates */
        {50, 5, 10, 100, 0.02f, 0.5f, 0, 0},        /* about one candidate */
        {200, 81, 200, 100, 0.3f, 0.5f, 0, 0},      /* all classes, fewer than top_k */
        {300, 7, 20, 30, 0.5f, 0.5f, 0, 0},         /* more than top_k, cut by max_det */
        {300, 7, 20, 1000, 0.5f, 0.3f, 1, 0},       /* equal scores everywhere */
        {120, 4, 15, 100, 0.6f, 0.5f, 0, 1},        /* zero-area and identical boxes */
        {400, 12, 64, 50, 0.4f, 0.7f, 1, 1},
    };
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        for (int rep = 0; rep < 3; rep++) {
            const int np = cases[t].np, nc = cases[t].nc;
            float *loc = xmalloc(sizeof(float) * 4 * np), *pri = xmalloc(sizeof(float) * 4 * np);
            float *conf = xmalloc(sizeof(float) * np * nc);
            random_inputs(&rng, np, nc, cases[t].fg_prob, cases[t].ties, cases[t].degenerate,
                          loc, conf, pri);
            yl_detect_params p = {nc, 0.05f, cases[t].top_k, cases[t].nms, cases[t].max_det};
            yl_raw_detection *got = xmalloc(sizeof *got * p.max_detections);
            yl_raw_detection *want = xmalloc(sizeof *want * p.max_detections);
            int n_want = ref_detect(loc, conf, pri, np, &p, want);
            int n_got = run_detect(loc, conf, pri, np, &p, got);
            char what[64];
            snprintf(what, sizeof what, "case %zu rep %d", t, rep);
            check_same_detections(got, n_got, want, n_want, what);
            if (t == 0)
                ck_assert_int_eq(n_got, 0);
            if (t == 3)
                ck_assert_int_eq(n_got, 30);
            free(loc);
            free(pri);
            free(conf);
            free(got);
            free(want);
        }
    }
}
END_TEST

START_TEST(test_detect_exactly_top_k_and_ties)
{
    /* 6 candidates, top_k 6, two classes, all with the same score and disjoint boxes except
     * a pair: every class keeps all but the suppressed one, ties by prior then class. */
    enum { NP = 6, NC = 3 };
    float loc[NP * 4] = {0}, pri[NP * 4], conf[NP * NC];
    for (int i = 0; i < NP; i++) {
        float cx = 0.1f + 0.15f * i;
        float *p = pri + 4 * i;
        p[0] = i == 5 ? pri[4 * 4] : cx;    /* prior 5 duplicates prior 4 */
        p[1] = 0.5f;
        p[2] = p[3] = 0.1f;
        conf[i * NC] = 0.5f;
        conf[i * NC + 1] = conf[i * NC + 2] = 0.25f;
    }
    yl_detect_params p = {NC, 0.05f, NP, 0.5f, 100};
    yl_raw_detection out[100];
    int n = run_detect(loc, conf, pri, NP, &p, out);
    ck_assert_int_eq(n, 10);
    for (int i = 0; i < n; i++) {
        /* class 0: priors 0..4, then class 1: priors 0..4 (5 is suppressed by 4). */
        ck_assert_int_eq(out[i].class_index, i / 5);
        ck_assert_int_eq(out[i].prior, i % 5);
    }
    /* top_k 1: only the first candidate per class survives the cut. */
    p.top_k = 1;
    n = run_detect(loc, conf, pri, NP, &p, out);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(out[0].prior, 0);
    ck_assert_int_eq(out[1].prior, 0);
    ck_assert_int_eq(out[1].class_index, 1);
    /* Invalid settings detect nothing. */
    p.top_k = 0;
    ck_assert_uint_eq(yl_detect_workspace_bytes(NP, &p), 0);
    n = -1;
    yl_detect_cpu(loc, conf, pri, NP, &p, 1, out, p.max_detections, &n, NULL);
    ck_assert_int_eq(n, 0);
}
END_TEST

static const yl_detect_params official_params = {81, 0.05f, 200, 0.5f, 100};

START_TEST(test_detect_matches_reference)
{
    yl_parity_raw r;
    yl_parity_raw_load(&r);
    ref_detection *ref;
    int n_ref = load_ref(PARITY "coffee.json", &ref);
    ck_assert_int_eq(n_ref, 100);
    yl_raw_detection out[100];
    int n = run_detect(r.full_loc, r.full_conf, r.priors.data, (int)r.priors.shape[0],
                       &official_params, out);
    ck_assert_int_eq(n, 100);
    for (int i = 0; i < n; i++) {
        int ok = out[i].class_index == ref[i].category_id &&
                 fabs(out[i].score - ref[i].score) <= 1e-6;
        for (int j = 0; j < 4; j++)
            ok &= fabs(out[i].box[j] - ref[i].box_rel[j]) <= 1e-5;
        ck_assert_msg(ok,
                      "detection %d: class %d score %.9g box (%.7f %.7f %.7f %.7f); reference "
                      "class %d score %.9g box (%.7f %.7f %.7f %.7f)",
                      i, out[i].class_index, out[i].score, out[i].box[0], out[i].box[1],
                      out[i].box[2], out[i].box[3], ref[i].category_id, ref[i].score,
                      ref[i].box_rel[0], ref[i].box_rel[1], ref[i].box_rel[2], ref[i].box_rel[3]);
    }
    ref_json_free(ref, n_ref);
    yl_parity_raw_free(&r);
}
END_TEST

/* ---- mask assembly ---- */

/* The crop written out as box_utils.crop states it, in float32. */
static int ref_inside(float a, float b, int size, int c)
{
    float x1 = fminf(a * size, b * size) - 1, x2 = fmaxf(a * size, b * size) + 1;
    x1 = x1 < 0 ? 0 : x1;
    x2 = x2 > size ? (float)size : x2;
    return (float)c >= x1 && (float)c < x2;
}

/* yl_masks_assemble_cpu on one image whose detection m has box m and the coefficients of
 * row m of coef (its prior is m). */
static void assemble_one(const float *proto, int h, int w, int k, const float *coef,
                         const float *boxes, int n, float *out)
{
    yl_raw_detection *det = xmalloc(sizeof *det * (n + 1));
    for (int m = 0; m < n; m++) {
        det[m] = (yl_raw_detection){.prior = m};
        memcpy(det[m].box, boxes + 4 * m, sizeof det[m].box);
    }
    const yl_mask_pass pass = {1, {{n, 0, h, w, 0}}};
    yl_masks_assemble_cpu(proto, h, w, k, coef, 0, det, 0, &pass, out);
    free(det);
}

static void check_assembly(int h, int w, int k, int n, const float *boxes, uint64_t *rng)
{
    float *proto = xmalloc(sizeof(float) * h * w * k), *coef = xmalloc(sizeof(float) * n * k);
    float *out = xmalloc(sizeof(float) * n * h * w);
    for (int i = 0; i < h * w * k; i++)
        proto[i] = yl_test_rand(rng, 0, 2);
    for (int i = 0; i < n * k; i++)
        coef[i] = yl_test_rand(rng, -1, 1);
    assemble_one(proto, h, w, k, coef, boxes, n, out);
    mismatch bad = {0};
    for (int m = 0; m < n; m++) {
        const float *b = boxes + 4 * m;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float got = out[((size_t)m * h + y) * w + x], want = 0;
                if (ref_inside(b[0], b[2], w, x) && ref_inside(b[1], b[3], h, y)) {
                    double s = 0;
                    for (int j = 0; j < k; j++)
                        s += (double)proto[((size_t)y * w + x) * k + j] * coef[m * k + j];
                    want = (float)(1 / (1 + exp(-s)));
                }
                if (want == 0 ? got != 0 : !(fabsf(got - want) <= 1e-6f))
                    NOTE_MISMATCH(&bad, "mask %d (box %g %g %g %g) pixel (%d, %d) of %dx%d "
                                  "k %d: %.9g, expected %.9g", m, b[0], b[1], b[2], b[3], x,
                                  y, w, h, k, got, want);
            }
        }
    }
    ASSERT_NO_MISMATCH(bad);
    free(proto);
    free(coef);
    free(out);
}

START_TEST(test_masks_assemble_matches_direct_loop)
{
    /* Boxes: ordinary, partly outside, inverted corners, tiny, huge, on pixel boundaries,
     * entirely outside, empty. */
    const float boxes[] = {
        0.2f, 0.3f, 0.6f, 0.7f,   -0.3f, 0.8f, 0.4f, 1.5f,   0.9f, 0.6f, 0.1f, 0.2f,
        0.5f, 0.5f, 0.501f, 0.5f,  -5.0f, -5.0f, 6.0f, 6.0f,  0.25f, 0.5f, 0.75f, 1.0f,
        1.2f, 1.5f, 1.7f, 2.0f,    0.4f, 0.4f, 0.4f, 0.4f,
    };
    const int n = (int)(sizeof boxes / sizeof boxes[0] / 4);
    uint64_t rng = 42;
    check_assembly(12, 16, 32, n, boxes, &rng);
    check_assembly(13, 17, 5, n, boxes, &rng);      /* k not a multiple of the unroll */
    check_assembly(1, 1, 1, n, boxes, &rng);
    check_assembly(138, 138, 32, n, boxes, &rng);   /* the real prototype shape */
}
END_TEST

START_TEST(test_crop_boundaries)
{
    /* With zero coefficients the mask is sigmoid(0) = 0.5 exactly inside the crop. */
    const float coef[2] = {0, 0}, proto[10 * 2] = {0};
    const struct { float a, b; int first, end; } cases[] = {
        {0.25f, 0.55f, 2, 7},      /* 1.5 <= c < 6.5 */
        {0.5f, 0.5f, 4, 6},        /* 4 <= c < 6: exact integers */
        {0.55f, 0.25f, 2, 7},      /* corners swapped */
        {-1.0f, 0.05f, 0, 2},      /* left of the image: 0 <= c < 1.5 */
        {0.95f, 3.0f, 9, 10},      /* right: 8.5 <= c < 10 */
        {2.0f, 3.0f, 10, 10},      /* entirely right: nothing */
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const float box[4] = {cases[t].a, 0, cases[t].b, 1};
        float out[10];
        assemble_one(proto, 1, 10, 2, coef, box, 1, out);
        for (int c = 0; c < 10; c++) {
            float want = c >= cases[t].first && c < cases[t].end ? 0.5f : 0.0f;
            ck_assert_msg(out[c] == want, "box x %g..%g column %d: %g, expected %g",
                          cases[t].a, cases[t].b, c, out[c], want);
        }
    }
    /* The output box sanitize: no padding, clamped to the image. */
    float lo, hi;
    yl_sanitize_coordinates(0.6f, -0.1f, 100, &lo, &hi);
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 0.6f * 100);
    yl_sanitize_coordinates(0.25f, 1.5f, 8, &lo, &hi);
    ck_assert_float_eq(lo, 2.0f);
    ck_assert_float_eq(hi, 8.0f);
}
END_TEST

/* ---- mask resize + threshold ---- */

/* One mask resized as a pass of one image, rows of (ow + 7) / 8 bytes; the byte past the
 * mask is the caller's. */
static uint8_t *resize_bits(const float *in, int ih, int iw, int oh, int ow)
{
    const size_t bytes = ((size_t)ow + 7) / 8 * oh;
    uint8_t *out = xmalloc(bytes + 1);
    memset(out, 0xA5, bytes + 1);
    const yl_mask_pass pass = {1, {{1, 0, oh, ow, 0}}};
    yl_mask_resize_threshold_cpu(in, ih, iw, &pass, out);
    ck_assert_int_eq(out[bytes], 0xA5);
    return out;
}

static void check_resize_direct(const float *in, int ih, int iw, int oh, int ow)
{
    size_t stride = ((size_t)ow + 7) / 8;
    uint8_t *got = resize_bits(in, ih, iw, oh, ow);
    int *yi0 = xmalloc(sizeof(int) * oh), *yi1 = xmalloc(sizeof(int) * oh);
    int *xi0 = xmalloc(sizeof(int) * ow), *xi1 = xmalloc(sizeof(int) * ow);
    float *yw0 = xmalloc(sizeof(float) * oh), *yw1 = xmalloc(sizeof(float) * oh);
    float *xw0 = xmalloc(sizeof(float) * ow), *xw1 = xmalloc(sizeof(float) * ow);
    yl_bilinear_axis(ih, oh, yi0, yi1, yw0, yw1);
    yl_bilinear_axis(iw, ow, xi0, xi1, xw0, xw1);
    mismatch bad = {0};
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            const float *r0 = in + (size_t)yi0[y] * iw, *r1 = in + (size_t)yi1[y] * iw;
            float v = (r0[xi0[x]] * xw0[x] + r0[xi1[x]] * xw1[x]) * yw0[y] +
                      (r1[xi0[x]] * xw0[x] + r1[xi1[x]] * xw1[x]) * yw1[y];
            int want = v > 0.5f, bit = (got[y * stride + x / 8] >> (7 - x % 8)) & 1;
            if (bit != want)
                NOTE_MISMATCH(&bad, "%dx%d -> %dx%d: pixel (%d, %d) is %d, value %.9g", iw,
                              ih, ow, oh, x, y, bit, v);
        }
        for (int x = ow; x < ((ow + 7) & ~7); x++)
            if ((got[y * stride + x / 8] >> (7 - x % 8)) & 1)
                NOTE_MISMATCH(&bad, "%dx%d: padding bit %d of row %d set", ow, oh, x, y);
    }
    ASSERT_NO_MISMATCH(bad);
    free(got);
    free(yi0); free(yi1); free(xi0); free(xi1);
    free(yw0); free(yw1); free(xw0); free(xw1);
}

START_TEST(test_mask_resize_matches_direct_formula)
{
    uint64_t rng = 7;
    enum { H = 23, W = 29 };
    float in[H * W];
    /* Mostly zero with a cropped block of values around 0.5 and some negatives. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            in[y * W + x] = (y >= 5 && y < 17 && x >= 3 && x < 21)
                                ? yl_test_rand(&rng, -0.2f, 1.0f) : 0.0f;
    /* {5, 2100}: more columns than one sweep of the op covers. */
    static const int sizes[][2] = {{400, 600}, {23, 29}, {7, 5}, {1, 1}, {61, 8}, {45, 9},
                                   {3, 200}, {5, 2100}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_resize_direct(in, H, W, sizes[i][0], sizes[i][1]);
    for (int i = 0; i < H * W; i++)
        in[i] = yl_test_rand(&rng, -1.0f, 2.0f);
    check_resize_direct(in, H, W, 50, 77);
    check_resize_direct(in, H, W, 11, 13);
    float one = 0.75f;
    check_resize_direct(&one, 1, 1, 9, 17);
}
END_TEST

START_TEST(test_mask_resize_matches_torch)
{
    /* crop_345x207 and crop_207x621 hold pixels within 6e-8 of the threshold. */
    static const char *keys[] = {"crop_345x207", "crop_207x621", "crop_401x599", "crop_7x9",
                                 "crop_138x138", "noise_50x37", "noise_5x4", "noise_13x40",
                                 "noise_1x1"};
    const char *path = YL_TEST_DATA "/post/resize.npz";
    for (size_t t = 0; t < sizeof keys / sizeof keys[0]; t++) {
        yl_npy in, want;
        const char *input = strncmp(keys[t], "crop", 4) == 0 ? "crop" : "noise";
        yl_test_load_npz(path, input, "<f4", &in);
        yl_test_load_npz(path, keys[t], "|u1", &want);
        int oh, ow;
        ck_assert_int_eq(sscanf(strchr(keys[t], '_') + 1, "%dx%d", &oh, &ow), 2);
        size_t stride = ((size_t)ow + 7) / 8;
        ck_assert_uint_eq(want.count, stride * oh);
        uint8_t *got = resize_bits(in.data, (int)in.shape[0], (int)in.shape[1], oh, ow);
        int bad = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int g = (got[y * stride + x / 8] >> (7 - x % 8)) & 1;
                int w = (((uint8_t *)want.data)[y * stride + x / 8] >> (7 - x % 8)) & 1;
                if (g != w && bad++ < 5)
                    fprintf(stderr, "%s: pixel (%d, %d) %d, PyTorch %d\n", keys[t], x, y, g, w);
            }
        ck_assert_msg(bad == 0, "%s: %d pixels differ from PyTorch", keys[t], bad);
        free(got);
        yl_npy_free(&in);
        yl_npy_free(&want);
    }
}
END_TEST

/* ---- RLE ---- */

static char *encode_alloc(const uint8_t *bits, int w, int h, size_t stride)
{
    size_t len = yl_rle_encode(bits, w, h, stride, NULL, 0);
    char *s = xmalloc(len + 1);
    ck_assert_uint_eq(yl_rle_encode(bits, w, h, stride, s, len + 1), len);
    ck_assert_uint_eq(strlen(s), len);
    return s;
}

static void set_bit(uint8_t *bits, size_t stride, int x, int y)
{
    bits[y * stride + x / 8] |= (uint8_t)(0x80 >> (x % 8));
}

START_TEST(test_rle_known_encodings)
{
    uint8_t bits[5 * 2] = {0};
    char *s = encode_alloc(bits, 3, 2, 1);          /* empty: one 0-run */
    ck_assert_str_eq(s, "6");
    free(s);
    s = encode_alloc(bits, 0, 0, 1);
    ck_assert_str_eq(s, "0");
    free(s);
    bits[0] = bits[1] = 0xC0;                       /* full 2x2: [0, 4] */
    s = encode_alloc(bits, 2, 2, 1);
    ck_assert_str_eq(s, "04");
    free(s);
    memset(bits, 0, sizeof bits);
    set_bit(bits, 1, 1, 0);                         /* single pixel (x 1, y 0) of 2x2 */
    s = encode_alloc(bits, 2, 2, 1);
    ck_assert_str_eq(s, "211");
    free(s);
    /* 7x5 with a block and a corner pixel; written by pycocotools (tools/rle.py). */
    memset(bits, 0, sizeof bits);
    for (int y = 1; y < 4; y++)
        for (int x = 2; x < 6; x++)
            set_bit(bits, 2, x, y);
    set_bit(bits, 2, 6, 4);
    s = encode_alloc(bits, 7, 5, 2);
    ck_assert_str_eq(s, ";32000003N");
    uint8_t back[5 * 2];
    ck_assert_int_eq(yl_rle_decode(s, 7, 5, back, 2), 0);
    for (int y = 0; y < 5; y++)
        ck_assert_int_eq(back[y * 2] & 0xFE, bits[y * 2] & 0xFE);
    /* A truncating buffer keeps a terminated prefix and reports the full length. */
    char small[4];
    ck_assert_uint_eq(yl_rle_encode(bits, 7, 5, 2, small, sizeof small), strlen(s));
    ck_assert_str_eq(small, ";32");
    /* The public form: sized by a first call, the same string; nonsense gives "". */
    size_t need = yolact_mask_rle(bits, 7, 5, 2, NULL, 0);
    ck_assert_uint_eq(need, strlen(s));
    char full[16];
    ck_assert_uint_eq(yolact_mask_rle(bits, 7, 5, 2, full, need + 1), need);
    ck_assert_str_eq(full, s);
    ck_assert_uint_eq(yolact_mask_rle(NULL, 7, 5, 2, full, sizeof full), 0);
    ck_assert_str_eq(full, "");
    ck_assert_uint_eq(yolact_mask_rle(bits, -1, 5, 2, full, sizeof full), 0);
    free(s);
    /* Long runs and negative deltas: counts 0 5 100000 3 7 2000000 1 in a 1-row image. */
    const char *big = "05PeQ3NW[nLmSQm1J";
    const int big_w = 2100016;
    uint8_t *row = xmalloc((big_w + 7) / 8);
    ck_assert_int_eq(yl_rle_decode(big, big_w, 1, row, (big_w + 7) / 8), 0);
    ck_assert_int_eq(row[0], 0xF8);                     /* the first 5 pixels */
    s = encode_alloc(row, big_w, 1, (big_w + 7) / 8);
    ck_assert_str_eq(s, big);
    free(s);
    free(row);
}
END_TEST

START_TEST(test_rle_round_trips)
{
    uint64_t rng = 99;
    for (int t = 0; t < 200; t++) {
        int w = 1 + (int)yl_test_rand(&rng, 0, 40), h = 1 + (int)yl_test_rand(&rng, 0, 40);
        size_t stride = ((size_t)w + 7) / 8 + (t & 1);
        uint8_t *bits = xcalloc(stride * h, 1), *back = xmalloc(stride * (h + 1));
        float density = t % 4 == 0 ? 0.5f : t % 4 == 1 ? 0.0f : t % 4 == 2 ? 1.0f : 0.05f;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (yl_test_rand(&rng, 0, 1) < density)
                    set_bit(bits, stride, x, y);
        char *s = encode_alloc(bits, w, h, stride);
        ck_assert_int_eq(yl_rle_decode(s, w, h, back, stride), 0);
        mismatch bad = {0};
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int a = (bits[y * stride + x / 8] >> (7 - x % 8)) & 1;
                int b = (back[y * stride + x / 8] >> (7 - x % 8)) & 1;
                if (a != b)
                    NOTE_MISMATCH(&bad, "%dx%d mask: pixel (%d, %d) %d decoded as %d (%s)", w,
                                  h, x, y, a, b, s);
            }
        ASSERT_NO_MISMATCH(bad);
        /* Wrong sizes are rejected. */
        ck_assert_int_eq(yl_rle_decode(s, w, h + 1, back, stride), -1);
        free(s);
        free(bits);
        free(back);
    }
    uint8_t buf[4];
    ck_assert_int_eq(yl_rle_decode("6", 3, 2, buf, 1), 0);
    ck_assert_int_eq(yl_rle_decode("7", 3, 2, buf, 1), -1);        /* too many pixels */
    ck_assert_int_eq(yl_rle_decode("5", 3, 2, buf, 1), -1);        /* too few */
    ck_assert_int_eq(yl_rle_decode("2 4", 3, 2, buf, 1), -1);      /* bad character */
    ck_assert_int_eq(yl_rle_decode("2o", 3, 2, buf, 1), -1);       /* unterminated value */
    ck_assert_int_eq(yl_rle_decode("oooooooooooooo0", 3, 2, buf, 1), -1);   /* too long */
    ck_assert_int_eq(yl_rle_decode("0N", 3, 2, buf, 1), -1);       /* negative run */
}
END_TEST

/* Decode -> encode of every reference segmentation reproduces the string, and the decoded
 * masks are the reference masks.npz. */
static void check_parity_rle(const char *name)
{
    char path[256];
    ref_detection *ref;
    snprintf(path, sizeof path, PARITY "%s.json", name);
    int n = load_ref(path, &ref);
    ck_assert_int_eq(n, 100);
    yl_npy masks;
    snprintf(path, sizeof path, PARITY "%s.masks.npz", name);
    yl_test_load_npz(path, "masks", "|u1", &masks);
    ck_assert_uint_eq(masks.shape[0], (size_t)n);
    for (int i = 0; i < n; i++) {
        int h = ref[i].height, w = ref[i].width;
        ck_assert(h == (int)masks.shape[1] && w == (int)masks.shape[2]);
        size_t stride = ((size_t)w + 7) / 8;
        uint8_t *bits = xmalloc(stride * h);
        ck_assert_msg(yl_rle_decode(ref[i].counts, w, h, bits, stride) == 0,
                      "%s detection %d: cannot decode %s", name, i, ref[i].counts);
        const uint8_t *m = (const uint8_t *)masks.data + (size_t)i * h * w;
        mismatch bad = {0};
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                if (((bits[y * stride + x / 8] >> (7 - x % 8)) & 1) != m[y * w + x])
                    NOTE_MISMATCH(&bad, "%s detection %d: pixel (%d, %d) differs from "
                                  "masks.npz", name, i, x, y);
        ASSERT_NO_MISMATCH(bad);
        char *s = encode_alloc(bits, w, h, stride);
        ck_assert_msg(strcmp(s, ref[i].counts) == 0, "%s detection %d: %s, reference %s",
                      name, i, s, ref[i].counts);
        free(s);
        free(bits);
    }
    yl_npy_free(&masks);
    ref_json_free(ref, n);
}

START_TEST(test_rle_parity_strings)
{
    check_parity_rle("coffee");
    check_parity_rle("astronaut");
}
END_TEST

/* ---- the whole post-processing of coffee.png against the reference masks ---- */

START_TEST(test_coffee_masks_match_reference)
{
    yl_parity_raw r;
    yl_parity_raw_load(&r);
    ref_detection *ref;
    int n_ref = load_ref(PARITY "coffee.json", &ref);
    yl_raw_detection det[100];
    int n = run_detect(r.full_loc, r.full_conf, r.priors.data, (int)r.priors.shape[0],
                       &official_params, det);
    ck_assert_int_eq(n, n_ref);
    const int ph = (int)r.proto.shape[0], pw = (int)r.proto.shape[1], k = (int)r.proto.shape[2];
    float *coef = xmalloc(sizeof(float) * n * k), *boxes = xmalloc(sizeof(float) * n * 4);
    const int32_t *idx = r.index.data;
    for (int i = 0; i < n; i++) {
        int row = 0;
        while (row < (int)r.index.count && idx[row] != det[i].prior)
            row++;
        ck_assert_int_lt(row, (int)r.index.count);
        memcpy(coef + (size_t)i * k, (float *)r.mask.data + (size_t)row * k, sizeof(float) * k);
        memcpy(boxes + 4 * i, det[i].box, sizeof det[i].box);
    }
    float *maps = xmalloc(sizeof(float) * n * ph * pw);
    assemble_one(r.proto.data, ph, pw, k, coef, boxes, n, maps);

    const int h = ref[0].height, w = ref[0].width;
    const size_t stride = ((size_t)w + 7) / 8;
    uint8_t *bits = xmalloc(stride * h), *want = xmalloc(stride * h);
    int identical = 0;
    for (int i = 0; i < n; i++) {
        const yl_mask_pass pass = {1, {{1, 0, h, w, 0}}};
        yl_mask_resize_threshold_cpu(maps + (size_t)i * ph * pw, ph, pw, &pass, bits);
        ck_assert_int_eq(yl_rle_decode(ref[i].counts, w, h, want, stride), 0);
        /* The parity gate (shared/tools/compare.py): mask IoU >= 0.97 or at most 2 pixels
         * apart; the prototype products differ from PyTorch's BLAS in the last bits. */
        long inter = 0, uni = 0, diff = 0;
        for (size_t j = 0; j < stride * h; j++) {
            inter += __builtin_popcount(bits[j] & want[j]);
            uni += __builtin_popcount(bits[j] | want[j]);
            diff += __builtin_popcount(bits[j] ^ want[j]);
        }
        ck_assert_msg(diff <= 2 || inter >= 0.97 * uni,
                      "detection %d: %ld pixels differ from the reference mask (IoU %ld/%ld)",
                      i, diff, inter, uni);
        char *s = encode_alloc(bits, w, h, stride);
        identical += strcmp(s, ref[i].counts) == 0;
        free(s);
    }
    /* Every mask is reproduced exactly here; allow for a compiler that contracts to FMA. */
    ck_assert_msg(identical >= n - 2, "only %d of %d masks identical to the reference",
                  identical, n);
    free(bits);
    free(want);
    free(maps);
    free(coef);
    free(boxes);
    ref_json_free(ref, n_ref);
    yl_parity_raw_free(&r);
}
END_TEST

Suite *post_ops_suite(void)
{
    Suite *s = suite_create("post_ops");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_priors_match_reference);
    tcase_add_test(tc, test_decode_hand_values);
    tcase_add_test(tc, test_iou_values);
    tcase_add_test(tc, test_iou_matches_torch);
    tcase_add_test(tc, test_detect_matches_plain_fast_nms);
    tcase_add_test(tc, test_detect_exactly_top_k_and_ties);
    tcase_add_test(tc, test_detect_matches_reference);
    tcase_add_test(tc, test_masks_assemble_matches_direct_loop);
    tcase_add_test(tc, test_crop_boundaries);
    tcase_add_test(tc, test_mask_resize_matches_direct_formula);
    tcase_add_test(tc, test_mask_resize_matches_torch);
    tcase_add_test(tc, test_rle_known_encodings);
    tcase_add_test(tc, test_rle_round_trips);
    tcase_add_test(tc, test_rle_parity_strings);
    tcase_add_test(tc, test_coffee_masks_match_reference);
    suite_add_tcase(s, tc);
    return s;
}
