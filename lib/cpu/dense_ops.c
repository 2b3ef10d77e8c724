/* Max pooling, PyTorch's CPU bilinear resize, the FastBaseTransform preprocess, the
 * element-wise add and leaky ReLU (the convolution is in conv.c). Loops without a
 * thread-count argument run under OpenMP's default team size, which the caller sets with
 * omp_set_num_threads on its thread. */
#include "cpu/dense_ops.h"
#include "cpu/conv.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* PyTorch's max: NaN wins (v > m || isnan(v)). */
static inline float max_nan(float m, float v) { return v > m || isnan(v) ? v : m; }

/* Output columns are done in chunks whose input columns fit this buffer (floats): the
 * window's rows are first reduced into it column by column (contiguous, vectorised), then
 * each output takes the max of `kernel` neighbours there. Max is exact in any order, so this
 * equals the per-window loop, which remains for windows wider than the buffer. */
enum { POOL_BUF = 1024 };

/* o[x] = the max of col[x * stride + k], k = 0 .. kernel - 1 in order, lanes interleaved
 * channels at a time. */
static inline __attribute__((always_inline)) void window_max(const float *col, float *o, int n,
                                                             int kernel, int stride, int lanes)
{
    if (lanes == 1) { /* a loop of its own, so that it vectorises across x */
        for (int x = 0; x < n; x++) {
            float m = -INFINITY;
            for (int k = 0; k < kernel; k++)
                m = max_nan(m, col[x * stride + k]);
            o[x] = m;
        }
        return;
    }
    for (int x = 0; x < n; x++)
        for (int l = 0; l < lanes; l++) {
            float m = -INFINITY;
            for (int k = 0; k < kernel; k++)
                m = max_nan(m, col[(x * stride + k) * lanes + l]);
            o[x * lanes + l] = m;
        }
}

/* Max pooling of planes planes of lanes interleaved channels each (lanes 1: CHW; oneDNN's
 * block: nChw<block>c). */
static inline __attribute__((always_inline)) void maxpool_lanes(
    const float *in, int planes, int lanes, int in_h, int in_w, int kernel, int stride,
    int pad, float *out, int out_h, int out_w)
{
    const int cols = POOL_BUF / lanes;
    const int chunk = kernel <= cols ? (cols - kernel) / stride + 1 : 0;
#pragma omp parallel for schedule(static) if ((size_t)planes * lanes * out_h * out_w > 65536)
    for (int r = 0; r < planes * out_h; r++) {
        int p = r / out_h, y = r % out_h;
        const float *plane = in + (size_t)p * in_h * in_w * lanes;
        float *o = out + (size_t)r * out_w * lanes;
        /* Padding is -inf, so only the window's inside counts. */
        int y0 = y * stride - pad, y1 = y0 + kernel;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > in_h ? in_h : y1;
        if (!chunk) {
            for (int x = 0; x < out_w; x++) {
                int x0 = x * stride - pad, x1 = x0 + kernel;
                x0 = x0 < 0 ? 0 : x0;
                x1 = x1 > in_w ? in_w : x1;
                for (int l = 0; l < lanes; l++) {
                    float m = -INFINITY;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            m = max_nan(m, plane[((size_t)iy * in_w + ix) * lanes + l]);
                    o[(size_t)x * lanes + l] = m;
                }
            }
            continue;
        }
        float col[POOL_BUF];
        for (int xo = 0; xo < out_w; xo += chunk) {
            int n = out_w - xo < chunk ? out_w - xo : chunk;
            /* col[j] = column max of input column base + j (-inf outside the input). */
            int base = xo * stride - pad, width = (n - 1) * stride + kernel;
            int a = base < 0 ? -base : 0, b = in_w - base < width ? in_w - base : width;
            for (int j = 0; j < width * lanes; j++)
                col[j] = -INFINITY;
            for (int iy = y0; iy < y1; iy++) {
                const float *row = plane + ((ptrdiff_t)iy * in_w + base) * lanes;
                for (int j = a * lanes; j < b * lanes; j++)
                    col[j] = max_nan(col[j], row[j]);
            }
            if (kernel == 3 && stride == 2)   /* ResNet's stem: constants, so vectorised */
                window_max(col, o + (size_t)xo * lanes, n, 3, 2, lanes);
            else
                window_max(col, o + (size_t)xo * lanes, n, kernel, stride, lanes);
        }
    }
}

