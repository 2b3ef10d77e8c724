// Detect on the device, yl_detect_cpu's steps and tie rules as kernels on one stream:
//   candidates: priors whose best foreground score > conf_threshold, in ascending prior
//               order (flags, a scan of per-block counts, a scatter), boxes decoded, their
//               scores copied class-major, so each class's selection reads its scores
//               contiguously instead of one word of every candidate's (C) row;
//   per class:  the top_k candidates by (score desc, candidate asc), then yl_fast_nms_cuda;
//   final:      the kept of all classes, best max_detections by (score desc, class asc,
//               rank asc).
//   loc (B, P, 4), conf (B, P, C), priors (P, 4) float; out (B, out_stride) yl_raw_detection
// A batch of B images runs in the same launches: blockIdx.y is the image, and each kernel
// first moves its pointers to that image's rows (inputs, outputs and workspace alike).
// The top-k steps select on 64-bit keys (score's order-preserving bits, then the tie order
// inverted) with a block-wide radix select, and sort the selected keys with a bitonic sort:
// keys are unique, so the result is the CPU's exactly, whatever order atomics take.
#include <limits.h>
#include <math.h>
#include <string.h>

#include "yl_device.h"
#include "yl_kernels.h"

#define CAND_THREADS 256
#define TOPK_THREADS 256    // one radix digit (256 bins) a thread
// A class's selection reads each candidate's score once a radix pass: when the scores fit
// with the sorted keys in this much dynamic shared memory, they are copied there first, so
// the passes wait on shared memory rather than on L2 (below the 48 KiB a block gets without
// opting in, and small enough for several blocks an SM).
#define TOPK_SMEM_BYTES 32768
// The final selection reads each of the (C - 1) x top_k rows of an image (16,000 for COCO at
// top_k 200) once a radix pass. It first copies the kept rows' keys to shared memory in one
// pass, and when they fit, selects from there.
#define FINAL_STAGED_KEYS 4096

// ---- block-wide helpers (blockDim.x == 256, every thread calls them) -------------------------
typedef struct scan_smem {
    int warp[TOPK_THREADS / 32];
} scan_smem;

// Inclusive prefix sum of v over the block's threads in thread order; *total gets the sum.
static __device__ int block_inclusive_scan(int v, int *total, scan_smem *sm)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = TOPK_THREADS / 32;
    for (int d = 1; d < 32; d <<= 1) {
        int u = yl_shfl_up_sync(YL_FULL_MASK, v, d);
        if (lane >= d)
            v += u;
    }
    if (lane == 31)
        sm->warp[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int w = lane < nwarps ? sm->warp[lane] : 0;
        for (int d = 1; d < nwarps; d <<= 1) {
            int u = yl_shfl_up_sync(YL_FULL_MASK, w, d);
            if (lane >= d)
                w += u;
        }
        if (lane < nwarps)
            sm->warp[lane] = w;
    }
    __syncthreads();
    if (warp > 0)
        v += sm->warp[warp - 1];
    *total = sm->warp[nwarps - 1];
    __syncthreads();    // sm is free for the next call
    return v;
}

