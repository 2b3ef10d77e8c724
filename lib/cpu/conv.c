/* FP32 convolution on the CPU as im2col + GEMM (no im2col for 1x1 stride-1 convolutions),
 * with bias, residual and activation applied in the same pass that leaves each output tile.
 *
 * Threads: OpenMP splits the output into (channel block x column block) tiles and each
 * thread runs a single-threaded GEMM per tile, then its epilogue while the tile is still in
 * cache. On a 2-core Zen 4 this ran the YOLACT-base convolutions in ~0.86 s against ~1.23 s
 * for one OpenBLAS-threaded sgemm over the whole output, so OpenBLAS is switched to one
 * thread (yl_gemm_single_threaded_blas, process-global). */
#include "cpu/conv.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "status.h"

int yl_conv_is_pointwise(const yl_conv_desc *d)
{
    return d->kernel_h == 1 && d->kernel_w == 1 && d->stride == 1 && d->pad == 0;
}

size_t yl_conv2d_workspace_floats(const yl_conv_desc *d, int in_h, int in_w)
{
    if (yl_conv_is_pointwise(d))
        return 0;
    int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    if (oh <= 0 || ow <= 0)
        return 0;
    size_t col = (size_t)d->in_channels * d->kernel_h * d->kernel_w * (size_t)oh * ow;
    size_t wino = yl_winograd_applies(d) ? yl_winograd_workspace_floats(d, in_h, in_w) : 0;
    return col > wino ? col : wino;
}

size_t yl_conv2d_prepared_floats(const yl_conv_desc *d)
{
    return yl_winograd_applies(d) ? yl_winograd_weight_floats(d) : 0;
}

void yl_conv2d_prepare_cpu(const yl_conv_desc *d, const float *weight, float *prepared)
{
    if (yl_winograd_applies(d))
        yl_winograd_transform_weights(d, weight, prepared);
}

/* dst[i] = src[2 * i] for i < n: stride 2 as a constant, so the loop vectorises (two loads
 * and a permute a vector with AVX-512) instead of a float at a time. */
YL_CPU_CLONES
static void copy_stride2(float *restrict dst, const float *restrict src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[2 * i];
}

void yl_im2col(const yl_conv_desc *d, const float *in, int in_h, int in_w, int ow, int c0,
               int c1, int n0, int nc, float *col)
{
    int s = d->stride;
    for (int c = c0; c < c1; c++) {
        const float *plane = in + (size_t)c * in_h * in_w;
        for (int kh = 0; kh < d->kernel_h; kh++) {
            for (int kw = 0; kw < d->kernel_w; kw++) {
                float *row = col + ((size_t)(c * d->kernel_h + kh) * d->kernel_w + kw) * nc;
                /* Output columns [v0, v1) read inside the input: x * s + off in [0, in_w). */
                int off = kw * d->dilation - d->pad;
                int v0 = off >= 0 ? 0 : (-off + s - 1) / s;
                int v1 = in_w - 1 - off < 0 ? 0 : (in_w - 1 - off) / s + 1;
                v1 = v1 < ow ? v1 : ow;
                for (int q = n0; q < n0 + nc;) {
                    int y = q / ow, xs = q % ow;
                    int xe = ow < xs + (n0 + nc - q) ? ow : xs + (n0 + nc - q);
                    float *dst = row + (q - n0) - xs; /* indexed by x */
                    int iy = y * s - d->pad + kh * d->dilation;
                    int a = xs, b = xs;
                    if (iy >= 0 && iy < in_h) {
                        a = v0 > xs ? (v0 < xe ? v0 : xe) : xs;
                        b = v1 < xe ? (v1 > a ? v1 : a) : xe;
                    }
                    memset(dst + xs, 0, sizeof(float) * (size_t)(a - xs));
                    const float *src = plane + (size_t)(iy < 0 ? 0 : iy) * in_w + off;
                    if (s == 1)
                        memcpy(dst + a, src + a, sizeof(float) * (size_t)(b - a));
                    else if (s == 2)
                        copy_stride2(dst + a, src + 2 * a, b - a);
                    else
                        for (int x = a; x < b; x++)
                            dst[x] = src[x * s];
                    memset(dst + b, 0, sizeof(float) * (size_t)(xe - b));
                    q += xe - xs;
                }
            }
        }
    }
}

/* The epilogue's loop for one case: act and with_residual constants where it is inlined. */
static inline __attribute__((always_inline)) void epilogue_loop(
    const float *in, float bias, const float *residual, yl_activation act, int with_residual,
    size_t n, float *out)
{
    for (size_t j = 0; j < n; j++) {
        float v = in[j] + bias;
        if (with_residual)
            v += residual[j];
        out[j] = yl_activate(v, act);
    }
}