void yl_maxpool2d_cpu(const float *in, int channels, int in_h, int in_w, int kernel,
                      int stride, int pad, float *out, int out_h, int out_w)
{
    maxpool_lanes(in, channels, 1, in_h, in_w, kernel, stride, pad, out, out_h, out_w);
}

void yl_maxpool2d_blocked_cpu(const float *in, int channels, int block, int in_h, int in_w,
                              int kernel, int stride, int pad, float *out, int out_h,
                              int out_w)
{
    if (block == 16) /* the block a constant, so the lanes' loops vectorise */
        maxpool_lanes(in, channels / 16, 16, in_h, in_w, kernel, stride, pad, out, out_h,
                      out_w);
    else if (block == 8)
        maxpool_lanes(in, channels / 8, 8, in_h, in_w, kernel, stride, pad, out, out_h, out_w);
    else
        yl_maxpool2d_cpu(in, channels, in_h, in_w, kernel, stride, pad, out, out_h, out_w);
}

/* The axis tables in a workspace: y then x, each (i0, i1, w0, w1) arrays. */
typedef struct axis_table {
    int *i0, *i1;
    float *w0, *w1;
} axis_table;

static axis_table axis_table_at(void *workspace, size_t offset_entries, int n)
{
    char *p = (char *)workspace + offset_entries * (2 * sizeof(int) + 2 * sizeof(float));
    axis_table t;
    t.i0 = (int *)p;
    t.i1 = t.i0 + n;
    t.w0 = (float *)(t.i1 + n);
    t.w1 = t.w0 + n;
    return t;
}

size_t yl_resize_workspace_bytes(int out_h, int out_w)
{
    return ((size_t)out_h + (size_t)out_w) * (2 * sizeof(int) + 2 * sizeof(float));
}

/* PyTorch's evaluation order: x within each source row, then y. */
static inline float bilinear(float a, float b, float c, float d, float w0x, float w1x, float w0y,
                             float w1y)
{
    return (a * w0x + b * w1x) * w0y + (c * w0x + d * w1x) * w1y;
}

/* The resize of planes planes of lanes interleaved channels each (lanes 1: CHW; oneDNN's
 * block: nChw<block>c): every output element from the same four inputs and weights, so a
 * channel's values are the same in either layout. */
static inline __attribute__((always_inline)) void resize_lanes(
    const float *in, int planes, int lanes, int in_h, int in_w, float *out, int out_h,
    int out_w, void *workspace)
{
    axis_table ty = axis_table_at(workspace, 0, out_h);
    axis_table tx = axis_table_at(workspace, (size_t)out_h, out_w);
    yl_bilinear_axis(in_h, out_h, ty.i0, ty.i1, ty.w0, ty.w1);
    yl_bilinear_axis(in_w, out_w, tx.i0, tx.i1, tx.w0, tx.w1);
    const size_t in_row = (size_t)in_w * lanes, out_row = (size_t)out_w * lanes;
    int rows = planes * out_h;
#pragma omp parallel for schedule(static) if ((size_t)rows * out_row > 65536)
    for (int r = 0; r < rows; r++) {
        int p = r / out_h, y = r % out_h;
        const float *plane = in + (size_t)p * in_h * in_row;
        const float *r0 = plane + (size_t)ty.i0[y] * in_row, *r1 = plane + (size_t)ty.i1[y] * in_row;
        float w0y = ty.w0[y], w1y = ty.w1[y];
        float *o = out + (size_t)r * out_row;
        for (int x = 0; x < out_w; x++) {
            const size_t x0 = (size_t)tx.i0[x] * lanes, x1 = (size_t)tx.i1[x] * lanes;
            for (int l = 0; l < lanes; l++)
                o[(size_t)x * lanes + l] = bilinear(r0[x0 + l], r0[x1 + l], r1[x0 + l],
                                                    r1[x1 + l], tx.w0[x], tx.w1[x], w0y, w1y);
        }
    }
}

void yl_resize_bilinear_cpu(const float *in, int channels, int in_h, int in_w,
                            float *out, int out_h, int out_w, void *workspace)
{
    resize_lanes(in, channels, 1, in_h, in_w, out, out_h, out_w, workspace);
}