// A float's bits mapped so that unsigned order is float order; -0 counts as +0 (a tie).
static __device__ __forceinline__ uint32_t order_bits(float f)
{
    f = f == 0.0f ? 0.0f : f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

// A sort key: higher score first, then lower tie order; never 0 (0 means "absent").
static __device__ __forceinline__ uint64_t make_key(float score, uint32_t tie_order)
{
    return (uint64_t)order_bits(score) << 32 | (0xffffffffu - tie_order);
}

static __device__ __forceinline__ uint32_t key_tie_order(uint64_t key)
{
    return 0xffffffffu - (uint32_t)key;
}

static __device__ __forceinline__ int next_pow2(int n)
{
    int p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

typedef struct topk_smem {
    scan_smem scan;
    int hist[256];
    int digit, need, done, fill;
} topk_smem;

// The class selection's shared memory, its own and the dynamic block, within the 48 KiB; the
// sorted keys of any allowed top_k (next_pow2(top_k) < 2 top_k of them) fit the block.
static_assert(sizeof(topk_smem) + TOPK_SMEM_BYTES <= 48 * 1024, "class selection smem");
static_assert(2 * sizeof(uint64_t) * YL_FAST_NMS_MAX_TOP_K <= TOPK_SMEM_BYTES, "top_k keys");

// Of the items i in [0, n) with key_of(i) != 0 (unique keys), leave the k = min(present, cap)
// largest in sorted[0, k), descending, and return k. sorted (shared or global memory) has
// room for next_pow2(cap) keys. The k-th largest key is found a byte at a time from the top
// (histogram, then a scan of the bins from the highest), stopping early once every key
// sharing the prefix is wanted; the keys >= it are gathered and bitonic-sorted.
template <class KeyOf>
static __device__ int block_top_keys(const KeyOf &key_of, int n, int cap, uint64_t *sorted,
                                     topk_smem *sm)
{
    const int t = threadIdx.x;
    int mine = 0, present;
    for (int i = t; i < n; i += TOPK_THREADS)
        mine += key_of(i) != 0;
    block_inclusive_scan(mine, &present, &sm->scan);
    const int k = present < cap ? present : cap;
    if (k == 0)
        return 0;

    uint64_t threshold = 1;    // every present key
    if (k < present) {
        uint64_t prefix = 0;
        int need = k;
        for (int shift = 56; shift >= 0; shift -= 8) {
            const uint64_t high = shift == 56 ? 0 : ~0ull << (shift + 8);
            sm->hist[t] = 0;
            __syncthreads();
            for (int i = t; i < n; i += TOPK_THREADS) {
                uint64_t key = key_of(i);
                if (key && (key & high) == prefix)
                    yl_atomic_add(&sm->hist[(key >> shift) & 255], 1);
            }
            __syncthreads();
            // Thread t holds digit 255 - t: the scan counts the keys with a digit >= it.
            int count = sm->hist[255 - t], total;
            int above = block_inclusive_scan(count, &total, &sm->scan) - count;
            if (above < need && need <= above + count) {
                sm->digit = 255 - t;
                sm->need = need - above;
                sm->done = need == above + count;
            }
            __syncthreads();
            prefix |= (uint64_t)sm->digit << shift;
            need = sm->need;
            // No barrier needed before the next pass: it writes digit, need and done only
            // after its own barriers, which every thread reaches after reading them here.
            const int done = sm->done;
            if (done)
                break;
        }
        threshold = prefix;
    }

    const int padded = next_pow2(k);
    if (t == 0)
        sm->fill = 0;
    __syncthreads();
    for (int i = t; i < n; i += TOPK_THREADS) {
        uint64_t key = key_of(i);
        if (key >= threshold)
            sorted[yl_atomic_add(&sm->fill, 1)] = key;
    }
    for (int i = k + t; i < padded; i += TOPK_THREADS)
        sorted[i] = 0;
    __syncthreads();
    for (int size = 2; size <= padded; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = t; i < padded / 2; i += TOPK_THREADS) {
                const int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
                const bool descending = (lo & size) == 0;
                const uint64_t a = sorted[lo], b = sorted[hi];
                if ((a < b) == descending) {
                    sorted[lo] = b;
                    sorted[hi] = a;
                }
            }
            __syncthreads();
        }
    }
    return k;
}

// Copy the present keys (key_of(i) != 0) of [0, n) to staged, in no particular order (the
// keys are unique and the selection sorts them), and return how many there are; only the
// first `cap` are copied. fill: a shared counter.
template <class KeyOf>
static __device__ int stage_present_keys(const KeyOf &key_of, int n, uint64_t *staged, int cap,
                                         int *fill)
{
    const int lane = threadIdx.x & 31;
    if (threadIdx.x == 0)
        *fill = 0;
    __syncthreads();
    for (int base = 0; base < n; base += TOPK_THREADS) {    // whole warps reach the ballot
        const int i = base + threadIdx.x;
        const uint64_t key = i < n ? key_of(i) : 0;
        // One atomic a warp: lane 0 reserves the warp's slots, each lane takes its own.
        const unsigned present = yl_ballot_sync(YL_FULL_MASK, key != 0);
        int first = 0;
        if (lane == 0 && present)
            first = yl_atomic_add(fill, yl_popc(present));
        first = yl_shfl_sync(YL_FULL_MASK, first, 0);
        const int at = first + yl_popc(present & ((1u << lane) - 1));
        if (key && at < cap)
            staged[at] = key;
    }
    __syncthreads();
    return *fill;
}

