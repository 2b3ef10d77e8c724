/* V4L2 camera capture: memory-mapped streaming I/O, MJPEG (preferred: less USB bandwidth)
 * or YUYV, converted to RGB8 as frames are dequeued. */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "source.h"

#define BUFFER_COUNT 4
#define FRAME_TIMEOUT_MS 5000
/* Damaged frames in a row before the camera is given up on (a few are normal on USB). */
#define MAX_BAD_FRAMES 30

typedef struct v4l2_source {
    wc_source base;
    int fd;
    uint32_t pixelformat;
    size_t bytesperline;
    int streaming;
    unsigned buffer_count;
    struct { void *start; size_t length; } buffers[BUFFER_COUNT];
    char device[256];
} v4l2_source;

/* ioctl, retried when a signal interrupts it. */
static int xioctl(int fd, unsigned long request, void *arg)
{
    int r;
    do
        r = ioctl(fd, request, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

static void fourcc_text(uint32_t f, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)((f >> (8 * i)) & 0xff);
        out[i] = c >= 32 && c < 127 ? c : '?';
    }
    out[4] = '\0';
}

static void v4l2_close(wc_source *source)
{
    v4l2_source *s = (v4l2_source *)source;
    if (s->streaming) {
        enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        xioctl(s->fd, VIDIOC_STREAMOFF, &type);
    }
    for (unsigned i = 0; i < s->buffer_count; i++)
        if (s->buffers[i].start != MAP_FAILED)
            munmap(s->buffers[i].start, s->buffers[i].length);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* Dequeue a filled buffer, and when more wait behind it keep only the newest: the older
 * ones are stale (the capture thread was kept off the CPU) and go back to the driver.
 * Returns 0, or -1 with errno (EAGAIN: none filled yet). */
static int dequeue_newest(v4l2_source *s, struct v4l2_buffer *buf)
{
    if (xioctl(s->fd, VIDIOC_DQBUF, buf) < 0)
        return -1;
    for (;;) {
        struct v4l2_buffer newer = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                    .memory = V4L2_MEMORY_MMAP};
        if (xioctl(s->fd, VIDIOC_DQBUF, &newer) < 0)
            return errno == EAGAIN ? 0 : -1;
        if (xioctl(s->fd, VIDIOC_QBUF, buf) < 0)
            return -1;
        s->base.dropped++;
        *buf = newer;
    }
}

/* Wait for a filled buffer, convert it, give it back to the driver. A frame the driver
 * flags as damaged, or a corrupt MJPEG frame, is skipped (USB cameras send some). */
static int v4l2_read(wc_source *source, wc_frame *frame, char *err, size_t err_size)
{
    v4l2_source *s = (v4l2_source *)source;
    char why[200] = "flagged by the driver";
    for (int bad = 0;;) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, FRAME_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            snprintf(err, err_size, "%s: no frame for %d s: the camera stalled", s->device,
                     FRAME_TIMEOUT_MS / 1000);
            return -1;
        }
        struct v4l2_buffer buf = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
        if (r < 0 || dequeue_newest(s, &buf) < 0) {
            if (r > 0 && errno == EAGAIN)
                continue;
            snprintf(err, err_size, "%s: %s", s->device,
                     errno == ENODEV ? "the camera was disconnected" : strerror(errno));
            return -1;
        }
        double captured = wc_now();
        int ok = buf.index < s->buffer_count && !(buf.flags & V4L2_BUF_FLAG_ERROR);
        if (ok && wc_frame_reserve(frame, source->width, source->height)) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        if (ok) {
            const uint8_t *data = s->buffers[buf.index].start;
            size_t used = buf.bytesused <= s->buffers[buf.index].length
                              ? buf.bytesused : s->buffers[buf.index].length;
            if (s->pixelformat == V4L2_PIX_FMT_MJPEG)
                ok = wc_mjpeg_to_rgb(data, used, source->width, source->height, frame->rgb,
                                     frame->stride, why, sizeof why) == 0;
            else
                ok = wc_yuyv_to_rgb(data, used, s->bytesperline, source->width,
                                    source->height, frame->rgb, frame->stride) == 0;
        }
        if (buf.index < s->buffer_count && xioctl(s->fd, VIDIOC_QBUF, &buf) < 0) {
            snprintf(err, err_size, "%s: %s", s->device,
                     errno == ENODEV ? "the camera was disconnected" : strerror(errno));
            return -1;
        }
        if (ok) {
            frame->captured = captured;
            frame->sequence = (long)buf.sequence;
            return 1;
        }
        if (++bad == MAX_BAD_FRAMES) {
            snprintf(err, err_size, "%s: %d damaged frames in a row (last: %s)", s->device,
                     bad, why);
            return -1;
        }
    }
}