void yl_resize_bilinear_blocked_cpu(const float *in, int channels, int block, int in_h,
                                    int in_w, float *out, int out_h, int out_w,
                                    void *workspace)
{
    if (block == 16)
        resize_lanes(in, channels / 16, 16, in_h, in_w, out, out_h, out_w, workspace);
    else if (block == 8)
        resize_lanes(in, channels / 8, 8, in_h, in_w, out, out_h, out_w, workspace);
    else
        yl_resize_bilinear_cpu(in, channels, in_h, in_w, out, out_h, out_w, workspace);
}

/* Output columns of the preprocess a sweep over the rows covers: their axis entries live on
 * the stack (4 KiB), so the op needs no workspace. */
enum { PREPROCESS_TILE = 256 };

/* Channel s of the pixel at px: a byte, or a float (YOLACT_PIXEL_BGR32F) as it is. */
static inline float pixel_channel(const uint8_t *px, int s, int is_float)
{
    if (!is_float)
        return px[s];
    float v;
    memcpy(&v, px + sizeof v * (size_t)s, sizeof v);
    return v;
}

void yl_preprocess_cpu(const yolact_image *image, int size, yl_input_norm norm,
                       const float mean_bgr[3], const float std_bgr[3], float *out)
{
    /* Output plane p is R, G, B; src[p] is that colour's channel within a pixel, and
     * mean/std are taken from the BGR triplets at index 2 - p. */
    int rgb = image->format == YOLACT_PIXEL_RGB8;
    const int is_float = image->format == YOLACT_PIXEL_BGR32F;
    const size_t pixel_bytes = is_float ? 3 * sizeof(float) : 3;
    const int src[3] = {rgb ? 0 : 2, 1, rgb ? 2 : 0};
    float mean[3], std[3];
    for (int p = 0; p < 3; p++) {
        mean[p] = norm == YL_INPUT_MEAN_STD ? mean_bgr[2 - p] : 0.0f;
        std[p] = norm == YL_INPUT_MEAN_STD ? std_bgr[2 - p] : 255.0f;
    }
    size_t plane = (size_t)size * size;
    int xi0[PREPROCESS_TILE], xi1[PREPROCESS_TILE];
    float xw0[PREPROCESS_TILE], xw1[PREPROCESS_TILE];
    for (int x0 = 0; x0 < size; x0 += PREPROCESS_TILE) {
        const int n = size - x0 < PREPROCESS_TILE ? size - x0 : PREPROCESS_TILE;
        yl_bilinear_axis_range(image->width, size, x0, n, xi0, xi1, xw0, xw1);
#pragma omp parallel for schedule(static) if (plane > 16384)
        for (int y = 0; y < size; y++) {
            int yi0, yi1;
            float w0y, w1y;
            yl_bilinear_axis_range(image->height, size, y, 1, &yi0, &yi1, &w0y, &w1y);
            const uint8_t *r0 = image->data + (size_t)yi0 * image->stride;
            const uint8_t *r1 = image->data + (size_t)yi1 * image->stride;
            float *o = out + (size_t)y * size + x0;
            for (int x = 0; x < n; x++) {
                const uint8_t *a = r0 + pixel_bytes * xi0[x], *b = r0 + pixel_bytes * xi1[x];
                const uint8_t *c = r1 + pixel_bytes * xi0[x], *d = r1 + pixel_bytes * xi1[x];
                for (int p = 0; p < 3; p++) {
                    int s = src[p];
                    float v = bilinear(pixel_channel(a, s, is_float),
                                       pixel_channel(b, s, is_float),
                                       pixel_channel(c, s, is_float),
                                       pixel_channel(d, s, is_float), xw0[x], xw1[x], w0y,
                                       w1y);
                    /* DarkNet's x / 255 is (x - 0) / 255: the same float32 result. */
                    o[p * plane + x] = (v - mean[p]) / std[p];
                }
            }
        }
    }
}

void yl_add_cpu(const float *a, const float *b, size_t n, float *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void yl_add_activate_cpu(const float *y, const float *residual, size_t n, yl_activation act,
                         float *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = yl_activate(residual ? y[i] + residual[i] : y[i], act);
}

void yl_leaky_relu_cpu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = yl_activate(x[i], YL_ACT_LEAKY_RELU_0_1);
}
