// DCNv2, YOLACT++'s modulated deformable convolution (yl_dcn2d_cpu on the device): one kernel
// samples the input into the modulated column matrix, then our implicit-GEMM convolution
// (conv.cu) multiplies the weights by it as a 1x1 convolution, bias and activation in its
// epilogue. With T = kernel_h * kernel_w taps, tap t = ky * kernel_w + kx, n = oh * ow:
//   in:          (C, in_h, in_w) float
//   offset_mask: (3T, oh, ow) float: dy and dx of tap t at channels 2t and 2t + 1 (input
//                pixels), its modulation logit at 2T + t
//   col:         (C T, n) float in the workspace, row c T + t (im2col's order, so the OIHW
//                weights (O, C, kh, kw) are the 1x1 convolution's (O, C T, 1, 1) as they are)
//   out:         (O, oh, ow) float
// Where tap t of pixel p samples, and how strongly, depends on (t, p) only: a thread works
// out the four neighbours, their bilinear weights and the sigmoid once and applies them to
// COL_CHANNELS channels; consecutive threads take consecutive pixels (coalesced stores).
// A batch of images is the grid's z: image z's in, offset_mask, col and out follow z - 1's.
#include "yl_device.h"
#include "yl_kernels.h"

#define COL_THREADS 256
#define COL_CHANNELS 16

struct dcn_geom {
    int channels, in_h, in_w;
    int kw, taps, stride, pad, dil;
    int out_w, n;   /* output pixels */
};

/* yl_dcn2d_cpu's column matrix, bit for bit where expf is the C library's (the emulation):
 * the same float expressions in the same order, no FMA (torchvision's bilinear_interpolate:
 * nothing at or beyond one pixel outside; a neighbour outside counts 0). */
