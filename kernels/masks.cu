// Masks: assembly at prototype resolution (sigmoid(proto . coeff) with the box crop, as
// yl_masks_assemble_cpu) and the final bilinear resize + threshold to packed bits (as
// yl_mask_resize_threshold_cpu).
//   assemble: proto (H, W, K) float, coeffs (N, K), boxes (N, 4) relative x1y1x2y2,
//             out (N, H, W) float
//   resize:   in (N, in_h, in_w) float -> out N x (out_h, out_stride) bytes, 1 bit a pixel,
//             most significant bit first
#include "bilinear.cuh"
#include "yl_kernels.h"

/* ---- assembly ------------------------------------------------------------------------------
 * A block computes ASM_MASKS masks for ASM_PIXELS consecutive pixels (one thread a pixel):
 * a small GEMM whose K dimension goes through shared memory ASM_K at a time, the prototype
 * tile stored pixel-major with one float of padding so a warp's reads hit distinct banks. */
#define ASM_PIXELS 128
#define ASM_MASKS 8
#define ASM_K 32

/* torch.min / torch.max of two floats: NaN if either is. */
static __device__ __forceinline__ float min_nan(float a, float b)
{
    return a != a ? a : b != b ? b : a < b ? a : b;
}

static __device__ __forceinline__ float max_nan(float a, float b)
{
    return a != a ? a : b != b ? b : a > b ? a : b;
}

/* The pixels [begin, end) along one axis that box_utils.crop (padding 1) keeps, as the CPU's
 * crop_range: integer c with lo <= c < hi after sanitize_coordinates in float32. */
static __device__ void crop_range(float a, float b, int size, int *begin, int *end)
{
    float s = (float)size;
    float lo = min_nan(a * s, b * s) - 1.0f, hi = max_nan(a * s, b * s) + 1.0f;
    lo = lo < 0.0f ? 0.0f : lo;
    hi = hi > s ? s : hi;
    if (!(lo < hi)) {
        *begin = *end = 0;
        return;
    }
    *begin = lo > s ? size : (int)ceilf(lo);
    *end = hi <= 0.0f ? 0 : (int)ceilf(hi);
    if (*end < *begin)
        *end = *begin;
}

static __global__ void __launch_bounds__(ASM_PIXELS)
masks_assemble_kernel(const float *__restrict__ proto, int proto_h, int proto_w, int k,
                      const float *__restrict__ coeffs, const float *__restrict__ boxes, int n,
                      float *__restrict__ out)
{
    __shared__ float s_proto[ASM_PIXELS][ASM_K + 1];
    __shared__ float s_coeff[ASM_MASKS][ASM_K];
    __shared__ int s_crop[ASM_MASKS][4];     /* c0, c1, r0, r1 */
    const int t = threadIdx.x, plane = proto_h * proto_w;
    const int pixel0 = blockIdx.x * ASM_PIXELS, mask0 = blockIdx.y * ASM_MASKS;

    if (t < ASM_MASKS) {
        int m = mask0 + t, *c = s_crop[t];
        if (m < n) {
            const float *b = boxes + 4 * (size_t)m;
            crop_range(b[0], b[2], proto_w, &c[0], &c[1]);
            crop_range(b[1], b[3], proto_h, &c[2], &c[3]);
        } else {
            c[0] = c[1] = c[2] = c[3] = 0;
        }
    }
    __syncthreads();    /* s_crop is read below even when k == 0 leaves the loop empty */
    float acc[ASM_MASKS];
    for (int i = 0; i < ASM_MASKS; i++)
        acc[i] = 0.0f;
    for (int k0 = 0; k0 < k; k0 += ASM_K) {
        /* Consecutive threads read consecutive floats: rows of proto are K floats long. */
        for (int i = t; i < ASM_PIXELS * ASM_K; i += ASM_PIXELS) {
            int p = i / ASM_K, kk = i % ASM_K;
            bool in = pixel0 + p < plane && k0 + kk < k;
            s_proto[p][kk] = in ? proto[(size_t)(pixel0 + p) * k + k0 + kk] : 0.0f;
        }
        for (int i = t; i < ASM_MASKS * ASM_K; i += ASM_PIXELS) {
            int m = i / ASM_K, kk = i % ASM_K;
            bool in = mask0 + m < n && k0 + kk < k;
            s_coeff[m][kk] = in ? coeffs[(size_t)(mask0 + m) * k + k0 + kk] : 0.0f;
        }
        __syncthreads();
        const int kn = k - k0 < ASM_K ? k - k0 : ASM_K;
        for (int kk = 0; kk < kn; kk++) {
            float p = s_proto[t][kk];
            for (int m = 0; m < ASM_MASKS; m++)
                acc[m] += p * s_coeff[m][kk];
        }
        __syncthreads();    /* the tiles are overwritten by the next chunk */
    }
    const int pixel = pixel0 + t;
    if (pixel >= plane)
        return;
    const int r = pixel / proto_w, c = pixel % proto_w;
    for (int m = 0; m < ASM_MASKS && mask0 + m < n; m++) {
        const int *cr = s_crop[m];
        bool inside = c >= cr[0] && c < cr[1] && r >= cr[2] && r < cr[3];
        out[(size_t)(mask0 + m) * plane + pixel] = inside ? 1.0f / (1.0f + expf(-acc[m])) : 0.0f;
    }
}

