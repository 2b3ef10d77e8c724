// The official loss's mask term (yl_loss_kernels.h), as lib/train/mask_loss.c computes it:
// the positives in prior order and masks_to_train's random sample (one block, integers),
// then a block a sampled mask (its logits sigmoid(proto . coeff) cropped to the object's
// box, the pixel losses' double sum in a tree, the coefficients' gradient a thread a
// coefficient over the mask's pixels in order), the prototypes' gradient a thread a pixel
// over the masks in sample order, and one thread adding the masks' terms in sample order.
#include "yl_loss_kernels.h"

#include <math.h>

#include "grid_stride.cuh"
#include "loss_reduce.cuh"
#include "yl_device.h"

/* The most blocks the masks are spread over (each strides over the sample). */
#define MASK_BLOCKS 1024

/* The mask term's workspace: per sampled mask its term and Dice's sums (inter, sum p,
 * sum t), the sample (priors), the counts (positives, masks used). */
typedef struct mask_ws {
    double *term, *dice;
    int *pos, *counts;
} mask_ws;

static __host__ __device__ mask_ws mask_carve(void *workspace, int P)
{
    mask_ws w;
    w.term = static_cast<double *>(workspace);
    w.dice = w.term + P;
    w.pos = reinterpret_cast<int *>(w.dice + 3 * (size_t)P);
    w.counts = w.pos + P;
    return w;
}

/* splitmix64 as mask_loss.c's yl_splitmix64. */
static __device__ uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// one block: pos (the positives in prior order, then the sample first), counts, *rng
static __global__ void __launch_bounds__(LOSS_THREADS)
sample_kernel(const int *conf, int P, int random, int masks_to_train, uint64_t *rng, int *pos,
              int *counts)
{
    __shared__ int shared[LOSS_THREADS];
    int num_pos = 0;
    for (int base = 0; base < P; base += LOSS_THREADS) {
        const int p = base + (int)threadIdx.x;
        const int is_pos = p < P && conf[p] > 0;
        int total;
        const int before = loss_block_scan(is_pos, shared, &total);
        if (is_pos)
            pos[num_pos + before] = p;
        num_pos += total;
    }
    __syncthreads();
    if (threadIdx.x != 0)
        return;
    int used = num_pos;
    if (random && num_pos > masks_to_train) {
        /* The first masks_to_train of a random permutation (Fisher-Yates), as the CPU. */
        used = masks_to_train > 0 ? masks_to_train : 0;
        uint64_t state = *rng;
        for (int i = 0; i < used; i++) {
            int j = i + (int)(splitmix64(&state) % (uint64_t)(num_pos - i));
            int keep = pos[i];
            pos[i] = pos[j];
            pos[j] = keep;
        }
        *rng = state;
    }
    counts[0] = num_pos;
    counts[1] = used;
}

/* yl_sanitize_padded with padding 1 (ops/boxes.h): torch.min / torch.max, NaN if either is. */
static __device__ void sanitize_padded(float a, float b, int size, float *lo, float *hi)
{
    const float s = (float)size, as = a * s, bs = b * s;
    const float l = (as != as || bs != bs ? as + bs : as < bs ? as : bs) - 1.0f;
    const float h = (as != as || bs != bs ? as + bs : as > bs ? as : bs) + 1.0f;
    *lo = l < 0.0f ? 0.0f : l;
    *hi = h > s ? s : h;
}

/* One sampled mask's fixed values. */
typedef struct mask_at {
    const float *c;             /* its coefficients */
    const uint8_t *t;           /* its object's mask */
    float x1, x2, y1, y2;       /* the crop */
    double f;                   /* its factor of the total */
} mask_at;

