/* A sequence of PNG/JPEG images as a video: a directory's images in name order, or the
 * files a glob pattern names (glob sorts them). */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "source.h"
#include "yolact.h"

typedef struct images_source {
    wc_source base;
    glob_t files;
    size_t next;
} images_source;

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

static int images_read(wc_source *source, wc_frame *frame, char *err, size_t err_size)
{
    images_source *s = (images_source *)source;
    if (s->next >= s->files.gl_pathc)
        return 0;
    const char *path = s->files.gl_pathv[s->next];
    yolact_image image;
    yolact_status st = yolact_image_load(path, &image);
    if (st != YOLACT_OK) {
        snprintf(err, err_size, "%s: %s", yolact_status_string(st), yolact_last_error());
        return -1;
    }
    int ok = wc_frame_reserve(frame, image.width, image.height) == 0;
    if (ok)
        for (int y = 0; y < image.height; y++)
            memcpy(frame->rgb + (size_t)y * frame->stride, image.data + (size_t)y * image.stride,
                   frame->stride);
    yolact_image_free_pixels(&image);
    if (!ok) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    frame->sequence = (long)s->next++;
    frame->captured = wc_now();
    return 1;
}

static void images_close(wc_source *source)
{
    images_source *s = (images_source *)source;
    globfree(&s->files);
    free(s);
}

int wc_images_open(const char *pattern, wc_source **source, char *err, size_t err_size)
{
    images_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    s->base.read = images_read;
    s->base.close = images_close;
    struct stat st;
    char dir_pattern[4200];
    int is_dir = stat(pattern, &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir)
        snprintf(dir_pattern, sizeof dir_pattern, "%s/*", pattern);
    int rc = glob(is_dir ? dir_pattern : pattern, 0, NULL, &s->files);
    if (rc != 0 && rc != GLOB_NOMATCH) {
        snprintf(err, err_size, "%s: cannot list the images", pattern);
        images_close(&s->base);
        return -1;
    }
    /* Keep only images (a directory may hold other files). */
    size_t kept = 0;
    for (size_t i = 0; i < s->files.gl_pathc; i++)
        if (is_image_name(s->files.gl_pathv[i]))
            s->files.gl_pathv[kept++] = s->files.gl_pathv[i];
        else
            free(s->files.gl_pathv[i]);
    s->files.gl_pathc = kept;
    if (kept == 0) {
        snprintf(err, err_size, "%s: no .png/.jpg images there", pattern);
        images_close(&s->base);
        return -1;
    }
    snprintf(s->base.description, sizeof s->base.description, "%.80s (%zu images)", pattern,
             kept);
    *source = &s->base;
    return 0;
}