// A staged key list as block_top_keys reads items.
struct staged_key {
    const uint64_t *keys;
    __device__ uint64_t operator()(int i) const
    {
        return keys[i];
    }
};

// ---- the image of a block ------------------------------------------------------------------
// Every array, inputs, outputs and workspace, holds the batch's images one after another:
// p moved to image blockIdx.y's `count` elements.
template <class T>
static __device__ __forceinline__ T *image_rows(T *p, size_t count)
{
    return p + blockIdx.y * count;
}

// ---- candidates ------------------------------------------------------------------------------
// flags (P) uint8, block_counts (ceil(P / CAND_THREADS))
static __global__ void __launch_bounds__(CAND_THREADS)
candidate_flags_kernel(const float *__restrict__ conf, int num_priors, int num_classes,
                       float threshold, uint8_t *__restrict__ flags, int *__restrict__ block_counts)
{
    __shared__ scan_smem sm;
    conf = image_rows(conf, (size_t)num_priors * num_classes);
    flags = image_rows(flags, num_priors);
    block_counts = image_rows(block_counts, gridDim.x);
    const int p = blockIdx.x * CAND_THREADS + threadIdx.x;
    int flag = 0;
    if (p < num_priors) {
        // torch.max over the foreground: NaN if any score is, and NaN fails the threshold.
        const float *row = conf + (size_t)p * num_classes;
        float best = row[1];
        bool has_nan = false;
        for (int c = 1; c < num_classes; c++) {
            has_nan |= isnan(row[c]);
            best = row[c] > best ? row[c] : best;
        }
        flag = !has_nan && best > threshold;
        flags[p] = (uint8_t)flag;
    }
    int total;
    block_inclusive_scan(flag, &total, &sm);
    if (threadIdx.x == 0)
        block_counts[blockIdx.x] = total;
}

// block_offsets (num_blocks) exclusive prefix sums of block_counts; *num_candidates the sum.
static __global__ void __launch_bounds__(CAND_THREADS)
candidate_offsets_kernel(const int *__restrict__ block_counts, int num_blocks,
                         int *__restrict__ block_offsets, int *__restrict__ num_candidates)
{
    __shared__ scan_smem sm;
    block_counts = image_rows(block_counts, num_blocks);
    block_offsets = image_rows(block_offsets, num_blocks);
    num_candidates = image_rows(num_candidates, 1);
    int carry = 0;
    for (int base = 0; base < num_blocks; base += CAND_THREADS) {
        const int b = base + threadIdx.x;
        const int v = b < num_blocks ? block_counts[b] : 0;
        int total;
        const int incl = block_inclusive_scan(v, &total, &sm);
        if (b < num_blocks)
            block_offsets[b] = carry + incl - v;
        carry += total;
    }
    if (threadIdx.x == 0)
        *num_candidates = carry;
}

// cand (P) candidate -> prior, cand_box (P, 4), cand_score (C - 1, P): candidate i's
// foreground score for class c at c * P + i; the first num_candidates of each written.
static __global__ void __launch_bounds__(CAND_THREADS)
candidate_scatter_kernel(const float *__restrict__ loc, const float *__restrict__ conf,
                         const float *__restrict__ priors, int num_priors, int num_classes,
                         const uint8_t *__restrict__ flags,
                         const int *__restrict__ block_offsets, int *__restrict__ cand,
                         float *__restrict__ cand_box, float *__restrict__ cand_score)
{
    __shared__ scan_smem sm;
    loc = image_rows(loc, 4 * (size_t)num_priors);
    conf = image_rows(conf, (size_t)num_priors * num_classes);
    cand_score = image_rows(cand_score, (size_t)num_priors * (num_classes - 1));
    flags = image_rows(flags, num_priors);
    block_offsets = image_rows(block_offsets, gridDim.x);
    cand = image_rows(cand, num_priors);
    cand_box = image_rows(cand_box, 4 * (size_t)num_priors);
    const int p = blockIdx.x * CAND_THREADS + threadIdx.x;
    const int flag = p < num_priors ? flags[p] : 0;
    int total;
    const int incl = block_inclusive_scan(flag, &total, &sm);
    if (!flag)
        return;
    const int i = block_offsets[blockIdx.x] + incl - 1;
    cand[i] = p;
    // A warp's candidates are consecutive: each class's stores are coalesced.
    const float *row = conf + (size_t)p * num_classes + 1;
    for (int c = 0; c < num_classes - 1; c++)
        cand_score[(size_t)c * num_priors + i] = row[c];
    // yl_decode_box's float operations in its order.
    const float *l = loc + 4 * (size_t)p, *pr = priors + 4 * (size_t)p;
    float *box = cand_box + 4 * (size_t)i;
    const float cx = pr[0] + l[0] * 0.1f * pr[2];
    const float cy = pr[1] + l[1] * 0.1f * pr[3];
    const float w = pr[2] * expf(l[2] * 0.2f);
    const float h = pr[3] * expf(l[3] * 0.2f);
    box[0] = cx - w / 2;
    box[1] = cy - h / 2;
    box[2] = w + box[0];
    box[3] = h + box[1];
}