static __device__ mask_at mask_of(int u, const int *pos, const int *counts, const int *idx,
                                  const float *coeff, int K, const float *boxes,
                                  const uint8_t *gt_masks, int h, int w, float alpha, int dice)
{
    mask_at m;
    const int p = pos[u], obj = idx[p];
    const float *box = boxes + (size_t)obj * 4;
    m.c = coeff + (size_t)p * K;
    m.t = gt_masks + (size_t)obj * h * w;
    sanitize_padded(box[0], box[2], w, &m.x1, &m.x2);
    sanitize_padded(box[1], box[3], h, &m.y1, &m.y2);
    const double ratio = counts[1] > 0 ? (double)counts[0] / counts[1] : 0;
    m.f = alpha * ratio;
    if (!dice)
        m.f /= ((double)(box[2] - box[0]) * w) * ((double)(box[3] - box[1]) * h);
    return m;
}

/* The mask's logit at pixel i, summed over k in the CPU's order. */
static __device__ __forceinline__ float logit(const float *proto, size_t i, const float *c, int K)
{
    const float *pr = proto + i * K;
    float s = 0;
    for (int k = 0; k < K; k++)
        s += pr[k] * c[k];
    return s;
}

/* Pixel i of the mask: whether inside the crop, its target. */
static __device__ __forceinline__ int inside(const mask_at *m, size_t i, int w)
{
    const int y = (int)(i / w), xx = (int)(i % w);
    return xx >= m->x1 && xx < m->x2 && y >= m->y1 && y < m->y2;
}

/* The BCE forms' pixel loss and its gradient g (mask_loss.c's bce_official, bce_stable; 100
 * times the target outside the crop, no gradient). */
