/* Where frames come from: a V4L2 camera (live: frames arrive at the camera's pace and
 * stale ones may be dropped) or a video file or image sequence (every frame is processed).
 * Each kind implements this small interface in its own file. */
#ifndef WC_SOURCE_H
#define WC_SOURCE_H

#include <stddef.h>

#include "frames.h"

typedef struct wc_source wc_source;

struct wc_source {
    /* Fill frame (RGB8, reserved to the frame's size) with the next frame: 1 when one was
     * read, 0 at the end, -1 on error with the reason in err. */
    int (*read)(wc_source *source, wc_frame *frame, char *err, size_t err_size);
    void (*close)(wc_source *source);
    int live;          /* frames arrive in real time: drop stale ones */
    int width, height; /* of the frames; 0 for image sequences, whose sizes may vary */
    long dropped;      /* stale frames the source skipped (a camera's, read late) */
    char description[128];
};

/* A camera: device path, the resolution wanted (the driver may pick the nearest). */
int wc_v4l2_open(const char *device, int width, int height, wc_source **source, char *err,
                 size_t err_size);
/* A YUV4MPEG2 file, 8-bit 4:2:0 or 4:4:4. */
int wc_y4m_open(const char *path, wc_source **source, char *err, size_t err_size);
/* PNG/JPEG images: a directory (its *.png, *.jpg, *.jpeg in name order) or a glob pattern. */
int wc_images_open(const char *pattern, wc_source **source, char *err, size_t err_size);

/* --input: a .y4m file, else a directory or glob of images. */
int wc_file_source_open(const char *input, wc_source **source, char *err, size_t err_size);

double wc_now(void); /* CLOCK_MONOTONIC seconds */

#endif
