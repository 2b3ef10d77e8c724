// The official prior matching (yl_loss_kernels.h), as lib/train/match.c computes it: the
// (objects, priors) IoU in float32, each prior's best object, the forced rounds (each object
// keeps its best prior; ties as the CPU's row-major scan), thresholds and crowds.
#include "yl_loss_kernels.h"

#include <math.h>

#include "grid_stride.cuh"
#include "loss_reduce.cuh"
#include "yl_device.h"

/* The matching's workspace, carved from one block. */
typedef struct match_ws {
    float *overlaps;   /* (n, P) */
    float *best;       /* (P) each prior's best IoU, 2 once forced */
    float *row_max;    /* (n) each object's largest overlap left, -inf for none */
    int *row_at;       /* (n) its first prior, -1 for none (every overlap NaN) */
    int *killed;       /* (n) the object a round took */
} match_ws;

static __host__ __device__ match_ws match_carve(void *workspace, int P, int n)
{
    match_ws w;
    w.overlaps = static_cast<float *>(workspace);
    w.best = w.overlaps + (size_t)n * P;
    w.row_max = w.best + P;
    w.row_at = reinterpret_cast<int *>(w.row_max + n);
    w.killed = w.row_at + n;
    return w;
}

/* point_form, intersection and area as match.c writes them. */
static __device__ void point_form(const float *prior, float out[4])
{
    out[0] = prior[0] - prior[2] / 2;
    out[1] = prior[1] - prior[3] / 2;
    out[2] = prior[0] + prior[2] / 2;
    out[3] = prior[1] + prior[3] / 2;
}

static __device__ float intersection(const float *a, const float *b)
{
    float w = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float h = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    return (w > 0 ? w : 0) * (h > 0 ? h : 0);
}

static __device__ float area(const float *a)
{
    return (a[2] - a[0]) * (a[3] - a[1]);
}

// priors (P, 4) cx cy w h, boxes (n, 4) -> overlaps (n, P), best (P), idx (P)
static __global__ void __launch_bounds__(YL_GRID_THREADS)
overlaps_kernel(const float *priors, int P, const float *boxes, int n, float *overlaps,
                float *best, int *idx)
{
    YL_GRID_STRIDE(p, (size_t)P) {
        float pf[4];
        point_form(priors + p * 4, pf);
        float b = -INFINITY;
        int at = 0;
        for (int j = 0; j < n; j++) {
            const float *t = boxes + (size_t)j * 4;
            float inter = intersection(t, pf);
            float iou = inter / (area(t) + area(pf) - inter);
            overlaps[(size_t)j * P + p] = iou;
            if (iou > b) {
                b = iou;
                at = j;
            }
        }
        best[p] = b;
        idx[p] = at;
    }
}

/* Row j's largest overlap and its first prior, by the block (every thread gets it). */
static __device__ void row_argmax(const float *row, int P, float *v, int *at, float *sv,
                                  int *si)
{
    float m = -INFINITY;
    int a = -1;
    for (int p = (int)threadIdx.x; p < P; p += LOSS_THREADS)
        if (row[p] > m) {   /* the thread's own priors ascend: the first of its maxima */
            m = row[p];
            a = p;
        }
    loss_block_argmax(&m, &a, sv, si);
    *v = m;
    *at = a;
}

// a block an object: row_max, row_at (n), killed cleared
static __global__ void __launch_bounds__(LOSS_THREADS)
rows_kernel(const float *overlaps, int P, float *row_max, int *row_at, int *killed)
{
    __shared__ float sv[LOSS_THREADS];
    __shared__ int si[LOSS_THREADS];
    const int j = blockIdx.x;
    float v;
    int at;
    row_argmax(overlaps + (size_t)j * P, P, &v, &at, sv, si);
    if (threadIdx.x == 0) {
        row_max[j] = v;
        row_at[j] = at;
        killed[j] = 0;
    }
}

// one block: the n forced rounds over overlaps (n, P), best and idx (P)
static __global__ void __launch_bounds__(LOSS_THREADS)
rounds_kernel(float *overlaps, int P, int n, float *best, int *idx, float *row_max,
              int *row_at, int *killed)
{
    __shared__ float sv[LOSS_THREADS];
    __shared__ int si[LOSS_THREADS];
    const int t = (int)threadIdx.x;
    for (int round = 0; round < n; round++) {
        /* The highest overlap left: the first object holding it, then its first prior. */
        float v = -INFINITY;
        int bj = -1;
        for (int j = t; j < n; j += LOSS_THREADS)
            if (loss_arg_before(row_max[j], row_at[j] >= 0 ? j : -1, v, bj)) {
                v = row_max[j];
                bj = j;
            }
        loss_block_argmax(&v, &bj, sv, si);
        const int bi = bj >= 0 ? row_at[bj] : 0;
        bj = bj >= 0 ? bj : 0;
        __syncthreads();    /* every thread has read row_at[bj] before thread 0 clears it */
        for (int j = t; j < n; j += LOSS_THREADS)
            overlaps[(size_t)j * P + bi] = -1;
        for (int p = t; p < P; p += LOSS_THREADS)
            overlaps[(size_t)bj * P + p] = -1;
        if (t == 0) {
            best[bi] = 2;
            idx[bi] = bj;
            killed[bj] = 1;
            row_max[bj] = -1;   /* a row of -1: its first prior */
            row_at[bj] = 0;
        }
        __syncthreads();
        /* Only the rows whose first maximum was prior bi, or that hold nothing above -1, can
         * have changed. */
        for (int j = 0; j < n; j++) {
            const int again = !killed[j] && (row_at[j] == bi || !(row_max[j] > -1));
            if (!again)
                continue;
            float m;
            int at;
            row_argmax(overlaps + (size_t)j * P, P, &m, &at, sv, si);
            if (t == 0) {
                row_max[j] = m;
                row_at[j] = at;
            }
            __syncthreads();
        }
    }
}

