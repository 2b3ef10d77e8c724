// The official loss's box, class and semantic segmentation terms (yl_loss_kernels.h), as
// lib/train/box_loss.c, class_loss.c and segm_loss.c compute them: each element's term and
// gradient in the CPU's float operations, the sums as per-block double partials over a fixed
// grid (YL_LOSS_BLOCKS), added by one thread in block order. The class term's hard negatives
// are selected by one block: the num_neg-th largest ranking key by bisection of its bits,
// then the ties at that key to the lower priors.
#include "yl_loss_kernels.h"

#include <math.h>

#include "loss_reduce.cuh"
#include "yl_device.h"

/* for each element i < n of this thread's share of the fixed grid */
#define LOSS_STRIDE(i, n)                                                                \
    for (size_t i = (size_t)blockIdx.x * LOSS_THREADS + threadIdx.x; i < (size_t)(n); \
         i += (size_t)YL_LOSS_BLOCKS * LOSS_THREADS)

// partials (YL_LOSS_BLOCKS) -> *out, one thread, in block order
static __global__ void finish_kernel(const double *partials, double *out)
{
    double s = 0;
    for (int b = 0; b < YL_LOSS_BLOCKS; b++)
        s += partials[b];
    *out = s;
}

static yolact_status finish(double *partials, double *out, cudaStream_t stream)
{
    YL_CHECK(cuda, YL_LAUNCH(finish_kernel, 1, 1, 0, stream, partials, out));
    return YOLACT_OK;
}

/* ---- box ------------------------------------------------------------------------------ */
/* yl_box_encode as match.c writes it. */
static __device__ void box_encode(const float *box, const float *prior, float out[4])
{
    for (int d = 0; d < 2; d++) {
        out[d] = ((box[d] + box[d + 2]) / 2 - prior[d]) / (0.1f * prior[d + 2]);
        out[d + 2] = logf((box[d + 2] - box[d]) / prior[d + 2]) / 0.2f;
    }
}

// loc, priors (P, 4); conf, idx (P); boxes (objects, 4) -> grad (P, 4) +=, partials
static __global__ void __launch_bounds__(LOSS_THREADS)
box_kernel(const float *loc, const float *priors, int P, const int *conf, const int *idx,
           const float *boxes, float scale, float *grad, double *partials)
{
    __shared__ double shared[LOSS_THREADS];
    double part = 0;
    LOSS_STRIDE(p, P) {
        if (conf[p] <= 0)
            continue;
        float target[4];
        box_encode(boxes + (size_t)idx[p] * 4, priors + p * 4, target);
        for (int d = 0; d < 4; d++) {
            float diff = loc[p * 4 + d] - target[d];
            float a = fabsf(diff);
            part += a < 1.0f ? 0.5 * (double)diff * diff : (double)a - 0.5;
            if (grad)
                grad[p * 4 + d] += scale * (a < 1.0f ? diff : diff > 0 ? 1.0f : -1.0f);
        }
    }
    const double sum = loss_block_sum(part, shared);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = sum;
}