/* The first format this program can convert, MJPEG first (when built with libjpeg). */
static int choose_format(v4l2_source *s, char *err, size_t err_size)
{
    static const uint32_t wanted[] = {
#ifdef YL_HAVE_JPEG
        V4L2_PIX_FMT_MJPEG,
#endif
        V4L2_PIX_FMT_YUYV};
    uint32_t offered[64];
    unsigned count = 0;
    struct v4l2_fmtdesc d = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    for (d.index = 0; count < 64 && xioctl(s->fd, VIDIOC_ENUM_FMT, &d) == 0; d.index++)
        offered[count++] = d.pixelformat;
    for (size_t w = 0; w < sizeof wanted / sizeof *wanted; w++)
        for (unsigned i = 0; i < count; i++)
            if (offered[i] == wanted[w]) {
                s->pixelformat = wanted[w];
                return 0;
            }
    int n = snprintf(err, err_size, "%s offers no supported pixel format (this program reads "
#ifdef YL_HAVE_JPEG
                     "MJPG or "
#endif
                     "YUYV); it offers:", s->device);
    for (unsigned i = 0; i < count && n > 0 && (size_t)n < err_size; i++) {
        char f[5];
        fourcc_text(offered[i], f);
        n += snprintf(err + n, err_size - (size_t)n, " %s", f);
    }
    if (count == 0 && n > 0 && (size_t)n < err_size)
        snprintf(err + n, err_size - (size_t)n, " nothing");
    return -1;
}

static int set_format(v4l2_source *s, int width, int height, char *err, size_t err_size)
{
    struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    f.fmt.pix.width = (uint32_t)width;
    f.fmt.pix.height = (uint32_t)height;
    f.fmt.pix.pixelformat = s->pixelformat;
    f.fmt.pix.field = V4L2_FIELD_NONE;
    if (xioctl(s->fd, VIDIOC_S_FMT, &f) < 0) {
        snprintf(err, err_size, "%s: cannot set the format: %s", s->device,
                 errno == EBUSY ? "the device is busy (another program is capturing)"
                                : strerror(errno));
        return -1;
    }
    /* The driver picks the nearest size it has; odd YUYV widths would split a pixel pair. */
    if (f.fmt.pix.pixelformat != s->pixelformat || f.fmt.pix.width < 2 ||
        f.fmt.pix.height < 1 || f.fmt.pix.width > 16384 || f.fmt.pix.height > 16384 ||
        f.fmt.pix.width % 2) {
        char got[5];
        fourcc_text(f.fmt.pix.pixelformat, got);
        snprintf(err, err_size, "%s: the driver answered an unusable format %s %ux%u",
                 s->device, got, f.fmt.pix.width, f.fmt.pix.height);
        return -1;
    }
    s->base.width = (int)f.fmt.pix.width;
    s->base.height = (int)f.fmt.pix.height;
    s->bytesperline = f.fmt.pix.bytesperline >= 2 * f.fmt.pix.width ? f.fmt.pix.bytesperline
                                                                     : 2 * f.fmt.pix.width;
    return 0;
}

