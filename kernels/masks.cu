// Masks for a pass's images: assembly at prototype resolution (the detections' coefficient
// rows gathered by prior, then sigmoid(proto . coeff) with the box crop, as
// yl_masks_assemble_cpu) and the final bilinear resize + threshold to packed bits
// (as yl_mask_resize_threshold_cpu). One launch each for up to YL_MASK_PASS_IMAGES images:
// blockIdx.z picks the image (and, in the resize, a group of its masks), and blocks past an
// image's detections or size return at once.
//   assemble: proto (H, W, K) and coeff (P, K) an image, detections; out (masks, H, W) float
//   resize:   in (masks, in_h, in_w) float -> each image's bit masks, 1 bit a pixel, most
//             significant bit first
#include <limits.h>

#include "bilinear.cuh"
#include "crop_range.cuh"
#include "yl_kernels.h"

/* ---- assembly ------------------------------------------------------------------------------
 * A block computes ASM_MASKS masks for ASM_PIXELS consecutive pixels (one thread a pixel):
 * a small GEMM whose K dimension goes through shared memory ASM_K at a time, the prototype
 * tile stored pixel-major with one float of padding so a warp's reads hit distinct banks.
 * The coefficients are read straight from the rows of the detections' priors. */
#define ASM_PIXELS 128
#define ASM_MASKS 8
#define ASM_K 32