extern "C" yolact_status yl_box_loss_cuda(const float *loc, const float *priors,
                                          int num_priors, const int *conf, const int *idx,
                                          const yl_gt *gt, float scale, float *grad,
                                          double *loss, void *workspace, cudaStream_t stream)
{
    if (!gt || num_priors < 0 || !loss || !workspace ||
        (num_priors > 0 && (!loc || !priors || !conf || !idx ||
                            (gt->num_objects > 0 && !gt->boxes))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_box_loss_cuda: %d priors, gt %p, loc %p "
                       "priors %p conf %p idx %p loss %p workspace %p", num_priors,
                       (const void *)gt, (const void *)loc, (const void *)priors,
                       (const void *)conf, (const void *)idx, (void *)loss, workspace);
    double *partials = static_cast<double *>(workspace);
    YL_CHECK(cuda, YL_LAUNCH(box_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream, loc, priors,
                             num_priors, conf, idx, gt->boxes, scale, grad, partials));
    return finish(partials, loss, stream);
}

/* ---- the batch's largest logit --------------------------------------------------------- */
static __global__ void __launch_bounds__(LOSS_THREADS)
max_kernel(const float *x, size_t n, float *partials)
{
    __shared__ float shared[LOSS_THREADS];
    float m = -INFINITY;
    LOSS_STRIDE(i, n)
        m = x[i] > m ? x[i] : m;
    shared[threadIdx.x] = m;
    __syncthreads();
    for (int half = LOSS_THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half && shared[threadIdx.x + half] > shared[threadIdx.x])
            shared[threadIdx.x] = shared[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        partials[blockIdx.x] = shared[0];
}

static __global__ void max_finish_kernel(const float *partials, float *out)
{
    float m = -INFINITY;
    for (int b = 0; b < YL_LOSS_BLOCKS; b++)
        m = partials[b] > m ? partials[b] : m;
    *out = m;
}

extern "C" yolact_status yl_loss_max_cuda(const float *x, size_t n, float *max,
                                          void *workspace, cudaStream_t stream)
{
    if (!max || !workspace || (n && !x))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_loss_max_cuda: %zu floats at %p, max %p "
                       "workspace %p", n, (const void *)x, (void *)max, workspace);
    float *partials = static_cast<float *>(workspace);
    YL_CHECK(cuda, YL_LAUNCH(max_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream, x, n,
                             partials));
    YL_CHECK(cuda, YL_LAUNCH(max_finish_kernel, 1, 1, 0, stream, partials, max));
    return YOLACT_OK;
}

/* ---- the positives ---------------------------------------------------------------------- */
static __global__ void __launch_bounds__(LOSS_THREADS)
count_kernel(const int *conf, size_t n, int *partials)
{
    __shared__ int shared[LOSS_THREADS];
    int count = 0;
    LOSS_STRIDE(i, n)
        count += conf[i] > 0;
    int total;
    loss_block_scan(count, shared, &total);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = total;
}

static __global__ void count_finish_kernel(const int *partials, int *out)
{
    int total = 0;
    for (int b = 0; b < YL_LOSS_BLOCKS; b++)
        total += partials[b];
    *out = total;
}

extern "C" yolact_status yl_loss_count_positives_cuda(const int *conf, size_t n, int *count,
                                                      void *workspace, cudaStream_t stream)
{
    if (!count || !workspace || (n && !conf))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_loss_count_positives_cuda: %zu targets "
                       "at %p, count %p workspace %p", n, (const void *)conf, (void *)count,
                       workspace);
    int *partials = static_cast<int *>(workspace);
    YL_CHECK(cuda, YL_LAUNCH(count_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream, conf, n,
                             partials));
    YL_CHECK(cuda, YL_LAUNCH(count_finish_kernel, 1, 1, 0, stream, partials, count));
    return YOLACT_OK;
}

/* ---- class ------------------------------------------------------------------------------ */
/* The class term's workspace: the partials, each prior's ranking key and whether it is
 * taken. */
typedef struct class_ws {
    double *partials;
    unsigned *key;
    int *taken;
} class_ws;

static class_ws class_carve(void *workspace, int P)
{
    class_ws w;
    w.partials = static_cast<double *>(workspace);
    w.key = reinterpret_cast<unsigned *>(w.partials + YL_LOSS_BLOCKS);
    w.taken = reinterpret_cast<int *>(w.key + P);
    return w;
}

/* A float's bits as an unsigned that orders as the float does (-0 as +0, as the CPU's
 * comparison has them equal). */