// ---- per-class top_k ---------------------------------------------------------------------------
// Candidate i's key for a class (`score` its row of cand_score): the score, ties by candidate.
struct class_key {
    const float *score;
    __device__ uint64_t operator()(int i) const
    {
        return make_key(score[i], (uint32_t)i);
    }
};

// A block per foreground class. top_cand, top_score (C - 1, top_k); nms_boxes (C - 1, top_k, 4);
// counts (C - 1): min(num_candidates, top_k) rows of each class written, best first. Dynamic
// shared memory: the sorted keys, then room for `staged` scores (an even number).
static __global__ void __launch_bounds__(TOPK_THREADS)
class_top_k_kernel(const float *__restrict__ cand_score, int num_priors,
                   const float *__restrict__ cand_box, const int *__restrict__ num_candidates,
                   int top_k, int staged, int *__restrict__ top_cand,
                   float *__restrict__ top_score, float *__restrict__ nms_boxes,
                   int *__restrict__ counts)
{
    YL_DYNAMIC_SMEM(uint64_t, keys, next_pow2(top_k) + staged / 2);
    float *staged_score = reinterpret_cast<float *>(keys + next_pow2(top_k));
    __shared__ topk_smem sm;
    const size_t rows = (size_t)gridDim.x * top_k;    // (C - 1) top_k an image
    const int c = blockIdx.x;
    const float *score = image_rows(cand_score, (size_t)num_priors * gridDim.x) +
                         (size_t)c * num_priors;
    cand_box = image_rows(cand_box, 4 * (size_t)num_priors);
    num_candidates = image_rows(num_candidates, 1);
    top_cand = image_rows(top_cand, rows);
    top_score = image_rows(top_score, rows);
    nms_boxes = image_rows(nms_boxes, 4 * rows);
    counts = image_rows(counts, gridDim.x);
    const int n = *num_candidates;
    int k;
    if (n <= staged) {    // the same for the whole block
        for (int i = threadIdx.x; i < n; i += TOPK_THREADS)
            staged_score[i] = score[i];
        __syncthreads();    // block_top_keys may read any thread's staged scores
        k = block_top_keys(class_key{staged_score}, n, top_k, keys, &sm);
    } else {
        k = block_top_keys(class_key{score}, n, top_k, keys, &sm);
    }
    for (int r = threadIdx.x; r < k; r += TOPK_THREADS) {
        const int i = (int)key_tie_order(keys[r]), row = c * top_k + r;
        top_cand[row] = i;
        top_score[row] = score[i];
        for (int j = 0; j < 4; j++)
            nms_boxes[4 * (size_t)row + j] = cand_box[4 * (size_t)i + j];
    }
    if (threadIdx.x == 0)
        counts[c] = k;
}

// ---- the best max_detections of all classes ---------------------------------------------------
// Row j = class * top_k + rank of the NMS output: present when kept, ties by j.
struct kept_key {
    const uint8_t *kept;
    const float *top_score;
    __device__ uint64_t operator()(int j) const
    {
        return kept[j] ? make_key(top_score[j], (uint32_t)j) : 0;
    }
};