static __global__ void __launch_bounds__(ASM_PIXELS)
masks_assemble_kernel(const float *__restrict__ proto, int proto_h, int proto_w, int k,
                      const float *__restrict__ coeff, size_t coeff_image_floats,
                      const yl_raw_detection *__restrict__ detections, size_t detection_stride,
                      const yl_mask_pass pass, float *__restrict__ out)
{
    __shared__ float s_proto[ASM_PIXELS][ASM_K + 1];
    __shared__ float s_coeff[ASM_MASKS][ASM_K];
    __shared__ int s_crop[ASM_MASKS][4];     /* c0, c1, r0, r1 */
    __shared__ int s_prior[ASM_MASKS];
    const int t = threadIdx.x, plane = proto_h * proto_w, b = blockIdx.z;
    const int pixel0 = blockIdx.x * ASM_PIXELS, mask0 = blockIdx.y * ASM_MASKS;
    const int n = pass.image[b].count;
    if (mask0 >= n)    /* the whole block: this image has fewer masks than the pass's most */
        return;
    proto += (size_t)b * plane * k;
    coeff += b * coeff_image_floats;
    detections += b * detection_stride;
    out += (size_t)pass.image[b].first * plane;

    if (t < ASM_MASKS) {
        int m = mask0 + t, *c = s_crop[t];
        if (m < n) {
            const yl_raw_detection *d = &detections[m];
            yl_crop_range_device(d->box[0], d->box[2], proto_w, &c[0], &c[1]);
            yl_crop_range_device(d->box[1], d->box[3], proto_h, &c[2], &c[3]);
            s_prior[t] = d->prior;
        } else {
            c[0] = c[1] = c[2] = c[3] = 0;
            s_prior[t] = -1;
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
            bool in = s_prior[m] >= 0 && k0 + kk < k;
            s_coeff[m][kk] = in ? coeff[(size_t)s_prior[m] * k + k0 + kk] : 0.0f;
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

extern "C" long long yl_mask_pass_masks(const yl_mask_pass *pass, int *most)
{
    int largest = 0;
    long long masks = 0;
    if (most)
        *most = 0;
    if (!pass || pass->num_images < 0 || pass->num_images > YL_MASK_PASS_IMAGES)
        return -1;
    for (int b = 0; b < pass->num_images; b++) {
        const yl_mask_image *im = &pass->image[b];
        if (im->count < 0 || im->first != masks || im->height < 0 || im->width < 0 ||
            im->height > YOLACT_MAX_IMAGE_SIDE || im->width > YOLACT_MAX_IMAGE_SIDE)
            return -1;
        masks += im->count;
        if (masks > INT_MAX)
            return -1;
        largest = im->count > largest ? im->count : largest;
    }
    if (most)
        *most = largest;
    return masks;
}

extern "C" yolact_status yl_masks_assemble_cuda(const float *proto, int proto_h, int proto_w,
                                                int k, const float *coeff,
                                                size_t coeff_image_floats,
                                                const yl_raw_detection *detections,
                                                size_t detection_stride,
                                                const yl_mask_pass *pass, float *out,
                                                cudaStream_t stream)
{
    /* Pixel indices are ints and an image's mask groups are grid.y (<= 65535 blocks). */
    int most;
    const bool valid = yl_mask_pass_masks(pass, &most) >= 0;
    if (!valid || proto_h < 0 || proto_w < 0 || k < 0 ||
        (long long)proto_h * proto_w > (1LL << 30) || most > 65535LL * ASM_MASKS ||
        (most && proto_h && proto_w && (!proto || !coeff || !detections || !out)))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_masks_assemble_cuda: proto %dx%dx%d, %s pass (at most %d masks an "
                       "image), pointers %p %p %p %p", proto_h, proto_w, k,
                       valid ? "a" : "an invalid", most, (const void *)proto,
                       (const void *)coeff, (const void *)detections, (void *)out);
    if (most == 0 || proto_h == 0 || proto_w == 0)
        return YOLACT_OK;
    const int plane = proto_h * proto_w;
    dim3 grid((plane + ASM_PIXELS - 1) / ASM_PIXELS, (most + ASM_MASKS - 1) / ASM_MASKS,
              pass->num_images);
    YL_CHECK(cuda, YL_LAUNCH(masks_assemble_kernel, grid, ASM_PIXELS, 0, stream, proto, proto_h,
                            proto_w, k, coeff, coeff_image_floats, detections,
                            detection_stride, *pass, out));
    return YOLACT_OK;
}

/* ---- resize + threshold --------------------------------------------------------------------
 * A block makes RESIZE_ROWS rows of 32 bytes (256 pixels) of RESIZE_MASKS masks of one image:
 * it computes the axis entries of its rows and columns once, into shared memory, then a
 * thread makes one byte, its 8 pixels with the first in the most significant bit, of each
 * mask. Column entries are stored so that a warp's reads of its bytes' j-th pixels hit
 * distinct banks. */
#define RESIZE_ROWS 8
#define RESIZE_MASKS 8
#define RESIZE_COLUMNS (32 * 8)

static __global__ void __launch_bounds__(32 * RESIZE_ROWS)
mask_resize_threshold_kernel(const float *__restrict__ in, int in_h, int in_w,
                             const yl_mask_pass pass, int groups, uint8_t *__restrict__ out)
{
    __shared__ int s_x0[RESIZE_COLUMNS], s_x1[RESIZE_COLUMNS];
    __shared__ float s_xw0[RESIZE_COLUMNS], s_xw1[RESIZE_COLUMNS];
    __shared__ yl_axis_entry s_y[RESIZE_ROWS];
    /* Copied, not pointed at: a parameter's address would cost a copy to local memory. */
    const yl_mask_image im = pass.image[blockIdx.z / groups];
    const int mask0 = (int)(blockIdx.z % groups) * RESIZE_MASKS;
    const int row0 = blockIdx.y * RESIZE_ROWS, byte0 = blockIdx.x * 32;
    const int row_bytes = (im.width + 7) / 8;
    if (mask0 >= im.count || row0 >= im.height || byte0 >= row_bytes)
        return;    /* the whole block: past this image's masks or size */

    const int t = threadIdx.y * 32 + threadIdx.x, column = 8 * byte0 + t;
    if (column < im.width) {
        const yl_axis_entry e = yl_axis_entry_at(in_w, im.width, column);
        const int at = (t % 8) * 32 + t / 8;    /* pixel t % 8 of the block's byte t / 8 */
        s_x0[at] = e.i0;
        s_x1[at] = e.i1;
        s_xw0[at] = e.w0;
        s_xw1[at] = e.w1;
    }
    if (t < RESIZE_ROWS && row0 + t < im.height)
        s_y[t] = yl_axis_entry_at(in_h, im.height, row0 + t);
    __syncthreads();

    const int y = row0 + threadIdx.y, byte = byte0 + threadIdx.x;
    if (y >= im.height || byte >= row_bytes)
        return;
    const yl_axis_entry ey = s_y[threadIdx.y];
    const int pixels = im.width - 8 * byte < 8 ? im.width - 8 * byte : 8;
    const size_t mask_bytes = (size_t)row_bytes * im.height;
    uint8_t *dst = out + im.out_offset + (size_t)y * row_bytes + byte;
    const int end = im.count - mask0 < RESIZE_MASKS ? im.count : mask0 + RESIZE_MASKS;
    for (int m = mask0; m < end; m++) {
        unsigned bits = 0;
        if (in_h > 0 && in_w > 0) {
            const float *plane = in + (size_t)(im.first + m) * in_h * in_w;
            const float *s0 = plane + (size_t)ey.i0 * in_w, *s1 = plane + (size_t)ey.i1 * in_w;
            for (int j = 0; j < pixels; j++) {
                const int at = j * 32 + threadIdx.x, x0 = s_x0[at], x1 = s_x1[at];
                float v = yl_bilinear(s0[x0], s0[x1], s1[x0], s1[x1], s_xw0[at], s_xw1[at],
                                      ey.w0, ey.w1);
                bits |= (unsigned)(v > 0.5f) << (7 - j);
            }
        }
        dst[(size_t)m * mask_bytes] = (uint8_t)bits;
    }
}

extern "C" yolact_status yl_mask_resize_threshold_cuda(const float *in, int in_h, int in_w,
                                                       const yl_mask_pass *pass, uint8_t *out,
                                                       cudaStream_t stream)
{
    int most, height = 0, width = 0;
    const bool valid = yl_mask_pass_masks(pass, &most) >= 0;
    for (int b = 0; valid && b < pass->num_images; b++)
        if (pass->image[b].count) {
            height = pass->image[b].height > height ? pass->image[b].height : height;
            width = pass->image[b].width > width ? pass->image[b].width : width;
        }
    /* grid.z is an image and a group of its masks, for every image: at most 65535. */
    const int groups = (most + RESIZE_MASKS - 1) / RESIZE_MASKS;
    if (!valid || in_h < 0 || in_w < 0 ||
        (valid && (long long)groups * pass->num_images > 65535) ||
        (most && height && width && (!out || (in_h > 0 && in_w > 0 && !in))))
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_mask_resize_threshold_cuda: %s pass (at most %d masks an image) "
                       "from %dx%d, pointers %p %p", valid ? "a" : "an invalid", most, in_h,
                       in_w, (const void *)in, (void *)out);
    if (most == 0 || height == 0 || width == 0)
        return YOLACT_OK;
    dim3 block(32, RESIZE_ROWS);
    dim3 grid(((width + 7) / 8 + 31) / 32, (height + RESIZE_ROWS - 1) / RESIZE_ROWS,
              groups * pass->num_images);
    YL_CHECK(cuda, YL_LAUNCH(mask_resize_threshold_kernel, grid, block, 0, stream, in, in_h,
                            in_w, *pass, groups, out));
    return YOLACT_OK;
}