static __device__ __forceinline__ unsigned order_key(float v)
{
    v = v == 0.0f ? 0.0f : v;
    const unsigned u = yl_float_as_uint(v);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

// logits (P, C), conf (P), *shift -> key (P): the CPU's ranking loss, 0 but for background
static __global__ void __launch_bounds__(LOSS_THREADS)
rank_kernel(const float *logits, const int *conf, int P, int C, const float *shift_at,
            unsigned *key)
{
    const float shift = *shift_at;
    LOSS_STRIDE(p, P) {
        float rank = 0;
        if (conf[p] == 0) {
            float s = 0;
            for (int c = 0; c < C; c++)
                s += expf(logits[p * C + c] - shift);
            rank = logf(s) + shift - logits[p * C];
        }
        key[p] = order_key(rank);
    }
}

/* How many of the P keys are at least (above: more than) k, by the block. */
static __device__ int count_keys(const unsigned *key, int P, unsigned k, int above, int *shared)
{
    int n = 0;
    for (int p = (int)threadIdx.x; p < P; p += LOSS_THREADS)
        n += above ? key[p] > k : key[p] >= k;
    int total;
    loss_block_scan(n, shared, &total);
    return total;
}

// one block: taken (P) = the first num_neg priors in the CPU's order (key down, prior up)
static __global__ void __launch_bounds__(LOSS_THREADS)
select_kernel(const int *conf, int P, int ratio, const unsigned *key, int *taken)
{
    __shared__ int shared[LOSS_THREADS];
    int pos = 0;
    for (int p = (int)threadIdx.x; p < P; p += LOSS_THREADS)
        pos += conf[p] > 0;
    int num_pos;
    loss_block_scan(pos, shared, &num_pos);
    long long num_neg = (long long)ratio * num_pos;
    num_neg = num_neg < (long long)P - 1 ? num_neg : (long long)P - 1;
    if (num_neg <= 0) {
        for (int p = (int)threadIdx.x; p < P; p += LOSS_THREADS)
            taken[p] = 0;
        return;
    }
    /* T: the largest key with at least num_neg keys >= it, the num_neg-th key. */
    unsigned T = 0;
    for (int bit = 31; bit >= 0; bit--) {
        const unsigned cand = T | 1u << bit;
        if (count_keys(key, P, cand, 0, shared) >= num_neg)
            T = cand;
    }
    int need = (int)(num_neg - count_keys(key, P, T, 1, shared));
    /* The keys above T, and the first `need` priors at T. */
    for (int base = 0; base < P; base += LOSS_THREADS) {
        const int p = base + (int)threadIdx.x;
        const int at_t = p < P && key[p] == T;
        int total;
        const int before = loss_block_scan(at_t, shared, &total);
        if (p < P)
            taken[p] = key[p] > T || (at_t && before < need);
        need -= total;
    }
}

/* The cross-entropy of one row for target t; with g: g += scale * (softmax - onehot). */
static __device__ double row_cross_entropy(const float *x, int classes, int t, float scale,
                                           float *g)
{
    float max = x[0];
    for (int c = 1; c < classes; c++)
        max = x[c] > max ? x[c] : max;
    double sum = 0;
    for (int c = 0; c < classes; c++)
        sum += exp((double)x[c] - max);
    double lse = log(sum) + max;
    if (g)
        for (int c = 0; c < classes; c++)
            g[c] += scale * (float)(exp((double)x[c] - lse) - (c == t));
    return lse - x[t];
}

// the positives' and the taken negatives' rows -> grad +=, partials
static __global__ void __launch_bounds__(LOSS_THREADS)
cross_entropy_kernel(const float *logits, const int *conf, int P, int C, const int *taken,
                     float scale, float *grad, double *partials)
{
    __shared__ double shared[LOSS_THREADS];
    double part = 0;
    LOSS_STRIDE(p, P) {
        const int t = conf[p];
        if (t > 0 || (t == 0 && taken[p]))
            part += row_cross_entropy(logits + p * C, C, t, scale, grad ? grad + p * C : NULL);
    }
    const double sum = loss_block_sum(part, shared);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = sum;
}

extern "C" size_t yl_class_loss_cuda_workspace_bytes(int num_priors)
{
    return YL_LOSS_WORKSPACE_BYTES + 2 * (size_t)(num_priors > 0 ? num_priors : 0) * 4;
}

extern "C" yolact_status yl_class_loss_cuda(const float *logits, const int *conf,
                                            int num_priors, int classes, int negpos_ratio,
                                            const float *shift, float scale, float *grad,
                                            double *loss, void *workspace,
                                            cudaStream_t stream)
{
    if (num_priors < 0 || classes < 1 || negpos_ratio < 0 || !loss || !workspace || !shift ||
        (num_priors > 0 && (!logits || !conf)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_class_loss_cuda: %d priors of %d "
                       "classes, ratio %d, logits %p conf %p shift %p loss %p workspace %p",
                       num_priors, classes, negpos_ratio, (const void *)logits,
                       (const void *)conf, (const void *)shift, (void *)loss, workspace);
    const class_ws w = class_carve(workspace, num_priors);
    YL_CHECK(cuda, YL_LAUNCH(rank_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream, logits, conf,
                             num_priors, classes, shift, w.key));
    YL_CHECK(cuda, YL_LAUNCH(select_kernel, 1, LOSS_THREADS, 0, stream, conf, num_priors,
                             negpos_ratio, w.key, w.taken));
    YL_CHECK(cuda, YL_LAUNCH(cross_entropy_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream,
                             logits, conf, num_priors, classes, w.taken, scale, grad,
                             w.partials));
    return finish(w.partials, loss, stream);
}

/* ---- semantic segmentation ------------------------------------------------------------- */
// logits (classes, hw), labels (n), masks (n, hw) -> grad (classes, hw) +=, partials
static __global__ void __launch_bounds__(LOSS_THREADS)
segm_kernel(const float *logits, int classes, size_t hw, const int *labels, int n,
            const uint8_t *masks, float scale, float *grad, double *partials)
{
    __shared__ double shared[LOSS_THREADS];
    double part = 0;
    LOSS_STRIDE(i, (size_t)classes * hw) {
        const int c = (int)(i / hw);
        const size_t at = i % hw;
        int t = 0;
        for (int j = 0; j < n && !t; j++)
            t = labels[j] == c && masks[(size_t)j * hw + at];
        double x = logits[i], e = exp(-fabs(x));
        part += (x > 0 ? x : 0) - x * t + log1p(e);
        if (grad)
            grad[i] += scale * (float)((x >= 0 ? 1 / (1 + e) : e / (1 + e)) - t);
    }
    const double sum = loss_block_sum(part, shared);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = sum;
}

extern "C" yolact_status yl_segm_loss_cuda(const float *logits, int classes, int h, int w,
                                           const yl_gt *gt, const uint8_t *gt_masks,
                                           float scale, float *grad, double *loss,
                                           void *workspace, cudaStream_t stream)
{
    const size_t total = (size_t)(classes > 0 ? classes : 0) * (h > 0 ? h : 0) * (w > 0 ? w : 0);
    if (!gt || classes < 0 || h < 0 || w < 0 || gt->num_objects < 0 || !loss || !workspace ||
        (total && (!logits || (gt->num_objects > 0 && (!gt->labels || !gt_masks)))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_segm_loss_cuda: %d classes %dx%d, gt %p "
                       "logits %p masks %p loss %p workspace %p", classes, h, w,
                       (const void *)gt, (const void *)logits, (const void *)gt_masks,
                       (void *)loss, workspace);
    double *partials = static_cast<double *>(workspace);
    YL_CHECK(cuda, YL_LAUNCH(segm_kernel, YL_LOSS_BLOCKS, LOSS_THREADS, 0, stream, logits,
                             total ? classes : 0, (size_t)h * w, gt->labels, gt->num_objects,
                             gt_masks, scale, grad, partials));
    return finish(partials, loss, stream);
}