// One block an image. keys: next_pow2(max_detections) of global scratch; out (max_detections),
// *count.
static __global__ void __launch_bounds__(TOPK_THREADS)
final_top_kernel(const uint8_t *__restrict__ kept, const float *__restrict__ top_score,
                 const int *__restrict__ top_cand, const int *__restrict__ cand,
                 const float *__restrict__ cand_box, int num_fg, int top_k, int max_detections,
                 int num_priors, uint64_t *__restrict__ keys, yl_raw_detection *__restrict__ out,
                 int out_stride, int *__restrict__ count)
{
    __shared__ topk_smem sm;
    __shared__ uint64_t staged[FINAL_STAGED_KEYS];
    __shared__ int num_staged;
    const size_t rows = (size_t)num_fg * top_k;
    kept = image_rows(kept, rows);
    top_score = image_rows(top_score, rows);
    top_cand = image_rows(top_cand, rows);
    cand = image_rows(cand, num_priors);
    cand_box = image_rows(cand_box, 4 * (size_t)num_priors);
    keys = image_rows(keys, next_pow2(rows < (size_t)max_detections ? (int)rows : max_detections));
    out = image_rows(out, (size_t)out_stride);
    count = image_rows(count, 1);
    const kept_key key_of = {kept, top_score};
    const int present = stage_present_keys(key_of, num_fg * top_k, staged, FINAL_STAGED_KEYS,
                                           &num_staged);
    const int k = present <= FINAL_STAGED_KEYS    // the same for the whole block
                      ? block_top_keys(staged_key{staged}, present, max_detections, keys, &sm)
                      : block_top_keys(key_of, num_fg * top_k, max_detections, keys, &sm);
    for (int r = threadIdx.x; r < k; r += TOPK_THREADS) {
        const int j = (int)key_tie_order(keys[r]), i = top_cand[j];
        yl_raw_detection d;
        d.prior = cand[i];
        d.class_index = j / top_k;
        d.score = top_score[j];
        for (int e = 0; e < 4; e++)
            d.box[e] = cand_box[4 * (size_t)i + e];
        out[r] = d;
    }
    if (threadIdx.x == 0)
        *count = k;
}

// ---- host side -------------------------------------------------------------------------------
// The workspace, carved from one block of device memory; with base == NULL only the size.
typedef struct detect_ws {
    uint8_t *flags;
    int *block_counts, *block_offsets, *num_candidates;
    int *cand;
    float *cand_box, *cand_score;
    int *top_cand, *counts;
    float *top_score, *nms_boxes;
    uint8_t *kept;
    uint64_t *final_keys;
} detect_ws;

static void *carve(unsigned char *base, size_t *offset, size_t count, size_t elem)
{
    size_t at = (*offset + 255) & ~(size_t)255;
    *offset = at + count * elem;
    return base ? base + at : NULL;
}