// the targets: conf (P) from best and idx, crowds (boxes n .. n + crowds) making neutrals
static __global__ void __launch_bounds__(YL_GRID_THREADS)
conf_kernel(const float *priors, int P, const float *boxes, const int *labels, int n,
            int crowds, const float *best, const int *idx, float pos, float neg, float crowd_iou,
            int *conf)
{
    YL_GRID_STRIDE(p, (size_t)P) {
        int c = n > 0 ? labels[idx[p]] + 1 : 0;
        if (!(best[p] >= pos))
            c = -1;
        if (!(best[p] >= neg))
            c = 0;
        if (c <= 0 && crowds > 0 && crowd_iou < 1) {
            float pf[4], crowd = -INFINITY;
            point_form(priors + p * 4, pf);
            for (int k = 0; k < crowds; k++) {
                float v = intersection(pf, boxes + (size_t)(n + k) * 4) / area(pf);
                crowd = v > crowd ? v : crowd;
            }
            if (crowd > crowd_iou)
                c = -1;
        }
        conf[p] = c;
    }
}

static __global__ void __launch_bounds__(YL_GRID_THREADS)
no_objects_kernel(int P, float *best, int *idx)
{
    YL_GRID_STRIDE(p, (size_t)P) {
        best[p] = -INFINITY;
        idx[p] = 0;
    }
}

extern "C" size_t yl_match_cuda_workspace_bytes(int num_priors, int objects)
{
    const size_t P = num_priors > 0 ? (size_t)num_priors : 0, n = objects > 0 ? objects : 0;
    return (n * P + P + 3 * n) * sizeof(float) + 16;
}

extern "C" yolact_status yl_match_cuda(const yl_loss_config *cfg, const float *priors,
                                       int num_priors, const yl_gt *gt, int *conf, int *idx,
                                       void *workspace, cudaStream_t stream)
{
    const int P = num_priors, n = gt ? gt->num_objects : 0, crowds = gt ? gt->num_crowds : 0;
    if (!cfg || !gt || P < 0 || n < 0 || crowds < 0 ||
        (P > 0 && (!priors || !conf || !idx || !workspace ||
                   (n + crowds > 0 && !gt->boxes) || (n > 0 && !gt->labels))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_match_cuda: %d priors, %d objects, %d "
                       "crowds, cfg %p gt %p priors %p conf %p idx %p workspace %p", P, n,
                       crowds, (const void *)cfg, (const void *)gt, (const void *)priors,
                       (void *)conf, (void *)idx, workspace);
    if (P == 0)
        return YOLACT_OK;
    const match_ws w = match_carve(workspace, P, n);
    const unsigned blocks = yl_grid_blocks((size_t)P);
    if (n > 0) {
        YL_CHECK(cuda, YL_LAUNCH(overlaps_kernel, blocks, YL_GRID_THREADS, 0, stream, priors, P,
                                 gt->boxes, n, w.overlaps, w.best, idx));
        YL_CHECK(cuda, YL_LAUNCH(rows_kernel, (unsigned)n, LOSS_THREADS, 0, stream, w.overlaps,
                                 P, w.row_max, w.row_at, w.killed));
        YL_CHECK(cuda, YL_LAUNCH(rounds_kernel, 1, LOSS_THREADS, 0, stream, w.overlaps, P, n,
                                 w.best, idx, w.row_max, w.row_at, w.killed));
    } else {
        YL_CHECK(cuda, YL_LAUNCH(no_objects_kernel, blocks, YL_GRID_THREADS, 0, stream, P,
                                 w.best, idx));
    }
    YL_CHECK(cuda, YL_LAUNCH(conf_kernel, blocks, YL_GRID_THREADS, 0, stream, priors, P,
                             gt->boxes, gt->labels, n, crowds, w.best, idx, cfg->pos_threshold,
                             cfg->neg_threshold, cfg->crowd_iou_threshold, conf));
    return YOLACT_OK;
}
