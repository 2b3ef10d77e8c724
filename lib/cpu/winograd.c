/* Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions: each 4x4 output tile comes from a
 * 6x6 input tile through 36 independent (out_channels x in_channels) GEMMs, 2.25x fewer
 * multiplies than im2col's GEMM. The weights are transformed once (yl_conv2d_prepare_cpu).
 *
 * Transforms (Lavin & Gray, points 0, +-1, +-2, +-1/2): Y = A^T [(G g G^T) . (B^T d B)] A.
 * In FP32 the result differs from the direct sum by under 3e-6 of sum |terms| on the test
 * shapes (test_dense_ops bounds it at 2e-5); on the parity network the raw outputs move by
 * at most ~5e-5 (gate 1e-3), so this is the default wherever weights are prepared. */
#include "cpu/conv.h"

#include <omp.h>
#include <string.h>

enum { TILE_IN = 6, TILE_OUT = 4, POINTS = TILE_IN * TILE_IN };

int yl_winograd_applies(const yl_conv_desc *d)
{
    return d->kernel_h == 3 && d->kernel_w == 3 && d->stride == 1 && d->dilation == 1;
}

size_t yl_winograd_weight_floats(const yl_conv_desc *d)
{
    return (size_t)POINTS * d->out_channels * d->in_channels;
}

/* (tiles down, tiles across) of an input. */
static void tile_grid(const yl_conv_desc *d, int in_h, int in_w, int *th, int *tw)
{
    int oh = yl_conv_out_size(in_h, 3, 1, d->pad, 1), ow = yl_conv_out_size(in_w, 3, 1, d->pad, 1);
    *th = (oh + TILE_OUT - 1) / TILE_OUT;
    *tw = (ow + TILE_OUT - 1) / TILE_OUT;
}

/* The image is done in chunks of whole tile rows whose transformed input and output
 * (36 x (in + out channels) floats a tile) fit in about this much cache, so V and M stay
 * in L2/L3 between the three phases. Without chunks, the 64-channel layers at 138x138
 * (22 MB of V and M) ran slower than im2col. A chunk keeps at least CHUNK_MIN_TILES tiles
 * so the GEMMs stay wide enough to run near peak on the 256-channel layers. */
enum { CHUNK_BYTES = 4 << 20, CHUNK_MIN_TILES = 96 };

static int chunk_rows(const yl_conv_desc *d, int th, int tw)
{
    size_t row = (size_t)POINTS * tw * ((size_t)d->in_channels + d->out_channels) * sizeof(float);
    size_t rows = row ? CHUNK_BYTES / row : 1, min_rows = (CHUNK_MIN_TILES + tw - 1) / tw;
    rows = rows > min_rows ? rows : min_rows;
    return rows < 1 ? 1 : rows > (size_t)th ? th : (int)rows;
}

size_t yl_winograd_workspace_floats(const yl_conv_desc *d, int in_h, int in_w)
{
    int th, tw;
    tile_grid(d, in_h, in_w, &th, &tw);
    if (th <= 0 || tw <= 0)
        return 0;
    return (size_t)POINTS * chunk_rows(d, th, tw) * tw *
           ((size_t)d->in_channels + d->out_channels);
}