static int host_next_pow2(int n)
{
    int p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

// Each array holds `batch` images one after another (the kernels' image_rows).
static size_t detect_layout(int num_priors, const yl_detect_params *p, int batch, void *base,
                            detect_ws *ws)
{
    const size_t np = (size_t)num_priors, fg = (size_t)p->num_classes - 1, k = (size_t)p->top_k;
    const size_t blocks = (np + CAND_THREADS - 1) / CAND_THREADS, B = (size_t)batch;
    const long long kept_rows = (long long)fg * p->top_k;
    const int final_cap = kept_rows < p->max_detections ? (int)kept_rows : p->max_detections;
    unsigned char *b = (unsigned char *)base;
    size_t off = 0;
    ws->flags = (uint8_t *)carve(b, &off, B * np, 1);
    ws->block_counts = (int *)carve(b, &off, B * blocks, sizeof(int));
    ws->block_offsets = (int *)carve(b, &off, B * blocks, sizeof(int));
    ws->num_candidates = (int *)carve(b, &off, B, sizeof(int));
    ws->cand = (int *)carve(b, &off, B * np, sizeof(int));
    ws->cand_box = (float *)carve(b, &off, B * np * 4, sizeof(float));
    ws->cand_score = (float *)carve(b, &off, B * fg * np, sizeof(float));
    ws->top_cand = (int *)carve(b, &off, B * fg * k, sizeof(int));
    ws->counts = (int *)carve(b, &off, B * fg, sizeof(int));
    ws->top_score = (float *)carve(b, &off, B * fg * k, sizeof(float));
    ws->nms_boxes = (float *)carve(b, &off, B * fg * k * 4, sizeof(float));
    ws->kept = (uint8_t *)carve(b, &off, B * fg * k, 1);
    ws->final_keys = (uint64_t *)carve(b, &off, B * (size_t)host_next_pow2(final_cap),
                                       sizeof(uint64_t));
    return off + 255;    // room to align the caller's block
}

// (C - 1) * top_k rows must index with an int, also times 4 (box coordinates), and so must
// the batch's classes (Fast NMS runs them as batch x (C - 1) classes); the batch is grid.y.
static bool params_valid(int num_priors, const yl_detect_params *p, int batch)
{
    return p && num_priors > 0 && p->num_classes >= 2 && p->top_k >= 1 &&
           p->top_k <= YL_FAST_NMS_MAX_TOP_K && p->max_detections >= 1 && batch >= 1 &&
           batch <= 65535 && (long long)(p->num_classes - 1) * p->top_k <= INT_MAX / 4 &&
           (long long)batch * (p->num_classes - 1) <= INT_MAX;
}

extern "C" size_t yl_detect_cuda_workspace_bytes(int num_priors, const yl_detect_params *params,
                                                 int batch)
{
    detect_ws ws;
    return params_valid(num_priors, params, batch)
               ? detect_layout(num_priors, params, batch, NULL, &ws)
               : 0;
}

extern "C" yolact_status yl_detect_cuda(const float *loc, const float *conf,
                                        const float *priors, int num_priors,
                                        const yl_detect_params *params, int batch,
                                        yl_raw_detection *out, int out_stride, int *count,
                                        void *workspace, cudaStream_t stream)
{
    if (!params_valid(num_priors, params, batch) || !loc || !conf || !priors || !out ||
        !count || !workspace || out_stride < params->max_detections)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_detect_cuda: %d priors, %d classes, top_k %d (1..%d), "
                       "max_detections %d, batch %d (1..65535), out_stride %d, or a NULL "
                       "pointer", num_priors, params ? params->num_classes : 0,
                       params ? params->top_k : 0, YL_FAST_NMS_MAX_TOP_K,
                       params ? params->max_detections : 0, batch, out_stride);
    detect_ws ws;
    detect_layout(num_priors, params, batch,
                  (void *)(((uintptr_t)workspace + 255) & ~(uintptr_t)255), &ws);
    const int nc = params->num_classes, fg = nc - 1, top_k = params->top_k;
    const int blocks = (num_priors + CAND_THREADS - 1) / CAND_THREADS;

    YL_CHECK(cuda, YL_LAUNCH(candidate_flags_kernel, dim3(blocks, batch), CAND_THREADS, 0,
                            stream, conf, num_priors, nc, params->conf_threshold, ws.flags,
                            ws.block_counts));
    YL_CHECK(cuda, YL_LAUNCH(candidate_offsets_kernel, dim3(1, batch), CAND_THREADS, 0, stream,
                            ws.block_counts, blocks, ws.block_offsets, ws.num_candidates));
    YL_CHECK(cuda, YL_LAUNCH(candidate_scatter_kernel, dim3(blocks, batch), CAND_THREADS, 0,
                            stream, loc, conf, priors, num_priors, nc, ws.flags,
                            ws.block_offsets, ws.cand, ws.cand_box, ws.cand_score));
    const size_t key_bytes = sizeof(uint64_t) * host_next_pow2(top_k);
    const int staged = (int)((TOPK_SMEM_BYTES - key_bytes) / sizeof(uint64_t)) * 2;
    YL_CHECK(cuda, YL_LAUNCH(class_top_k_kernel, dim3(fg, batch), TOPK_THREADS,
                            key_bytes + staged * sizeof(float), stream, ws.cand_score,
                            num_priors, ws.cand_box, ws.num_candidates, top_k, staged,
                            ws.top_cand, ws.top_score, ws.nms_boxes, ws.counts));
    // The images' classes are one after another in every array: one launch for all.
    YL_TRY(yl_fast_nms_cuda(ws.nms_boxes, ws.counts, batch * fg, top_k, params->nms_threshold,
                            ws.kept, stream));
    YL_CHECK(cuda, YL_LAUNCH(final_top_kernel, dim3(1, batch), TOPK_THREADS, 0, stream, ws.kept,
                            ws.top_score, ws.top_cand, ws.cand, ws.cand_box, fg, top_k,
                            params->max_detections, num_priors, ws.final_keys, out, out_stride,
                            count));
    return YOLACT_OK;
}