static __device__ double bce_pixel(int kind, float x, float ti, int in, float *g)
{
    *g = 0;
    if (!in)
        return 100.0 * ti;
    if (kind == YL_MASK_LOSS_BCE_STABLE) {
        double e = exp(-fabs((double)x));
        *g = (float)((x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - ti);
        return (x > 0 ? x : 0) - (double)x * ti + log1p(e);
    }
    float p = 1.0f / (1.0f + expf(-x));
    float one_minus = (1.0f - p) * p;
    *g = (p - ti) / fmaxf(one_minus, 1e-12f) * one_minus;
    return (ti - 1.0f) * fmaxf(log1pf(-p), -100.0f) - ti * fmaxf(logf(p), -100.0f);
}

/* Dice's prediction at a pixel: the sigmoid inside the crop, 0 outside. */
static __device__ __forceinline__ float dice_p(float x, int in)
{
    return in ? 1.0f / (1.0f + expf(-x)) : 0.0f;
}

/* Dice's gradient at a pixel from the mask's sums (mask_loss.c's second loop). */
static __device__ __forceinline__ float dice_g(const double *sums, float p, float ti)
{
    const double inter = sums[0], s = sums[1] + sums[2] + 1;
    return (float)(((2 * inter + 1) - 2.0 * ti * s) / (s * s) * p * (1.0f - p));
}

/* The gradient of pixel i of mask m (0 where the CPU's is). */
static __device__ float pixel_grad(int kind, const mask_at *m, const double *sums,
                                   const float *proto, size_t i, int K, int w)
{
    const float x = logit(proto, i, m->c, K), ti = m->t[i];
    const int in = inside(m, i, w);
    if (kind == YL_MASK_LOSS_DICE)
        return dice_g(sums, dice_p(x, in), ti);
    float g;
    bce_pixel(kind, x, ti, in, &g);
    return g;
}

// a block a sampled mask: term (and Dice's sums) per mask, grad_coeff (P, K) +=
static __global__ void __launch_bounds__(LOSS_THREADS)
mask_kernel(const float *proto, const float *coeff, const int *idx, const float *boxes,
            const uint8_t *gt_masks, int K, int h, int w, int kind, float alpha, float scale,
            const int *pos, const int *counts, double *term, double *dice, float *grad_coeff)
{
    __shared__ double shared[LOSS_THREADS];
    __shared__ float tile[LOSS_THREADS];
    const size_t hw = (size_t)h * w;
    const int used = counts[1], t = (int)threadIdx.x;
    for (int u = blockIdx.x; u < used; u += gridDim.x) {
        const mask_at m = mask_of(u, pos, counts, idx, coeff, K, boxes, gt_masks, h, w, alpha,
                                  kind == YL_MASK_LOSS_DICE);
        double a = 0, b = 0, c = 0;
        for (size_t i = t; i < hw; i += LOSS_THREADS) {
            const float x = logit(proto, i, m.c, K), ti = m.t[i];
            const int in = inside(&m, i, w);
            if (kind == YL_MASK_LOSS_DICE) {
                const float p = dice_p(x, in);
                a += (double)p * ti;
                b += p;
                c += ti;
            } else {
                float g;
                a += bce_pixel(kind, x, ti, in, &g);
            }
        }
        double *sums = dice + 3 * (size_t)u;
        a = loss_block_sum(a, shared);
        if (kind == YL_MASK_LOSS_DICE) {
            b = loss_block_sum(b, shared);
            c = loss_block_sum(c, shared);
            if (t == 0) {
                sums[0] = a;
                sums[1] = b;
                sums[2] = c;
                term[u] = 1 - (2 * a + 1) / (b + c + 1);
            }
        } else if (t == 0) {
            term[u] = a;
        }
        if (!grad_coeff)
            continue;
        __syncthreads();    /* Dice's sums written */
        const float gs = (float)(scale * m.f);
        float *gc = grad_coeff + (size_t)pos[u] * K;
        for (size_t base = 0; base < hw; base += LOSS_THREADS) {
            const size_t i = base + t;
            tile[t] = i < hw ? pixel_grad(kind, &m, sums, proto, i, K, w) : 0.0f;
            __syncthreads();
            const int n = hw - base < (size_t)LOSS_THREADS ? (int)(hw - base) : LOSS_THREADS;
            for (int k = t; k < K; k += LOSS_THREADS)
                for (int j = 0; j < n; j++) {
                    if (tile[j] == 0)
                        continue;
                    gc[k] += gs * tile[j] * proto[(base + j) * K + k];
                }
            __syncthreads();
        }
    }
}

// a thread a pixel: grad_proto (hw, K) += over the sampled masks in order
static __global__ void __launch_bounds__(YL_GRID_THREADS)
proto_grad_kernel(const float *proto, const float *coeff, const int *idx, const float *boxes,
                  const uint8_t *gt_masks, int K, int h, int w, int kind, float alpha,
                  float scale, const int *pos, const int *counts, const double *dice,
                  float *grad_proto)
{
    const int used = counts[1];
    YL_GRID_STRIDE(i, (size_t)h * w) {
        float *gp = grad_proto + i * K;
        for (int u = 0; u < used; u++) {
            const mask_at m = mask_of(u, pos, counts, idx, coeff, K, boxes, gt_masks, h, w,
                                      alpha, kind == YL_MASK_LOSS_DICE);
            const float g = pixel_grad(kind, &m, dice + 3 * (size_t)u, proto, i, K, w);
            if (g == 0)
                continue;
            const float gi = (float)(scale * m.f) * g;
            for (int k = 0; k < K; k++)
                gp[k] += gi * m.c[k];
        }
    }
}

// one thread: *loss = the masks' f * term in sample order
static __global__ void total_kernel(const int *idx, const float *boxes, int h, int w, int dice,
                                    float alpha, const int *pos, const int *counts,
                                    const double *term, double *loss)
{
    double total = 0;
    for (int u = 0; u < counts[1]; u++) {
        const float *box = boxes + (size_t)idx[pos[u]] * 4;
        const double ratio = (double)counts[0] / counts[1];
        double f = alpha * ratio;
        if (!dice)
            f /= ((double)(box[2] - box[0]) * w) * ((double)(box[3] - box[1]) * h);
        total += f * term[u];
    }
    *loss = total;
}

extern "C" size_t yl_mask_loss_cuda_workspace_bytes(int num_priors)
{
    const size_t P = num_priors > 0 ? (size_t)num_priors : 0;
    return 4 * P * sizeof(double) + (P + 2) * sizeof(int);
}

extern "C" yolact_status yl_mask_loss_cuda(const yl_loss_config *cfg,
                                           const yl_mask_loss_image *in, uint64_t *rng,
                                           float scale, float *grad_coeff, float *grad_proto,
                                           double *loss, void *workspace, cudaStream_t stream)
{
    const int P = in ? in->num_priors : 0, K = in ? in->k : 0, h = in ? in->h : 0,
              w = in ? in->w : 0;
    const size_t hw = (size_t)(h > 0 ? h : 0) * (w > 0 ? w : 0);
    if (!cfg || !in || !in->gt || !rng || !loss || !workspace || P < 0 || K < 0 || h < 0 ||
        w < 0 || (!grad_coeff) != (!grad_proto) ||
        (cfg->mask_loss != YL_MASK_LOSS_BCE_OFFICIAL &&
         cfg->mask_loss != YL_MASK_LOSS_BCE_STABLE && cfg->mask_loss != YL_MASK_LOSS_DICE) ||
        (P > 0 && (!in->conf || !in->idx || (K > 0 && !in->coeff))) ||
        (P > 0 && hw && (!in->gt_masks || (K > 0 && !in->proto) ||
                         (in->gt->num_objects > 0 && !in->gt->boxes))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_mask_loss_cuda: %d priors, k %d, %dx%d, "
                       "cfg %p in %p rng %p loss %p workspace %p, grads %p %p, or a NULL "
                       "array", P, K, h, w, (const void *)cfg, (const void *)in, (void *)rng,
                       (void *)loss, workspace, (void *)grad_coeff, (void *)grad_proto);
    const mask_ws ws = mask_carve(workspace, P);
    const int random = cfg->mask_sampling == YL_MASK_SAMPLE_RANDOM;
    const int dice = cfg->mask_loss == YL_MASK_LOSS_DICE;
    YL_CHECK(cuda, YL_LAUNCH(sample_kernel, 1, LOSS_THREADS, 0, stream, in->conf, P, random,
                             cfg->masks_to_train, rng, ws.pos, ws.counts));
    /* The most masks the sample can hold, each block striding over them. */
    int most = P;
    if (random && cfg->masks_to_train < most)
        most = cfg->masks_to_train > 0 ? cfg->masks_to_train : 0;
    const unsigned blocks = most < 1 ? 1u : most < MASK_BLOCKS ? (unsigned)most : MASK_BLOCKS;
    const float *boxes = in->gt->boxes;
    if (P > 0) {
        YL_CHECK(cuda, YL_LAUNCH(mask_kernel, blocks, LOSS_THREADS, 0, stream, in->proto,
                                 in->coeff, in->idx, boxes, in->gt_masks, K, h, w,
                                 (int)cfg->mask_loss, cfg->mask_alpha, scale, ws.pos,
                                 ws.counts, ws.term, ws.dice, grad_coeff));
        if (grad_proto && hw)
            YL_CHECK(cuda, YL_LAUNCH(proto_grad_kernel, yl_grid_blocks(hw), YL_GRID_THREADS, 0,
                                     stream, in->proto, in->coeff, in->idx, boxes, in->gt_masks,
                                     K, h, w, (int)cfg->mask_loss, cfg->mask_alpha, scale,
                                     ws.pos, ws.counts, ws.dice, grad_proto));
    }
    YL_CHECK(cuda, YL_LAUNCH(total_kernel, 1, 1, 0, stream, in->idx, boxes, h, w, dice,
                             cfg->mask_alpha, ws.pos, ws.counts, ws.term, loss));
    return YOLACT_OK;
}
