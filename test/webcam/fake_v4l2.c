/* A fake V4L2 camera for the webcam tests, loaded with LD_PRELOAD: open, ioctl, mmap, poll
 * and close on one device path are answered here the way uvcvideo answers them (mmap
 * streaming, a driver that fills queued buffers at the frame rate and drops frames when
 * none is queued), replaying recorded frames. Everything else goes to libc.
 *
 *   FAKE_V4L2_DEVICE   the path it answers for (required)
 *   FAKE_V4L2_FRAMES   glob of the frame files, one buffer each, replayed in a loop
 *   FAKE_V4L2_FORMATS  fourccs offered, comma-separated (default MJPG)
 *   FAKE_V4L2_SIZE     WxH of the frames (default 320x240)
 *   FAKE_V4L2_FPS      frame rate (default 30)
 *   FAKE_V4L2_FAIL     "busy": S_FMT fails with EBUSY, as when another program streams;
 *                      "disconnect:N": unplugged after N frames (POLLERR, ENODEV)
 *   FAKE_V4L2_LOG      file that receives "produced P dequeued D dropped X behind B" at
 *                      close; B is how far behind the camera the application read: the
 *                      most newer frames already waiting when it dequeued a buffer that
 *                      it then used (gave back without dequeuing another first) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 16
#define MAX_BUFFERS 8
#define MAX_FORMATS 8
#define OFFSET_STEP 0x100000 /* mmap offset of buffer i: i * OFFSET_STEP */

enum { WITH_APP, QUEUED, DONE };

