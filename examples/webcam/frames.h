/* Conversions of camera and video frames to packed RGB8: V4L2 YUYV and MJPEG buffers, and
 * planar 8-bit YUV (4:2:0 or 4:4:4) as Y4M files carry it. YUV is taken as BT.601 limited
 * range, what UVC cameras and Y4M (by default) send. */
#ifndef WC_FRAMES_H
#define WC_FRAMES_H

#include <stddef.h>
#include <stdint.h>

/* A growable RGB8 frame with the time it was captured. */
typedef struct wc_frame {
    uint8_t *rgb;
    int width, height;
    size_t stride;          /* 3 * width */
    size_t capacity;        /* bytes allocated at rgb */
    double captured;        /* CLOCK_MONOTONIC seconds */
    long sequence;          /* frame number at the source */
    double inference;       /* seconds its detection took, once detected */
} wc_frame;

/* Make room for width x height; returns -1 when out of memory. */
int wc_frame_reserve(wc_frame *frame, int width, int height);
void wc_frame_release(wc_frame *frame);
/* Copy pixels, size and timestamps; -1 when out of memory. */
int wc_frame_copy(wc_frame *dst, const wc_frame *src);

/* YUYV 4:2:2 (Y0 U Y1 V per two pixels), rows src_stride bytes apart. The buffer must
 * hold src_size >= (height - 1) * src_stride + 2 * width bytes, else -1. width is even. */
int wc_yuyv_to_rgb(const uint8_t *src, size_t src_size, size_t src_stride, int width,
                   int height, uint8_t *rgb, size_t rgb_stride);

/* Planar YUV: chroma planes of ceil(width >> shift) x ceil(height >> shift) samples,
 * shift 1 for 4:2:0, 0 for 4:4:4; all planes tightly packed. */
void wc_yuv_planar_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int width,
                          int height, int chroma_shift, uint8_t *rgb, size_t rgb_stride);

/* Decode one MJPEG frame (a JPEG, maybe without Huffman tables as many UVC cameras send
 * it: the standard tables are then used) that must be width x height. Returns 0, or -1
 * with the reason in err. */
int wc_mjpeg_to_rgb(const uint8_t *src, size_t size, int width, int height, uint8_t *rgb,
                    size_t rgb_stride, char *err, size_t err_size);

#endif
