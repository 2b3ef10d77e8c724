/* (batch, C, plane) floats -> (batch, plane, C) as float or half: the prototypes' permute
 * (head.cu) and the half copy the (H, W, C) convolution reads (conv_nhwc.cu). A block of
 * (32, 8) threads moves a 32 channels x 32 pixels tile through shared memory, so a warp
 * reads 32 consecutive pixels and writes 32 consecutive channels; one float of padding
 * keeps the tile's columns off one bank. */
#ifndef YL_TRANSPOSE_CUH
#define YL_TRANSPOSE_CUH

#include "yl_device.h"

#define TRANSPOSE_TILE 32
#define TRANSPOSE_ROWS 8

static __device__ __forceinline__ void store_as(float *p, float v) { *p = v; }
static __device__ __forceinline__ void store_as(yl_half *p, float v) { *p = yl_float2half(v); }

template <class T>
static __global__ void __launch_bounds__(TRANSPOSE_TILE * TRANSPOSE_ROWS)
chw_to_hwc_kernel(const float *__restrict__ in, int channels, int plane, T *__restrict__ out)
{
    __shared__ float tile[TRANSPOSE_TILE][TRANSPOSE_TILE + 1];
    const size_t image = (size_t)blockIdx.z * channels * plane;
    in += image;
    out += image;
    const int p0 = blockIdx.x * TRANSPOSE_TILE, c0 = blockIdx.y * TRANSPOSE_TILE;
    const int tx = threadIdx.x, ty = threadIdx.y;
    for (int r = ty; r < TRANSPOSE_TILE; r += TRANSPOSE_ROWS)
        if (c0 + r < channels && p0 + tx < plane)
            tile[r][tx] = in[(size_t)(c0 + r) * plane + p0 + tx];
    __syncthreads();
    for (int r = ty; r < TRANSPOSE_TILE; r += TRANSPOSE_ROWS)
        if (p0 + r < plane && c0 + tx < channels)
            store_as(&out[(size_t)(p0 + r) * channels + c0 + tx], tile[tx][r]);
}

/* Launches it on batch images; plane + TRANSPOSE_TILE and the channel tiles must fit the
 * grid (the callers check). */
template <class T>
static cudaError_t chw_to_hwc(const float *in, int channels, int plane, int batch, T *out,
                              cudaStream_t stream)
{
    dim3 grid((plane + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE,
              (channels + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, batch);
    return YL_LAUNCH(chw_to_hwc_kernel<T>, grid, dim3(TRANSPOSE_TILE, TRANSPOSE_ROWS), 0, stream,
                     in, channels, plane, out);
}

#endif