static struct {
    pthread_mutex_t lock;
    int loaded, fd, streaming, disconnected, fail_busy;
    long disconnect_after;
    uint32_t offered[MAX_FORMATS], fourcc;
    int n_offered, width, height;
    double fps, start;
    uint8_t *frame[MAX_FRAMES];
    size_t frame_size[MAX_FRAMES], max_frame_size;
    int n_frames;
    struct { void *mem; size_t length; int state, behind; uint32_t bytesused, sequence;
             double at; }
        buf[MAX_BUFFERS];
    int n_buffers;
    int queued[MAX_BUFFERS], n_queued, done[MAX_BUFFERS], n_done; /* FIFOs of indices */
    long produced, dequeued, dropped;
    int last_dequeued, most_behind; /* see FAKE_V4L2_LOG */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *real(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* Read the configuration and the frames once; 0 when this process has no fake device. */
static int load(void)
{
    if (fake.loaded)
        return fake.loaded > 0;
    fake.loaded = -1;
    if (!getenv("FAKE_V4L2_DEVICE"))
        return 0;
    const char *formats = getenv("FAKE_V4L2_FORMATS") ? getenv("FAKE_V4L2_FORMATS") : "MJPG";
    for (const char *f = formats; fake.n_offered < MAX_FORMATS && strlen(f) >= 4; f += 4) {
        fake.offered[fake.n_offered++] = v4l2_fourcc(f[0], f[1], f[2], f[3]);
        if (f[4] == ',')
            f++;
    }
    fake.width = 320, fake.height = 240, fake.fps = 30;
    if (getenv("FAKE_V4L2_SIZE"))
        sscanf(getenv("FAKE_V4L2_SIZE"), "%dx%d", &fake.width, &fake.height);
    if (getenv("FAKE_V4L2_FPS"))
        fake.fps = atof(getenv("FAKE_V4L2_FPS"));
    const char *fail = getenv("FAKE_V4L2_FAIL") ? getenv("FAKE_V4L2_FAIL") : "";
    fake.fail_busy = !strcmp(fail, "busy");
    if (!strncmp(fail, "disconnect:", 11))
        fake.disconnect_after = atol(fail + 11);
    glob_t g;
    if (getenv("FAKE_V4L2_FRAMES") && glob(getenv("FAKE_V4L2_FRAMES"), 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && fake.n_frames < MAX_FRAMES; i++) {
            FILE *f = fopen(g.gl_pathv[i], "rb");
            long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
            uint8_t *data = n > 0 ? malloc((size_t)n) : NULL;
            if (data && fseek(f, 0, SEEK_SET) == 0 && fread(data, 1, (size_t)n, f) == (size_t)n) {
                fake.frame[fake.n_frames] = data;
                fake.frame_size[fake.n_frames++] = (size_t)n;
                if ((size_t)n > fake.max_frame_size)
                    fake.max_frame_size = (size_t)n;
            } else {
                free(data);
            }
            if (f)
                fclose(f);
        }
        globfree(&g);
    }
    fake.loaded = 1;
    return 1;
}

static int is_fake_path(const char *path)
{
    return path && load() && !strcmp(path, getenv("FAKE_V4L2_DEVICE"));
}

static int is_fake_fd(int fd)
{
    return fd >= 0 && fd == fake.fd;
}

/* The driver's side up to time t: every frame period that has passed fills the oldest
 * queued buffer, or is dropped when the application has none queued. */
static void advance(double t)
{
    if (!fake.streaming || fake.disconnected || fake.n_frames == 0)
        return;
    long due = (long)((t - fake.start) * fake.fps) + 1;
    while (fake.produced < due && !fake.disconnected) {
        if (fake.disconnect_after && fake.produced >= fake.disconnect_after) {
            fake.disconnected = 1;
            break;
        }
        int k = (int)(fake.produced % fake.n_frames);
        if (fake.n_queued == 0) {
            fake.dropped++;
        } else {
            int i = fake.queued[0];
            memmove(fake.queued, fake.queued + 1, (size_t)--fake.n_queued * sizeof(int));
            size_t n = fake.frame_size[k] < fake.buf[i].length ? fake.frame_size[k]
                                                               : fake.buf[i].length;
            memcpy(fake.buf[i].mem, fake.frame[k], n);
            fake.buf[i].bytesused = (uint32_t)n;
            fake.buf[i].sequence = (uint32_t)fake.produced;
            fake.buf[i].at = fake.start + (double)fake.produced / fake.fps;
            fake.buf[i].state = DONE;
            fake.done[fake.n_done++] = i;
        }
        fake.produced++;
    }
}

static int fail(int e)
{
    errno = e;
    return -1;
}

static void set_format(struct v4l2_format *f)
{
    uint32_t want = f->fmt.pix.pixelformat;
    fake.fourcc = fake.offered[0];
    for (int i = 0; i < fake.n_offered; i++)
        if (fake.offered[i] == want)
            fake.fourcc = want;
    memset(&f->fmt.pix, 0, sizeof f->fmt.pix);
    f->fmt.pix.width = (uint32_t)fake.width;
    f->fmt.pix.height = (uint32_t)fake.height;
    f->fmt.pix.pixelformat = fake.fourcc;
    f->fmt.pix.field = V4L2_FIELD_NONE;
    int packed = fake.fourcc == V4L2_PIX_FMT_YUYV;
    f->fmt.pix.bytesperline = packed ? 2 * (uint32_t)fake.width : 0;
    f->fmt.pix.sizeimage = packed ? 2 * (uint32_t)(fake.width * fake.height)
                                  : (uint32_t)fake.max_frame_size + 4096;
}

static int fake_ioctl(unsigned long request, void *arg)
{
    advance(now());
    switch (request) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *c = arg;
        memset(c, 0, sizeof *c);
        snprintf((char *)c->driver, sizeof c->driver, "fake_v4l2");
        snprintf((char *)c->card, sizeof c->card, "Fake Camera");
        c->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
        c->capabilities = c->device_caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *d = arg;
        if (d->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || d->index >= (uint32_t)fake.n_offered)
            return fail(EINVAL);
        d->pixelformat = fake.offered[d->index];
        return 0;
    }
    case VIDIOC_S_FMT:
        if (fake.fail_busy)
            return fail(EBUSY);
        if (fake.streaming || fake.n_buffers)
            return fail(EBUSY);
        set_format(arg);
        return 0;
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *r = arg;
        if (fake.streaming)
            return fail(EBUSY);
        struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        f.fmt.pix.pixelformat = fake.fourcc;
        set_format(&f);
        fake.n_buffers = r->count < MAX_BUFFERS ? (int)r->count : MAX_BUFFERS;
        for (int i = 0; i < fake.n_buffers; i++) {
            fake.buf[i].length = f.fmt.pix.sizeimage;
            fake.buf[i].state = WITH_APP;
        }
        r->count = (uint32_t)fake.n_buffers;
        return 0;
    }
    case VIDIOC_QUERYBUF: {
        struct v4l2_buffer *b = arg;
        if (b->index >= (uint32_t)fake.n_buffers)
            return fail(EINVAL);
        b->length = (uint32_t)fake.buf[b->index].length;
        b->m.offset = b->index * OFFSET_STEP;
        return 0;
    }
    case VIDIOC_QBUF: {
        struct v4l2_buffer *b = arg;
        if (fake.disconnected)
            return fail(ENODEV);
        if (b->index >= (uint32_t)fake.n_buffers || fake.buf[b->index].state != WITH_APP ||
            !fake.buf[b->index].mem)
            return fail(EINVAL);
        if ((int)b->index == fake.last_dequeued && fake.buf[b->index].behind > fake.most_behind)
            fake.most_behind = fake.buf[b->index].behind;
        fake.buf[b->index].state = QUEUED;
        fake.queued[fake.n_queued++] = (int)b->index;
        return 0;
    }
    case VIDIOC_DQBUF: {
        struct v4l2_buffer *b = arg;
        if (fake.disconnected)
            return fail(ENODEV);
        if (fake.n_done == 0)
            return fail(EAGAIN); /* the demo opens the device non-blocking */
        int i = fake.done[0];
        memmove(fake.done, fake.done + 1, (size_t)--fake.n_done * sizeof(int));
        fake.buf[i].state = WITH_APP;
        fake.buf[i].behind = fake.n_done;
        fake.last_dequeued = i;
        b->index = (uint32_t)i;
        b->bytesused = fake.buf[i].bytesused;
        b->sequence = fake.buf[i].sequence;
        b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_DONE;
        b->field = V4L2_FIELD_NONE;
        b->timestamp.tv_sec = (long)fake.buf[i].at;
        b->timestamp.tv_usec = (long)((fake.buf[i].at - (double)(long)fake.buf[i].at) * 1e6);
        fake.dequeued++;
        return 0;
    }
    case VIDIOC_STREAMON:
        if (!fake.streaming) {
            fake.streaming = 1;
            fake.start = now();
        }
        return 0;
    case VIDIOC_STREAMOFF:
        fake.streaming = 0;
        fake.n_queued = fake.n_done = 0;
        for (int i = 0; i < fake.n_buffers; i++)
            fake.buf[i].state = WITH_APP;
        return 0;
    default:
        return fail(ENOTTY);
    }
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!is_fake_fd(fd)) {
        int (*next)(int, unsigned long, ...) = real("ioctl");
        return next(fd, request, arg);
    }
    pthread_mutex_lock(&fake.lock);
    int r = fake_ioctl(request, arg);
    int e = errno;
    pthread_mutex_unlock(&fake.lock);
    errno = e;
    return r;
}