void yl_winograd_transform_weights(const yl_conv_desc *d, const float *weight, float *u)
{
    static const double G[TILE_IN][3] = {
        {1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    int M = d->out_channels, C = d->in_channels;
    for (int m = 0; m < M; m++)
        for (int c = 0; c < C; c++) {
            const float *g = weight + ((size_t)m * C + c) * 9;
            double t[TILE_IN][3]; /* G g */
            for (int i = 0; i < TILE_IN; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
            for (int i = 0; i < TILE_IN; i++)
                for (int j = 0; j < TILE_IN; j++) {
                    double v = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
                    u[((size_t)(i * TILE_IN + j) * M + m) * C + c] = (float)v;
                }
        }
}

/* The transforms run on LANES horizontally adjacent tiles at once, one tile per vector lane,
 * so V and M are read and written LANES contiguous floats at a time. */
enum { LANES = 8, SEG = LANES * TILE_OUT + 2 };
typedef float vf __attribute__((vector_size(4 * LANES)));
typedef float vfu __attribute__((vector_size(4 * LANES), aligned(4), may_alias));

/* B^T x for one 6-vector read with stride xs, written with stride ys. */
static inline void input_1d(const vf *x, int xs, vf *y, int ys)
{
    vf d0 = x[0], d1 = x[xs], d2 = x[2 * xs], d3 = x[3 * xs], d4 = x[4 * xs], d5 = x[5 * xs];
    y[0] = 4 * d0 - 5 * d2 + d4;
    y[ys] = -4 * (d1 + d2) + d3 + d4;
    y[2 * ys] = 4 * (d1 - d2) - d3 + d4;
    y[3 * ys] = 2 * (d3 - d1) - d2 + d4;
    y[4 * ys] = 2 * (d1 - d3) - d2 + d4;
    y[5 * ys] = 4 * d1 - 5 * d3 + d5;
}

/* A^T x for one 6-vector: 4 values. */
static inline void output_1d(const vf *x, int xs, vf *y, int ys)
{
    vf m0 = x[0], m1 = x[xs], m2 = x[2 * xs], m3 = x[3 * xs], m4 = x[4 * xs], m5 = x[5 * xs];
    vf a = m1 + m2, b = m1 - m2, c = m3 + m4, e = m3 - m4;
    y[0] = m0 + a + c;
    y[ys] = b + 2 * e;
    y[2 * ys] = a + 4 * c;
    y[3 * ys] = b + 8 * e + m5;
}

/* V[point][c][t] = B^T d B for the tiles of row ty of one channel (zero outside the input);
 * vc is V[0][c] at this row's first tile, points are point_stride apart. */
YL_CPU_CLONES
static void input_row(int pad, const float *plane, int in_h, int in_w, int ty, int tw,
                      size_t point_stride, float *vc)
{
    for (int tx0 = 0; tx0 < tw; tx0 += LANES) {
        int lanes = tw - tx0 < LANES ? tw - tx0 : LANES;
        /* The rows under these tiles, zero-padded: seg[i][j] is input (y0 + i, x0 + j). */
        float seg[TILE_IN][SEG];
        int y0 = ty * TILE_OUT - pad, x0 = tx0 * TILE_OUT - pad;
        int a = x0 < 0 ? -x0 : 0, b = in_w - x0 < SEG ? in_w - x0 : SEG;
        for (int i = 0; i < TILE_IN; i++) {
            int iy = y0 + i, inside = iy >= 0 && iy < in_h;
            /* a whole row as one fixed-size copy: the compiler makes it vector moves, where
             * a variable size became `rep movsq`, 40% of this function */
            if (inside && a == 0 && b == SEG) {
                memcpy(seg[i], plane + (size_t)iy * in_w + x0, sizeof seg[i]);
                continue;
            }
            memset(seg[i], 0, sizeof seg[i]);
            if (inside && b > a)
                memcpy(seg[i] + a, plane + (size_t)iy * in_w + x0 + a, sizeof(float) * (b - a));
        }
        vf d[TILE_IN][TILE_IN], tmp[TILE_IN][TILE_IN], v[TILE_IN][TILE_IN];
        for (int i = 0; i < TILE_IN; i++)
            for (int j = 0; j < TILE_IN; j++)
                for (int l = 0; l < LANES; l++)
                    d[i][j][l] = seg[i][l * TILE_OUT + j];
        for (int j = 0; j < TILE_IN; j++)
            input_1d(&d[0][j], TILE_IN, &tmp[0][j], TILE_IN);
        for (int i = 0; i < TILE_IN; i++)
            input_1d(tmp[i], 1, v[i], 1);
        float *dst = vc + tx0;
        for (int p = 0; p < POINTS; p++, dst += point_stride) {
            if (lanes == LANES)
                *(vfu *)dst = v[p / TILE_IN][p % TILE_IN];
            else
                memcpy(dst, &v[p / TILE_IN][p % TILE_IN], sizeof(float) * lanes);
        }
    }
}

/* Output row ty of channel m: A^T M A per tile, then bias, residual and activation. mm is
 * M[0][m] at this row's first tile, points point_stride apart. */
YL_CPU_CLONES
static void output_row(const float *mm, size_t point_stride, int ty, int tw, int oh, int ow,
                       float bias, const float *residual, yl_activation act, float *plane)
{
    for (int tx0 = 0; tx0 < tw; tx0 += LANES) {
        int lanes = tw - tx0 < LANES ? tw - tx0 : LANES;
        vf x[TILE_IN][TILE_IN], tmp[TILE_OUT][TILE_IN], y[TILE_OUT][TILE_OUT];
        const float *src = mm + tx0;
        for (int p = 0; p < POINTS; p++, src += point_stride) {
            vf *xp = &x[p / TILE_IN][p % TILE_IN];
            if (lanes == LANES) {
                *xp = *(const vfu *)src;
            } else {
                *xp = (vf){0};
                memcpy(xp, src, sizeof(float) * lanes);
            }
        }
        for (int j = 0; j < TILE_IN; j++)
            output_1d(&x[0][j], TILE_IN, &tmp[0][j], TILE_IN);
        for (int i = 0; i < TILE_OUT; i++)
            output_1d(tmp[i], 1, y[i], 1);
        int y0 = ty * TILE_OUT, x0 = tx0 * TILE_OUT;
        int rows = oh - y0 < TILE_OUT ? oh - y0 : TILE_OUT;
        int cols = ow - x0 < LANES * TILE_OUT ? ow - x0 : LANES * TILE_OUT;
        for (int i = 0; i < rows; i++) {
            float seg[LANES * TILE_OUT];
            for (int l = 0; l < LANES; l++)
                for (int j = 0; j < TILE_OUT; j++)
                    seg[l * TILE_OUT + j] = y[i][j][l];
            size_t at = (size_t)(y0 + i) * ow + x0;
            yl_epilogue_row(seg, bias, residual ? residual + at : NULL, act, (size_t)cols,
                            plane + at);
        }
    }
}

void yl_winograd_conv(yl_gemm_kind kind, const yl_conv_desc *d, const float *in, int in_h,
                      int in_w, const float *u, const float *bias, const float *residual,
                      yl_activation act, float *out, float *workspace, int threads)
{
    int oh = yl_conv_out_size(in_h, 3, 1, d->pad, 1), ow = yl_conv_out_size(in_w, 3, 1, d->pad, 1);
    int C = d->in_channels, M = d->out_channels, th, tw;
    if (oh <= 0 || ow <= 0 || M <= 0)
        return;
    tile_grid(d, in_h, in_w, &th, &tw);
    int rows = chunk_rows(d, th, tw);
    size_t plane = (size_t)oh * ow;
    /* the 36 products on the shallow AVX-512 pass where it takes them: sgemm's bits, and
     * the output written once rather than zeroed and added to */
    int shallow = kind != YL_GEMM_PORTABLE && yl_shallow_gemm_applies(C, NULL, out, YL_ACT_NONE);
    if (kind != YL_GEMM_PORTABLE)
        yl_gemm_single_threaded_blas();
#pragma omp parallel num_threads(threads)
    for (int ty0 = 0; ty0 < th; ty0 += rows) {
        int nr = th - ty0 < rows ? th - ty0 : rows;
        int T = nr * tw;
        float *v = workspace, *mt = workspace + (size_t)POINTS * C * T;
#pragma omp for schedule(static)
        for (int r = 0; r < C * nr; r++) {
            int c = r / nr, row = r % nr;
            input_row(d->pad, in + (size_t)c * in_h * in_w, in_h, in_w, ty0 + row, tw,
                      (size_t)C * T, v + (size_t)c * T + (size_t)row * tw);
        }
#pragma omp for schedule(dynamic, 1)
        for (int p = 0; p < POINTS; p++) {
            const float *up = u + (size_t)p * M * C, *vp = v + (size_t)p * C * T;
            float *mp = mt + (size_t)p * M * T;
            if (shallow && yl_shallow_tile_applies(M, T, C))
                yl_shallow_tile(C, T, up, vp, T, NULL, NULL, YL_ACT_NONE, mp, 0, M, 0, T);
            else
                yl_gemm(kind, M, T, C, up, C, vp, T, 0, mp, T);
        }
#pragma omp for schedule(static)
        for (int r = 0; r < M * nr; r++) {
            int m = r / nr, row = r % nr;
            output_row(mt + (size_t)m * T + (size_t)row * tw, (size_t)M * T, ty0 + row, tw, oh,
                       ow, bias ? bias[m] : 0.0f, residual ? residual + (size_t)m * plane : NULL,
                       act, out + (size_t)m * plane);
        }
    }
}