static cudaError_t masks_assemble_launch(const float *proto, int proto_h, int proto_w, int k,
                                         const float *coeffs, const float *boxes, int n,
                                         float *out, cudaStream_t stream)
{
    int plane = proto_h * proto_w;
    dim3 grid((plane + ASM_PIXELS - 1) / ASM_PIXELS, (n + ASM_MASKS - 1) / ASM_MASKS);
    return YL_LAUNCH(masks_assemble_kernel, grid, ASM_PIXELS, 0, stream, proto, proto_h,
                     proto_w, k, coeffs, boxes, n, out);
}

extern "C" yolact_status yl_masks_assemble_cuda(const float *proto, int proto_h, int proto_w,
                                                int k, const float *coeffs,
                                                const float *boxes, int n, float *out,
                                                cudaStream_t stream)
{
    /* Pixel indices are ints and the mask count is grid.y (<= 65535 blocks). */
    if (proto_h < 0 || proto_w < 0 || k < 0 || n < 0 ||
        (long long)proto_h * proto_w > (1LL << 30) || n > 65535LL * ASM_MASKS ||
        (n && proto_h && proto_w && (!proto || !coeffs || !boxes || !out)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_masks_assemble_cuda: proto %dx%dx%d, %d masks, pointers %p %p %p %p",
                       proto_h, proto_w, k, n, (const void *)proto, (const void *)coeffs,
                       (const void *)boxes, (void *)out);
    if (n == 0 || proto_h == 0 || proto_w == 0)
        return YOLACT_OK;
    YL_CUDA_CHECK(masks_assemble_launch(proto, proto_h, proto_w, k, coeffs, boxes, n, out,
                                        stream));
    return YOLACT_OK;
}

/* ---- resize + threshold --------------------------------------------------------------------
 * A thread makes one byte of a row: its 8 pixels, the first in the most significant bit.
 * Neighbouring threads store neighbouring bytes; no warp collective, so the emulation runs
 * the blocks as plain loops. */
#define RESIZE_ROWS 8

static __global__ void __launch_bounds__(32 * RESIZE_ROWS)
mask_resize_threshold_kernel(const float *__restrict__ in, int in_h, int in_w,
                             uint8_t *__restrict__ out, int out_h, int out_w,
                             size_t out_stride, const void *y_table, const void *x_table)
{
    const int y = blockIdx.y * RESIZE_ROWS + threadIdx.y, byte = blockIdx.x * 32 + threadIdx.x;
    const int m = blockIdx.z;
    if (y >= out_h || byte >= (out_w + 7) / 8)
        return;
    unsigned bits = 0;
    if (in_h > 0 && in_w > 0) {
        yl_axis_table ty = yl_axis_table_at(y_table, out_h), tx = yl_axis_table_at(x_table, out_w);
        const float *plane = in + (size_t)m * in_h * in_w;
        const float *s0 = plane + (size_t)ty.i0[y] * in_w, *s1 = plane + (size_t)ty.i1[y] * in_w;
        const int end = 8 * byte + 8 < out_w ? 8 * byte + 8 : out_w;
        for (int x = 8 * byte; x < end; x++) {
            int x0 = tx.i0[x], x1 = tx.i1[x];
            float v = yl_bilinear(s0[x0], s0[x1], s1[x0], s1[x1], tx.w0[x], tx.w1[x], ty.w0[y],
                                  ty.w1[y]);
            bits |= (unsigned)(v > 0.5f) << (7 - (x - 8 * byte));
        }
    }
    out[((size_t)m * out_h + y) * out_stride + byte] = (uint8_t)bits;
}

static cudaError_t mask_resize_threshold_launch(const float *in, int n, int in_h, int in_w,
                                                uint8_t *out, int out_h, int out_w,
                                                size_t out_stride, const void *y_table,
                                                const void *x_table, cudaStream_t stream)
{
    const int bytes = (out_w + 7) / 8;
    dim3 block(32, RESIZE_ROWS);
    dim3 grid((bytes + 31) / 32, (out_h + RESIZE_ROWS - 1) / RESIZE_ROWS, n);
    return YL_LAUNCH(mask_resize_threshold_kernel, grid, block, 0, stream, in, in_h, in_w, out,
                     out_h, out_w, out_stride, y_table, x_table);
}

extern "C" size_t yl_mask_resize_cuda_workspace_bytes(int out_h, int out_w)
{
    return yl_bilinear_table_bytes(out_h) + yl_bilinear_table_bytes(out_w);
}

extern "C" yolact_status yl_mask_resize_tables_cuda(int in_h, int in_w, int out_h, int out_w,
                                                    void *tables, cudaStream_t stream)
{
    if (in_h < 0 || in_w < 0 || out_h < 0 || out_w < 0 || out_h > YOLACT_MAX_IMAGE_SIDE ||
        out_w > YOLACT_MAX_IMAGE_SIDE || (in_h && in_w && out_h && out_w && !tables))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_mask_resize_tables_cuda: %dx%d -> %dx%d, tables %p", in_h, in_w,
                       out_h, out_w, tables);
    if (in_h == 0 || in_w == 0 || out_h == 0 || out_w == 0) /* nothing is sampled */
        return YOLACT_OK;
    char *y_table = static_cast<char *>(tables);
    YL_TRY(yl_bilinear_axis_cuda(in_h, out_h, y_table, stream));
    return yl_bilinear_axis_cuda(in_w, out_w, y_table + yl_bilinear_table_bytes(out_h), stream);
}