static __global__ void __launch_bounds__(COL_THREADS)
dcn_columns_kernel(dcn_geom g, const float *__restrict__ in,
                   const float *__restrict__ offset_mask, float *__restrict__ col)
{
    const long long tp = (long long)blockIdx.x * COL_THREADS + threadIdx.x;
    if (tp >= (long long)g.taps * g.n)
        return;
    in += (size_t)blockIdx.z * g.channels * g.in_h * g.in_w;
    offset_mask += (size_t)blockIdx.z * 3 * g.taps * g.n;
    col += (size_t)blockIdx.z * g.channels * g.taps * g.n;
    const int t = (int)(tp / g.n), p = (int)(tp - (long long)t * g.n);
    const int ky = t / g.kw, kx = t - ky * g.kw, oy = p / g.out_w, ox = p - oy * g.out_w;
    const float y = (float)(oy * g.stride - g.pad + ky * g.dil) +
                    offset_mask[(size_t)(2 * t) * g.n + p];
    const float x = (float)(ox * g.stride - g.pad + kx * g.dil) +
                    offset_mask[(size_t)(2 * t + 1) * g.n + p];
    const float mask = 1.0f / (1.0f + expf(-offset_mask[(size_t)(2 * g.taps + t) * g.n + p]));
    int index[4] = {0, 0, 0, 0};
    float weight[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (y > -1.0f && y < (float)g.in_h && x > -1.0f && x < (float)g.in_w) {
        const int y0 = (int)floorf(y), x0 = (int)floorf(x);
        const float ly = y - (float)y0, lx = x - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
        const float ws[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
        YL_UNROLL
        for (int i = 0; i < 4; i++) {
            const int yy = y0 + i / 2, xx = x0 + i % 2;
            if (yy >= 0 && yy < g.in_h && xx >= 0 && xx < g.in_w) {
                index[i] = yy * g.in_w + xx;
                weight[i] = ws[i];
            }
        }
    }
    const int c0 = (int)blockIdx.y * COL_CHANNELS;
    const int c_end = c0 + COL_CHANNELS < g.channels ? c0 + COL_CHANNELS : g.channels;
    for (int c = c0; c < c_end; c++) {
        const float *plane = in + (size_t)c * g.in_h * g.in_w;
        const float v = weight[0] * plane[index[0]] + weight[1] * plane[index[1]] +
                        weight[2] * plane[index[2]] + weight[3] * plane[index[3]];
        col[((size_t)c * g.taps + t) * g.n + p] = mask * v;
    }
}

/* ---- host side ----------------------------------------------------------------------------- */
static bool dcn_desc_ok(const yl_conv_desc *d)
{
    return d && d->in_channels > 0 && d->out_channels > 0 && d->kernel_h > 0 &&
           d->kernel_w > 0 && d->stride > 0 && d->pad >= 0 && d->dilation > 0 &&
           (long long)d->in_channels * d->kernel_h * d->kernel_w <= (1LL << 28);
}

/* The GEMM as a convolution: (O, C T, 1, 1) over the (C T, oh, ow) column matrix. */
static yl_conv_desc gemm_desc(const yl_conv_desc *d)
{
    return yl_conv_desc{d->in_channels * d->kernel_h * d->kernel_w, d->out_channels, 1, 1, 1,
                        0, 1};
}

/* PyTorch's output side; 0 when the kernel does not fit. */
static long long out_side(int in, int kernel, int stride, int pad, int dil)
{
    long long span = (long long)in + 2LL * pad - (long long)dil * (kernel - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

/* The output's sides, or false when they are out of the kernels' int range. */
static bool out_sides(const yl_conv_desc *d, int in_h, int in_w, int *oh, int *ow)
{
    long long h = out_side(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    long long w = out_side(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    /* Plane indices are ints (as the CPU's); rows and padding stay far from overflow. */
    if (in_h <= 0 || in_w <= 0 || in_h > (1 << 24) || in_w > (1 << 24) ||
        (long long)in_h * in_w > 0x7fffffffLL || d->pad > (1 << 24) ||
        (long long)d->dilation * d->kernel_h > (1 << 24) ||
        (long long)d->dilation * d->kernel_w > (1 << 24) || h * w > (1LL << 30))
        return false;
    *oh = (int)h;
    *ow = (int)w;
    return true;
}

extern "C" size_t yl_dcn2d_cuda_workspace_bytes(const yl_conv_desc *d, int in_h, int in_w,
                                                int batch)
{
    int oh, ow;
    if (!dcn_desc_ok(d) || !out_sides(d, in_h, in_w, &oh, &ow) || batch < 1 || batch > 65535)
        return 0;
    return (size_t)batch * d->in_channels * d->kernel_h * d->kernel_w * oh * ow *
           sizeof(float);
}

extern "C" size_t yl_dcn2d_cuda_packed_bytes(const yl_conv_desc *d, yolact_precision precision)
{
    if (!dcn_desc_ok(d))
        return 0;
    const yl_conv_desc g = gemm_desc(d);
    return yl_conv2d_cuda_packed_bytes(&g, precision);
}

extern "C" void yl_dcn2d_cuda_pack(const yl_conv_desc *d, const float *weight_oihw,
                                   yolact_precision precision, void *packed_host)
{
    if (!dcn_desc_ok(d))
        return;
    const yl_conv_desc g = gemm_desc(d);
    yl_conv2d_cuda_pack(&g, weight_oihw, precision, packed_host);
}

extern "C" yolact_status yl_dcn2d_cuda(const yl_conv_desc *d, const float *in, int batch,
                                       int in_h, int in_w, const float *offset_mask,
                                       const void *packed_weight, yolact_precision precision,
                                       const float *bias, yl_activation act, float *out,
                                       void *workspace, cudaStream_t stream)
{
    int oh = 0, ow = 0;
    if (!dcn_desc_ok(d) || !out_sides(d, in_h, in_w, &oh, &ow) || batch < 1 ||
        batch > 65535 || !in || !offset_mask ||
        !out || !workspace || (const float *)out == in || (const float *)out == offset_mask ||
        (const void *)out == workspace ||
        (d->in_channels + COL_CHANNELS - 1) / COL_CHANNELS > 65535)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_dcn2d_cuda: dcn %dx%dx%dx%d stride %d pad %d dilation %d, input "
                       "%dx%d, batch %d (1..65535), pointers in %p offsets %p out %p "
                       "workspace %p", d ? d->out_channels : 0, d ? d->in_channels : 0,
                       d ? d->kernel_h : 0, d ? d->kernel_w : 0, d ? d->stride : 0,
                       d ? d->pad : 0, d ? d->dilation : 0, in_h, in_w, batch, (const void *)in,
                       (const void *)offset_mask, (void *)out, workspace);
    const int n = oh * ow;
    if (n == 0)
        return YOLACT_OK;
    dcn_geom g;
    g.channels = d->in_channels;
    g.in_h = in_h;
    g.in_w = in_w;
    g.kw = d->kernel_w;
    g.taps = d->kernel_h * d->kernel_w;
    g.stride = d->stride;
    g.pad = d->pad;
    g.dil = d->dilation;
    g.out_w = ow;
    g.n = n;
    const long long blocks = ((long long)g.taps * n + COL_THREADS - 1) / COL_THREADS;
    if (blocks > 0x7fffffffLL)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_dcn2d_cuda: %d taps x %d pixels is "
                       "too many", g.taps, n);
    float *col = static_cast<float *>(workspace);
    dim3 grid((unsigned)blocks, (unsigned)((g.channels + COL_CHANNELS - 1) / COL_CHANNELS),
              (unsigned)batch);
    YL_CHECK(cuda, YL_LAUNCH(dcn_columns_kernel, grid, COL_THREADS, 0, stream, g, in,
                            offset_mask, col));
    const yl_conv_desc gd = gemm_desc(d);   /* a 1x1: no workspace (yl_conv_reads_nhwc) */
    return yl_conv2d_cuda(&gd, col, batch, oh, ow, packed_weight, precision, bias, NULL, act,
                          out, NULL, stream);
}
