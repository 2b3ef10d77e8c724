/* The head permutes (see head_ops.h), the reference for kernels/head.cu: plain loops, the
 * head levels' softmax and tanhf a block of cells at a time. */
#include "cpu/head_ops.h"
#include "cpu/exp_tanh.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "cpu/gemm.h"

enum {
    CELLS = 16,       /* cells a block: one 64-byte line of each channel's plane */
    MAX_ROW = 1024    /* classes and prototypes a block takes (64 KiB on the stack) */
};

/* One prior's rows from the maps (channel a * 4 + d of its cell at loc_v[d * vs], and so on
 * for conf and coeff): the softmax (if asked) and tanhf in place in the output rows. The
 * reference order of operations, which the blocks below keep. */
static void prior_rows(const float *loc_v, const float *conf_v, const float *coeff_v,
                       size_t vs, int C, int K, float *loc, float *row, float *coeff,
                       int softmax)
{
    for (int d = 0; d < 4; d++)
        loc[d] = loc_v[d * vs];
    float max = -INFINITY, sum = 0;
    for (int c = 0; c < C; c++) {
        row[c] = conf_v[c * vs];
        max = row[c] > max ? row[c] : max;
    }
    if (softmax) {
        for (int c = 0; c < C; c++)
            row[c] -= max;
        yl_expf_inplace(row, (size_t)C);
        for (int c = 0; c < C; c++) /* in class order, as one loop summed them */
            sum += row[c];
        float inv = 1.0f / sum;
        for (int c = 0; c < C; c++)
            row[c] *= inv;
    }
    for (int k = 0; k < K; k++)
        coeff[k] = coeff_v[k * vs];
    yl_tanhf_inplace(coeff, (size_t)K);
}

/* x[r * CELLS + j] <- channel r of cell j (r < rows, j < cells) from map channels a plane
 * apart; the lanes past cells zero. The block after next's lines are prefetched (there are
 * too many channels for the hardware's prefetcher). */
static void load_block(const float *map, size_t plane, int rows, int cells, int prefetch,
                       float *x)
{
    for (int r = 0; r < rows; r++) {
        const float *src = map + (size_t)r * plane;
        if (prefetch)
            __builtin_prefetch(src + 2 * CELLS);
        float *dst = x + (size_t)r * CELLS;
        if (cells == CELLS) { /* a constant size: inlined */
            memcpy(dst, src, sizeof *dst * CELLS);
            continue;
        }
        for (int j = 0; j < CELLS; j++)
            dst[j] = j < cells ? src[j] : 0.0f;
    }
}

/* out[j * stride + r] <- x[r * CELLS + j]: the block's rows back to the priors' rows. */
static void store_block(const float *x, int rows, int cells, size_t stride, float *out)
{
    for (int j = 0; j < cells; j++)
        for (int r = 0; r < rows; r++)
            out[(size_t)j * stride + r] = x[(size_t)r * CELLS + j];
}

/* The softmax over the C rows of a block, each cell (lane) as prior_rows does its row: the
 * max in class order, each minus it, expf, the sum in class order from 0, one division,
 * the products. Lane j's operations are its prior's, so the bits are. */
YL_CPU_CLONES
static void softmax_block(float *x, int C)
{
    float max[CELLS], sum[CELLS], inv[CELLS];
    for (int j = 0; j < CELLS; j++)
        max[j] = -INFINITY, sum[j] = 0;
    for (int c = 0; c < C; c++)
        for (int j = 0; j < CELLS; j++) {
            const float v = x[c * CELLS + j];
            max[j] = v > max[j] ? v : max[j];
        }
    for (int c = 0; c < C; c++)
        for (int j = 0; j < CELLS; j++)
            x[c * CELLS + j] -= max[j];
    yl_expf_inplace(x, (size_t)C * CELLS);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < CELLS; j++)
            sum[j] += x[c * CELLS + j];
    for (int j = 0; j < CELLS; j++)
        inv[j] = 1.0f / sum[j];
    for (int c = 0; c < C; c++)
        for (int j = 0; j < CELLS; j++)
            x[c * CELLS + j] *= inv[j];
}

