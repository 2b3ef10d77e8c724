/* Conversions of camera and video frames to packed RGB8 (see frames.h). Integer BT.601
 * limited-range arithmetic with 16 fractional bits, the coefficients OpenCV and libyuv use. */
#include "frames.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef YL_HAVE_JPEG
#include <jpeglib.h>
#endif

int wc_frame_reserve(wc_frame *frame, int width, int height)
{
    size_t need = (size_t)width * 3 * (size_t)height;
    if (need > frame->capacity) {
        uint8_t *grown = realloc(frame->rgb, need);
        if (!grown)
            return -1;
        frame->rgb = grown;
        frame->capacity = need;
    }
    frame->width = width;
    frame->height = height;
    frame->stride = (size_t)width * 3;
    return 0;
}

void wc_frame_release(wc_frame *frame)
{
    free(frame->rgb);
    memset(frame, 0, sizeof *frame);
}

int wc_frame_copy(wc_frame *dst, const wc_frame *src)
{
    if (wc_frame_reserve(dst, src->width, src->height))
        return -1;
    memcpy(dst->rgb, src->rgb, src->stride * (size_t)src->height);
    dst->captured = src->captured;
    dst->sequence = src->sequence;
    dst->inference = src->inference;
    return 0;
}

static inline uint8_t clamp8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Y'CbCr (BT.601, Y in 16..235, C in 16..240) to RGB:
 * R = 1.164 (Y-16) + 1.596 (V-128), G = 1.164 (Y-16) - 0.391 (U-128) - 0.813 (V-128),
 * B = 1.164 (Y-16) + 2.018 (U-128). */
static inline void yuv_pixel(int y, int u, int v, uint8_t *out)
{
    int c = (y - 16) * 76284, d = u - 128, e = v - 128;
    out[0] = clamp8((c + 104595 * e + 32768) >> 16);
    out[1] = clamp8((c - 25624 * d - 53281 * e + 32768) >> 16);
    out[2] = clamp8((c + 132251 * d + 32768) >> 16);
}

int wc_yuyv_to_rgb(const uint8_t *src, size_t src_size, size_t src_stride, int width,
                   int height, uint8_t *rgb, size_t rgb_stride)
{
    if (width <= 0 || height <= 0 || width % 2 || src_stride < (size_t)width * 2 ||
        src_size < (size_t)(height - 1) * src_stride + (size_t)width * 2)
        return -1;
    for (int row = 0; row < height; row++) {
        const uint8_t *s = src + (size_t)row * src_stride;
        uint8_t *d = rgb + (size_t)row * rgb_stride;
        for (int x = 0; x < width; x += 2, s += 4, d += 6) {
            yuv_pixel(s[0], s[1], s[3], d);
            yuv_pixel(s[2], s[1], s[3], d + 3);
        }
    }
    return 0;
}

void wc_yuv_planar_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int width,
                          int height, int chroma_shift, uint8_t *rgb, size_t rgb_stride)
{
    size_t chroma_width = (size_t)(width + (1 << chroma_shift) - 1) >> chroma_shift;
    for (int row = 0; row < height; row++) {
        const uint8_t *yr = y + (size_t)row * (size_t)width;
        size_t c = (size_t)(row >> chroma_shift) * chroma_width;
        uint8_t *d = rgb + (size_t)row * rgb_stride;
        for (int x = 0; x < width; x++, d += 3) {
            size_t ci = c + ((size_t)x >> chroma_shift);
            yuv_pixel(yr[x], u[ci], v[ci], d);
        }
    }
}

#ifdef YL_HAVE_JPEG
/* libjpeg reports errors through a callback that must not return: jump back instead. */
typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    f->mgr.format_message(cinfo, f->message);
    longjmp(f->back, 1);
}

/* Corrupt-data warnings are common on USB cameras; the frame is still shown. */
static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

int wc_mjpeg_to_rgb(const uint8_t *src, size_t size, int width, int height, uint8_t *rgb,
                    size_t rgb_stride, char *err, size_t err_size)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    cinfo.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = jpeg_fail;
    failure.mgr.emit_message = jpeg_quiet;
    if (setjmp(failure.back)) {
        snprintf(err, err_size, "MJPEG frame: %s", failure.message);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, src, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if ((int)cinfo.image_width != width || (int)cinfo.image_height != height) {
        snprintf(err, err_size, "MJPEG frame is %ux%u, the stream %dx%d", cinfo.image_width,
                 cinfo.image_height, width, height);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + (size_t)cinfo.output_scanline * rgb_stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}
#else
int wc_mjpeg_to_rgb(const uint8_t *src, size_t size, int width, int height, uint8_t *rgb,
                    size_t rgb_stride, char *err, size_t err_size)
{
    (void)src; (void)size; (void)width; (void)height; (void)rgb; (void)rgb_stride;
    snprintf(err, err_size, "MJPEG needs libjpeg: this build has none (libjpeg62-turbo-dev)");
    return -1;
}
#endif
