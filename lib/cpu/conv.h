/* The convolution's internals: yl_conv2d_cpu with an explicit GEMM choice, so tests and
 * benchmarks can run the portable kernel in a build that has OpenBLAS, and the Winograd path
 * (winograd.c) that yl_conv2d_prepared_cpu takes for 3x3 stride-1 convolutions. */
#ifndef YL_CPU_CONV_H
#define YL_CPU_CONV_H

#include "cpu/dense_ops.h"
#include "cpu/gemm.h"

/* yl_conv2d_cpu on one image with an explicit GEMM choice (YL_GEMM_AUTO: its own). */
void yl_conv2d_cpu_gemm(yl_gemm_kind kind, const yl_conv_desc *d, const float *in, int in_h,
                        int in_w, const float *weight, const float *bias, const float *residual,
                        yl_activation act, float *out, float *workspace, int num_threads);

/* yl_conv2d_prepared_cpu with an explicit GEMM choice. */
void yl_conv2d_prepared_cpu_gemm(yl_gemm_kind kind, const yl_conv_desc *d, const float *in,
                                 int in_h, int in_w, const float *weight, const float *prepared,
                                 const float *bias, const float *residual, yl_activation act,
                                 float *out, float *workspace, int num_threads);

/* out (m, n) = act(weight (m, k) x col (k, n) + bias + residual), split into tiles over
 * threads with the GEMM and epilogue of every im2col convolution: for ops that build their
 * own column matrix (the deformable convolution). residual may alias out. */
void yl_conv_gemm_columns(yl_gemm_kind kind, int m, int n, int k, const float *weight,
                          const float *col, const float *bias, const float *residual,
                          yl_activation act, float *out, int num_threads);

/* 1x1, stride 1, no padding: the input (in_channels, h * w) already is the im2col matrix. */
int yl_conv_is_pointwise(const yl_conv_desc *d);

/* Convolutions whose GEMM has a depth (in_channels x kernel area) up to this, with OpenBLAS,
 * no activation or ReLU and a residual other than the output, run their tiles past
 * OpenBLAS's small-matrix size as one AVX-512 pass on processors that have it
 * (shallow_gemm.c), bit for bit what sgemm and the epilogue give: yl_shallow_gemm_applies
 * says whether a depth-k convolution's tiles may, yl_shallow_tile_applies whether an
 * mc x nc tile does, and yl_shallow_tile computes rows [m0, m0 + mc) x columns
 * [n0, n0 + nc) of the (m, n) output on the calling thread from b, the tile's k x nc
 * columns (row stride ldb), as gemm_tile would. */
#define YL_SHALLOW_MAX_DEPTH 256
int yl_shallow_gemm_applies(int k, const float *residual, const float *out,
                            yl_activation act);
int yl_shallow_tile_applies(int mc, int nc, int k);
void yl_shallow_tile(int k, int n, const float *weight, const float *b, int ldb,
                     const float *bias, const float *residual, yl_activation act, float *out,
                     int m0, int mc, int n0, int nc);

/* The same tile of a convolution's output without its im2col columns: yl_shallow_conv_tile
 * gathers them from the input (in_h x in_w, ow output columns) as it packs them, the same
 * floats, for convolutions where yl_shallow_gather_applies (stride 1 or 2, kernel sides up
 * to 8, at least 8 output columns; 0 in builds without the pass) and whose tiles the pass
 * takes (yl_shallow_gemm_applies, which also checks the processor, and
 * yl_shallow_tile_applies). */
int yl_shallow_gather_applies(const yl_conv_desc *d, int ow);
void yl_shallow_conv_tile(const yl_conv_desc *d, const float *in, int in_h, int in_w, int ow,
                          int n, const float *weight, const float *bias, const float *residual,
                          yl_activation act, float *out, int m0, int mc, int n0, int nc);

/* Columns [n0, n0 + nc) of the im2col matrix (rows (c, kh, kw), one column per output
 * pixel, ow of them a row) for channels [c0, c1), stored with row length nc at
 * col + row * nc: the forward's GEMM operand and the weight gradient's (grad_conv.c). */
void yl_im2col(const yl_conv_desc *d, const float *in, int in_h, int in_w, int ow, int c0,
               int c1, int n0, int nc, float *col);

/* The check a CPU reference of a batched kernel makes of the arguments it has no use for
 * or cannot serve: YOLACT_ERR_UNSUPPORTED (with a message naming op) for a precision other
 * than FP32, YOLACT_ERR_INVALID_ARGUMENT for a batch below 1; YOLACT_OK otherwise. */
yolact_status yl_cpu_reference_call(const char *op, int batch, yolact_precision precision);

static inline float yl_activate(float v, yl_activation act)
{
    switch (act) {
    case YL_ACT_RELU:
        return v < 0.0f ? 0.0f : v; /* keeps NaN, as torch.relu does */
    case YL_ACT_LEAKY_RELU_0_1:
        return v > 0.0f ? v : v * 0.1f;
    case YL_ACT_NONE:
        break;
    }
    return v;
}

/* A convolution's epilogue over one row of n outputs: out[j] = act(in[j] + bias), with
 * residual (non-NULL) act(in[j] + bias + residual[j]), the same operations in the same
 * order as yl_activate on each; out may alias in or residual. A loop per case, so each
 * vectorises. */
void yl_epilogue_row(const float *in, float bias, const float *residual, yl_activation act,
                     size_t n, float *out);

/* Winograd F(4x4, 3x3), for convolutions where yl_winograd_applies (3x3, stride 1,
 * dilation 1, any padding). The weights u are yl_winograd_transform_weights' output:
 * (36, out_channels, in_channels). residual may alias out. */
int yl_winograd_applies(const yl_conv_desc *d);
size_t yl_winograd_weight_floats(const yl_conv_desc *d);
size_t yl_winograd_workspace_floats(const yl_conv_desc *d, int in_h, int in_w);
void yl_winograd_transform_weights(const yl_conv_desc *d, const float *weight, float *u);
void yl_winograd_conv(yl_gemm_kind kind, const yl_conv_desc *d, const float *in, int in_h,
                      int in_w, const float *u, const float *bias, const float *residual,
                      yl_activation act, float *out, float *workspace, int threads);

#endif