YL_CPU_CLONES
void yl_epilogue_row(const float *in, float bias, const float *residual, yl_activation act,
                     size_t n, float *out)
{
    switch (act) {
    case YL_ACT_RELU:
        if (residual)
            epilogue_loop(in, bias, residual, YL_ACT_RELU, 1, n, out);
        else
            epilogue_loop(in, bias, NULL, YL_ACT_RELU, 0, n, out);
        break;
    case YL_ACT_LEAKY_RELU_0_1:
        if (residual)
            epilogue_loop(in, bias, residual, YL_ACT_LEAKY_RELU_0_1, 1, n, out);
        else
            epilogue_loop(in, bias, NULL, YL_ACT_LEAKY_RELU_0_1, 0, n, out);
        break;
    case YL_ACT_NONE:
        if (residual)
            epilogue_loop(in, bias, residual, YL_ACT_NONE, 1, n, out);
        else
            epilogue_loop(in, bias, NULL, YL_ACT_NONE, 0, n, out);
        break;
    }
}

/* out = act(out + bias (+ residual)) over rows [m0, m1) x columns [n0, n1) of (m, n). */
static void epilogue(float *out, const float *bias, const float *residual, yl_activation act,
                     int n, int m0, int m1, int n0, int n1)
{
    for (int m = m0; m < m1; m++) {
        float *o = out + (size_t)m * n + n0;
        yl_epilogue_row(o, bias ? bias[m] : 0.0f, residual ? residual + (size_t)m * n + n0 : NULL,
                        act, (size_t)(n1 - n0), o);
    }
}

enum {
    TILE_COLS = 512,      /* output columns per tile: the tile stays in L2 for its epilogue */
    TILE_ALIGN = 16,
    TILES_PER_THREAD = 2  /* with dynamic scheduling, enough to even out ragged tiles */
};

static int round_up(int x, int a) { return (x + a - 1) / a * a; }

/* Tile sides for an (m, n) output: columns first; channel blocks only when there are too
 * few column tiles to keep every thread busy (the small FPN levels and heads). */
static void plan_tiles(int m, int n, int threads, int *tile_m, int *tile_n)
{
    int n_tiles = (n + TILE_COLS - 1) / TILE_COLS;
    *tile_n = round_up((n + n_tiles - 1) / n_tiles, TILE_ALIGN);
    n_tiles = (n + *tile_n - 1) / *tile_n;
    *tile_m = m;
    int want = threads > 1 ? threads * TILES_PER_THREAD : 1;
    if (n_tiles < want) {
        int m_tiles = (want + n_tiles - 1) / n_tiles;
        int tm = round_up((m + m_tiles - 1) / m_tiles, TILE_ALIGN);
        *tile_m = tm < m ? tm : m;
    }
}

/* How an (m, n) output is split into tiles, and how the residual is applied. */
typedef struct tiling {
    int m, n, tile_m, tile_n, m_tiles, n_tiles;
    int accumulate;        /* the residual is the output itself: accumulate onto it */
    const float *residual; /* else the residual to add in the epilogue, or NULL */
} tiling;

static tiling plan_tiling(yl_gemm_kind kind, int m, int n, int threads, const float *residual,
                          const float *out)
{
    tiling t = {.m = m, .n = n, .accumulate = residual != NULL && residual == out};
    t.residual = t.accumulate ? NULL : residual;
    plan_tiles(m, n, threads, &t.tile_m, &t.tile_n);
    t.m_tiles = (m + t.tile_m - 1) / t.tile_m;
    t.n_tiles = (n + t.tile_n - 1) / t.tile_n;
    if (kind != YL_GEMM_PORTABLE)
        yl_gemm_single_threaded_blas();
    return t;
}

/* Tile number i: rows [*m0, *m0 + *mc), columns [*n0, *n0 + *nc). */
static void tile_at(const tiling *t, int i, int *m0, int *mc, int *n0, int *nc)
{
    *m0 = i / t->n_tiles * t->tile_m;
    *n0 = i % t->n_tiles * t->tile_n;
    *mc = t->m - *m0 < t->tile_m ? t->m - *m0 : t->tile_m;
    *nc = t->n - *n0 < t->tile_n ? t->n - *n0 : t->tile_n;
}

/* One output tile: rows [m0, m0 + mc) x columns [n0, n0 + nc) of the (m, n) output from
 * the column block b (k rows of stride ldb), then its epilogue while it is in cache. */
static void gemm_tile(yl_gemm_kind kind, int n, int k, const float *weight, const float *b,
                      int ldb, int accumulate, const float *bias, const float *residual,
                      yl_activation act, float *out, int m0, int mc, int n0, int nc)
{
    yl_gemm(kind, mc, nc, k, weight + (size_t)m0 * k, k, b, ldb, accumulate,
            out + (size_t)m0 * n + n0, n);
    epilogue(out, bias, residual, act, n, m0, m0 + mc, n0, n0 + nc);
}