static int start_streaming(v4l2_source *s, char *err, size_t err_size)
{
    struct v4l2_requestbuffers req = {.count = BUFFER_COUNT,
                                      .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                      .memory = V4L2_MEMORY_MMAP};
    if (xioctl(s->fd, VIDIOC_REQBUFS, &req) < 0) {
        snprintf(err, err_size, "%s: cannot get capture buffers: %s", s->device,
                 errno == EBUSY ? "the device is busy (another program is capturing)"
                                : strerror(errno));
        return -1;
    }
    if (req.count < 2) {
        snprintf(err, err_size, "%s: the driver gave %u capture buffers, 2 are needed",
                 s->device, req.count);
        return -1;
    }
    s->buffer_count = req.count < BUFFER_COUNT ? req.count : BUFFER_COUNT;
    for (unsigned i = 0; i < s->buffer_count; i++)
        s->buffers[i].start = MAP_FAILED;
    for (unsigned i = 0; i < s->buffer_count; i++) {
        struct v4l2_buffer buf = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                  .memory = V4L2_MEMORY_MMAP, .index = i};
        if (xioctl(s->fd, VIDIOC_QUERYBUF, &buf) < 0) {
            snprintf(err, err_size, "%s: buffer %u: %s", s->device, i, strerror(errno));
            return -1;
        }
        s->buffers[i].length = buf.length;
        s->buffers[i].start = mmap(NULL, buf.length, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd,
                                   buf.m.offset);
        if (s->buffers[i].start == MAP_FAILED) {
            snprintf(err, err_size, "%s: cannot map buffer %u: %s", s->device, i,
                     strerror(errno));
            return -1;
        }
        if (xioctl(s->fd, VIDIOC_QBUF, &buf) < 0) {
            snprintf(err, err_size, "%s: cannot queue buffer %u: %s", s->device, i,
                     strerror(errno));
            return -1;
        }
    }
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(s->fd, VIDIOC_STREAMON, &type) < 0) {
        snprintf(err, err_size, "%s: cannot start streaming: %s", s->device,
                 errno == EBUSY ? "the device is busy" : strerror(errno));
        return -1;
    }
    s->streaming = 1;
    return 0;
}

int wc_v4l2_open(const char *device, int width, int height, wc_source **source, char *err,
                 size_t err_size)
{
    v4l2_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    snprintf(s->device, sizeof s->device, "%s", device);
    s->base.read = v4l2_read;
    s->base.close = v4l2_close;
    s->base.live = 1;
    s->fd = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (s->fd < 0) {
        int e = errno;
        snprintf(err, err_size, "cannot open %s: %s%s", device, strerror(e),
                 e == ENOENT ? " (no such camera: see v4l2-ctl --list-devices, or use --input)"
                 : e == EBUSY ? " (another program is using the camera)"
                 : e == EACCES ? " (add yourself to the 'video' group)" : "");
        v4l2_close(&s->base);
        return -1;
    }
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    int rc = -1;
    if (xioctl(s->fd, VIDIOC_QUERYCAP, &cap) < 0)
        snprintf(err, err_size, "%s is not a V4L2 device: %s", device, strerror(errno));
    else if (!((cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities) &
               V4L2_CAP_VIDEO_CAPTURE))
        snprintf(err, err_size, "%s (%.32s) cannot capture video (a metadata or output node?)",
                 device, (const char *)cap.card);
    else if (!((cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities) &
               V4L2_CAP_STREAMING))
        snprintf(err, err_size, "%s (%.32s) has no streaming I/O", device,
                 (const char *)cap.card);
    else if (choose_format(s, err, err_size) == 0 &&
             set_format(s, width, height, err, err_size) == 0 &&
             start_streaming(s, err, err_size) == 0)
        rc = 0;
    if (rc) {
        v4l2_close(&s->base);
        return -1;
    }
    char f[5];
    fourcc_text(s->pixelformat, f);
    snprintf(s->base.description, sizeof s->base.description, "%.32s on %.40s, %s %dx%d",
             (const char *)cap.card, device, f, s->base.width, s->base.height);
    *source = &s->base;
    return 0;
}