extern "C" yolact_status yl_mask_resize_threshold_cuda(const float *in, int n, int in_h,
                                                       int in_w, uint8_t *out, int out_h,
                                                       int out_w, size_t out_stride,
                                                       const void *tables, cudaStream_t stream)
{
    if (n < 0 || n > 65535 || in_h < 0 || in_w < 0 || out_h < 0 || out_w < 0 ||
        out_h > YOLACT_MAX_IMAGE_SIDE || out_w > YOLACT_MAX_IMAGE_SIDE ||
        out_stride < ((size_t)out_w + 7) / 8 ||
        (n && out_h && out_w && (!out || (in_h > 0 && in_w > 0 && (!in || !tables)))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_mask_resize_threshold_cuda: %d masks %dx%d -> %dx%d, stride %zu",
                       n, in_h, in_w, out_h, out_w, out_stride);
    if (n == 0 || out_h == 0 || out_w == 0)
        return YOLACT_OK;
    const char *y_table = static_cast<const char *>(tables);
    const char *x_table = y_table ? y_table + yl_bilinear_table_bytes(out_h) : NULL;
    YL_CUDA_CHECK(mask_resize_threshold_launch(in, n, in_h, in_w, out, out_h, out_w, out_stride,
                                               y_table, x_table, stream));
    return YOLACT_OK;
}