/* The device is a descriptor of /dev/null, so close, fcntl and the like just work. */
static int fake_open(void)
{
    int (*next)(const char *, int, ...) = real("open");
    pthread_mutex_lock(&fake.lock);
    int fd = fake.fd >= 0 ? fail(EBUSY) : next("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        fake.fd = fd;
        fake.streaming = fake.disconnected = 0;
        fake.n_buffers = fake.n_queued = fake.n_done = 0;
        fake.produced = fake.dequeued = fake.dropped = 0;
        fake.last_dequeued = -1;
        fake.most_behind = 0;
    }
    pthread_mutex_unlock(&fake.lock);
    return fd;
}

/* The mode argument is there only when the flags create a file. */
#define MODE_ARG(flags, mode)                                                              \
    mode_t mode = 0;                                                                       \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                 \
        va_list ap;                                                                        \
        va_start(ap, flags);                                                               \
        mode = (mode_t)va_arg(ap, int);                                                    \
        va_end(ap);                                                                        \
    }

int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int (*next)(const char *, int, ...) = real("open");
    return is_fake_path(path) ? fake_open() : next(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int (*next)(const char *, int, ...) = real("open64");
    return is_fake_path(path) ? fake_open() : next(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int (*next)(int, const char *, int, ...) = real("openat");
    return is_fake_path(path) ? fake_open() : next(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int (*next)(int, const char *, int, ...) = real("openat64");
    return is_fake_path(path) ? fake_open() : next(dirfd, path, flags, mode);
}

/* The buffers are anonymous memory; munmap needs no wrapper. */
static void *fake_mmap(size_t length, off_t offset)
{
    pthread_mutex_lock(&fake.lock);
    long i = offset / OFFSET_STEP;
    void *p = MAP_FAILED;
    if (offset % OFFSET_STEP || i < 0 || i >= fake.n_buffers || length > fake.buf[i].length)
        errno = EINVAL;
    else if ((p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                       0)) != MAP_FAILED)
        fake.buf[i].mem = p;
    pthread_mutex_unlock(&fake.lock);
    return p;
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (is_fake_fd(fd))
        return fake_mmap(length, offset);
    void *(*next)(void *, size_t, int, int, int, off_t) = real("mmap64");
    return next(addr, length, prot, flags, fd, offset);
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    if (is_fake_fd(fd))
        return fake_mmap(length, offset);
    void *(*next)(void *, size_t, int, int, int, off_t) = real("mmap");
    return next(addr, length, prot, flags, fd, offset);
}

/* poll on the device alone: sleep until the driver fills a buffer, as the kernel would. */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int (*next)(struct pollfd *, nfds_t, int) = real("poll");
    if (n != 1 || !is_fake_fd(fds[0].fd))
        return next(fds, n, timeout);
    double until = timeout < 0 ? 1e300 : now() + timeout / 1000.0;
    for (;;) {
        pthread_mutex_lock(&fake.lock);
        double t = now();
        advance(t);
        short ready = fake.disconnected ? POLLERR | POLLHUP : fake.n_done ? POLLIN : 0;
        double next_frame = fake.streaming && fake.n_queued
                                ? fake.start + (double)fake.produced / fake.fps : until;
        pthread_mutex_unlock(&fake.lock);
        fds[0].revents = ready & (fds[0].events | POLLERR | POLLHUP);
        if (fds[0].revents)
            return 1;
        if (t >= until)
            return 0;
        double wait = (next_frame < until ? next_frame : until) - t;
        wait = wait < 0.0005 ? 0.0005 : wait;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int close(int fd)
{
    int (*next)(int) = real("close");
    if (is_fake_fd(fd)) {
        pthread_mutex_lock(&fake.lock);
        const char *log = getenv("FAKE_V4L2_LOG");
        FILE *f = log ? fopen(log, "w") : NULL;
        if (f) {
            fprintf(f, "produced %ld dequeued %ld dropped %ld behind %d\n", fake.produced,
                    fake.dequeued, fake.dropped, fake.most_behind);
            fclose(f);
        }
        fake.fd = -1;
        fake.streaming = 0;
        pthread_mutex_unlock(&fake.lock);
    }
    return next(fd);
}