void yl_conv2d_cpu_gemm(yl_gemm_kind kind, const yl_conv_desc *d, const float *in, int in_h,
                        int in_w, const float *weight, const float *bias, const float *residual,
                        yl_activation act, float *out, float *workspace, int num_threads)
{
    int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    int m = d->out_channels, n = oh * ow;
    int k = d->in_channels * d->kernel_h * d->kernel_w;
    if (m <= 0 || n <= 0)
        return;
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    int pointwise = yl_conv_is_pointwise(d);
    tiling tl = plan_tiling(kind, m, n, threads, residual, out);

    /* Column tiles that span every output channel make their own slice of im2col right
     * before their GEMM (it is still in cache); tiles that split the channels share one
     * made up front. Either way column block [n0, n0 + nc) lives at workspace + k * n0. */
    int shared_col = !pointwise && tl.m_tiles > 1;
    int shallow = kind != YL_GEMM_PORTABLE && yl_shallow_gemm_applies(k, residual, out, act);
    /* the shallow pass's tiles gather their own columns: no im2col */
    int gather = shallow && !pointwise && !shared_col && yl_shallow_gather_applies(d, ow);
#pragma omp parallel num_threads(threads)
    {
        if (shared_col) {
#pragma omp for schedule(static)
            for (int c = 0; c < d->in_channels; c++)
                yl_im2col(d, in, in_h, in_w, ow, c, c + 1, 0, n, workspace);
        }
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tl.m_tiles * tl.n_tiles; t++) {
            int m0, mc, n0, nc;
            tile_at(&tl, t, &m0, &mc, &n0, &nc);
            if (gather && yl_shallow_tile_applies(mc, nc, k)) {
                yl_shallow_conv_tile(d, in, in_h, in_w, ow, n, weight, bias, residual, act, out,
                                     m0, mc, n0, nc);
                continue;
            }
            const float *b = in + n0;
            int ldb = n;
            if (shared_col) {
                b = workspace + n0;
            } else if (!pointwise) {
                float *col = workspace + (size_t)k * n0;
                yl_im2col(d, in, in_h, in_w, ow, 0, d->in_channels, n0, nc, col);
                b = col;
                ldb = nc;
            }
            if (shallow && yl_shallow_tile_applies(mc, nc, k))
                yl_shallow_tile(k, n, weight, b, ldb, bias, residual, act, out, m0, mc, n0, nc);
            else
                gemm_tile(kind, n, k, weight, b, ldb, tl.accumulate, bias, tl.residual, act,
                          out, m0, mc, n0, nc);
        }
    }
}

void yl_conv_gemm_columns(yl_gemm_kind kind, int m, int n, int k, const float *weight,
                          const float *col, const float *bias, const float *residual,
                          yl_activation act, float *out, int num_threads)
{
    if (m <= 0 || n <= 0)
        return;
    int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
    tiling tl = plan_tiling(kind, m, n, threads, residual, out);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int t = 0; t < tl.m_tiles * tl.n_tiles; t++) {
        int m0, mc, n0, nc;
        tile_at(&tl, t, &m0, &mc, &n0, &nc);
        gemm_tile(kind, n, k, weight, col + n0, n, tl.accumulate, bias, tl.residual, act, out,
                  m0, mc, n0, nc);
    }
}

void yl_conv2d_prepared_cpu_gemm(yl_gemm_kind kind, const yl_conv_desc *d, const float *in,
                                 int in_h, int in_w, const float *weight, const float *prepared,
                                 const float *bias, const float *residual, yl_activation act,
                                 float *out, float *workspace, int num_threads)
{
    if (prepared && yl_winograd_applies(d)) {
        int threads = num_threads > 0 ? num_threads : omp_get_num_procs();
        yl_winograd_conv(kind, d, in, in_h, in_w, prepared, bias, residual, act, out, workspace,
                         threads);
        return;
    }
    yl_conv2d_cpu_gemm(kind, d, in, in_h, in_w, weight, bias, residual, act, out, workspace,
                       num_threads);
}

void yl_conv2d_prepared_cpu(const yl_conv_desc *d, const float *in, int in_h, int in_w,
                            const float *weight, const float *prepared, const float *bias,
                            const float *residual, yl_activation act, float *out,
                            float *workspace, int num_threads)
{
    yl_conv2d_prepared_cpu_gemm(YL_GEMM_AUTO, d, in, in_h, in_w, weight, prepared, bias,
                                residual, act, out, workspace, num_threads);
}

yolact_status yl_cpu_reference_call(const char *op, int batch, yolact_precision precision)
{
    if (precision != YOLACT_PRECISION_FP32)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s on the CPU computes in FP32 only, not in "
                       "precision %d", op, (int)precision);
    if (batch < 1)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s on the CPU: a batch of %d images", op,
                       batch);
    return YOLACT_OK;
}

yolact_status yl_conv2d_cpu(const yl_conv_desc *d, const float *in, int batch, int in_h,
                            int in_w, const float *weight, yolact_precision precision,
                            const float *bias, const float *residual, yl_activation act,
                            float *out, float *workspace, int num_threads)
{
    YL_TRY(yl_cpu_reference_call("the convolution", batch, precision));
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t in_size = (size_t)d->in_channels * in_h * in_w;
    const size_t out_size = oh > 0 && ow > 0 ? (size_t)d->out_channels * oh * ow : 0;
    for (int b = 0; b < batch; b++)
        yl_conv2d_cpu_gemm(YL_GEMM_AUTO, d, in + b * in_size, in_h, in_w, weight, bias,
                           residual ? residual + b * out_size : NULL, act, out + b * out_size,
                           workspace, num_threads);
    return YOLACT_OK;
}