/* One image; softmax 0 leaves conf the logits. Each block of CELLS cells reads every map
 * line once and whole (one per channel: the channels are a plane apart), runs the softmax
 * and tanhf across the block's cells, and writes the priors' rows. Levels with more than
 * MAX_ROW classes or prototypes run prior_rows on the maps in place. */
static void head_output_image(const float *maps, int anchors, int classes, int prototypes,
                              int height, int width, float *loc, float *conf, float *coeff,
                              int softmax, int num_threads)
{
    const int A = anchors, C = classes, K = prototypes;
    const size_t plane = (size_t)height * width;
    const float *loc_maps = maps, *conf_maps = maps + (size_t)4 * A * plane,
                *coeff_maps = conf_maps + (size_t)C * A * plane;
    const int blocked = C <= MAX_ROW && K <= MAX_ROW;
    const size_t blocks = (plane + CELLS - 1) / CELLS;
    if (num_threads <= 0)
        num_threads = omp_get_max_threads();
#pragma omp parallel for num_threads(num_threads) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        const size_t cell0 = blk * CELLS;
        const int cells = plane - cell0 < CELLS ? (int)(plane - cell0) : CELLS;
        if (!blocked) {
            for (size_t cell = cell0; cell < cell0 + cells; cell++)
                for (int a = 0; a < A; a++) {
                    const size_t p = cell * A + a;
                    prior_rows(loc_maps + (size_t)a * 4 * plane + cell,
                               conf_maps + (size_t)a * C * plane + cell,
                               coeff_maps + (size_t)a * K * plane + cell, plane, C, K,
                               loc + p * 4, conf + p * C, coeff + p * K, softmax);
                }
            continue;
        }
        float x[MAX_ROW * CELLS] __attribute__((aligned(64)));
        const int prefetch = cell0 + 3 * CELLS <= plane;
        const size_t p0 = cell0 * A;
        for (int a = 0; a < A; a++) {
            load_block(loc_maps + (size_t)a * 4 * plane + cell0, plane, 4, cells, prefetch, x);
            store_block(x, 4, cells, (size_t)A * 4, loc + (p0 + a) * 4);
            load_block(conf_maps + (size_t)a * C * plane + cell0, plane, C, cells, prefetch, x);
            if (softmax)
                softmax_block(x, C);
            store_block(x, C, cells, (size_t)A * C, conf + (p0 + a) * C);
            load_block(coeff_maps + (size_t)a * K * plane + cell0, plane, K, cells, prefetch,
                       x);
            yl_tanhf_inplace(x, (size_t)K * CELLS);
            store_block(x, K, cells, (size_t)A * K, coeff + (p0 + a) * K);
        }
    }
}

void yl_head_output_cpu(const float *maps, int anchors, int classes, int prototypes,
                        int height, int width, int batch, size_t image_priors, float *loc,
                        float *conf, float *coeff, int num_threads)
{
    const size_t maps_floats = (size_t)anchors * (4 + classes + prototypes) * height * width;
    for (int b = 0; b < batch; b++)
        head_output_image(maps + b * maps_floats, anchors, classes, prototypes, height, width,
                          loc + b * image_priors * 4, conf + b * image_priors * classes,
                          coeff + b * image_priors * prototypes, 1, num_threads);
}

void yl_head_output_logits_cpu(const float *maps, int anchors, int classes, int prototypes,
                               int height, int width, float *loc, float *conf, float *coeff,
                               int num_threads)
{
    head_output_image(maps, anchors, classes, prototypes, height, width, loc, conf, coeff, 0,
                      num_threads);
}

void yl_proto_output_cpu(const float *in, int channels, int height, int width, int batch,
                         float *out)
{
    /* a block of CELLS pixels at a time: each channel's run of them read whole, the block's
     * rows written from L1 (a pixel's channels are a plane apart) */
    const size_t plane = (size_t)height * width, image = plane * channels;
    for (int b = 0; b < batch; b++)
        for (size_t p0 = 0; p0 < plane; p0 += CELLS) {
            const size_t cells = plane - p0 < CELLS ? plane - p0 : CELLS;
            for (int k = 0; k < channels; k++) {
                const float *src = in + b * image + (size_t)k * plane + p0;
                float *dst = out + b * image + p0 * channels + k;
                for (size_t j = 0; j < cells; j++)
                    dst[j * channels] = src[j];
            }
        }
}
