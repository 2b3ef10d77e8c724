/* The COCO data set a training run reads (train_dataset.h). */
#include "train_dataset.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_load.h"
#include "yolact.h"

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Each image's annotations, crowds after the rest, both in file order; the images without
 * any are not samples. */
static int index_samples(train_dataset *d)
{
    const coco_objects *a = &d->coco.annotations;
    size_t images = d->coco.num_images;
    size_t *next_plain = calloc(images + 1, sizeof *next_plain);
    size_t *next_crowd = calloc(images + 1, sizeof *next_crowd);
    d->objects = malloc((a->count + 1) * sizeof *d->objects);
    d->sample_image = malloc((images + 1) * sizeof *d->sample_image);
    d->first_object = malloc((images + 1) * sizeof *d->first_object);
    int status = -1;
    if (!next_plain || !next_crowd || !d->objects || !d->sample_image || !d->first_object)
        goto done;
    /* counts first: next_plain[im] all of the image's objects, next_crowd[im] its crowds */
    for (size_t k = 0; k < a->count; k++) {
        next_plain[a->items[k].image]++;
        next_crowd[a->items[k].image] += a->items[k].crowd != 0;
    }
    size_t at = 0;
    for (size_t im = 0; im < images; im++) {
        size_t all = next_plain[im], crowds = next_crowd[im];
        if (!all)
            continue;
        d->sample_image[d->num_samples] = im;
        d->first_object[d->num_samples++] = at;
        next_plain[im] = at, next_crowd[im] = at + all - crowds;
        at += all;
    }
    d->first_object[d->num_samples] = at;
    for (size_t k = 0; k < a->count; k++) {
        size_t im = a->items[k].image;
        d->objects[a->items[k].crowd ? next_crowd[im]++ : next_plain[im]++] = k;
    }
    status = 0;
done:
    free(next_plain);
    free(next_crowd);
    return status;
}

int train_dataset_open(const char *annotations, const char *image_dir, train_dataset *d,
                       char *err, size_t err_size)
{
    memset(d, 0, sizeof *d);
    if (coco_load_annotations(annotations, COCO_WANT_BOXES | COCO_WANT_MASKS, &d->coco, err,
                              err_size))
        return -1;
    if (!(d->image_dir = strdup(image_dir)) || index_samples(d)) {
        train_dataset_close(d);
        return fail(err, err_size, "%s: out of memory", annotations);
    }
    const char *why = !d->coco.num_categories ? "no categories"
                      : !d->num_samples       ? "no image has an annotation of a listed category"
                                              : NULL;
    if (why) {
        train_dataset_close(d);
        return fail(err, err_size, "%s: %s: nothing to train on", annotations, why);
    }
    return 0;
}

void train_dataset_close(train_dataset *d)
{
    coco_dataset_free(&d->coco);
    free(d->image_dir);
    free(d->sample_image);
    free(d->objects);
    free(d->first_object);
    memset(d, 0, sizeof *d);
}

/* The official loader drops "COCO_train2014_" and the like from a file name: the 2014 and
 * 2017 sets then share one folder of images. */
static const char *stored_name(const char *file_name)
{
    const char *underscore = strrchr(file_name, '_');
    return strncmp(file_name, "COCO", 4) == 0 && underscore ? underscore + 1 : file_name;
}

/* The image's pixels, RGB8 as decoded, into s->image as float BGR. */
static void copy_as_bgr(const yolact_image *im, augment_sample *s)
{
    for (int y = 0; y < im->height; y++) {
        const uint8_t *row = im->data + (size_t)y * im->stride;
        float *out = &s->image[(size_t)y * im->width * 3];
        for (int x = 0; x < im->width; x++)
            for (int c = 0; c < 3; c++)
                out[x * 3 + c] = row[x * 3 + 2 - c];
    }
}

int train_dataset_sample(const train_dataset *d, size_t i, augment_sample *s, char *err,
                         size_t err_size)
{
    memset(s, 0, sizeof *s);
    const coco_image *meta = &d->coco.images[d->sample_image[i]];
    if (!meta->file_name)
        return fail(err, err_size, "image %lld: no file_name", (long long)meta->id);
    size_t path_size = strlen(d->image_dir) + strlen(meta->file_name) + 2;
    char *path = malloc(path_size);
    if (!path)
        return fail(err, err_size, "out of memory");
    snprintf(path, path_size, "%s/%s", d->image_dir, stored_name(meta->file_name));
    yolact_image im = {0};
    yolact_status st = yolact_image_load(path, &im);
    int status = -1;
    if (st != YOLACT_OK) {
        fail(err, err_size, "%s: %s", path, yolact_last_error());
        goto done;
    }
    if ((uint32_t)im.width != meta->width || (uint32_t)im.height != meta->height) {
        fail(err, err_size, "%s: %dx%d, but the annotations give image %lld as %ux%u", path,
             im.width, im.height, (long long)meta->id, meta->width, meta->height);
        goto done;
    }
    size_t first = d->first_object[i], count = d->first_object[i + 1] - first, crowds = 0;
    for (size_t j = 0; j < count; j++)
        crowds += d->coco.annotations.items[d->objects[first + j]].crowd != 0;
    if (augment_sample_init(s, im.width, im.height, (int)count, (int)crowds)) {
        fail(err, err_size, "%s: out of memory", path);
        goto done;
    }
    copy_as_bgr(&im, s);
    double scale[4] = {im.width, im.height, im.width, im.height};
    for (size_t j = 0; j < count; j++) {
        const coco_object *o = &d->coco.annotations.items[d->objects[first + j]];
        coco_rle_decode(&o->mask, &s->masks[j * (size_t)im.width * im.height]);
        const double corner[4] = {o->box[0], o->box[1], o->box[0] + o->box[2],
                                  o->box[1] + o->box[3]};
        /* relative, then absolute again: the official's two transforms, rounding and all */
        for (int c = 0; c < 4; c++)
            s->boxes[j][c] = corner[c] / scale[c] * scale[c];
        s->labels[j] = o->crowd ? -1 : (int)o->category;
    }
    status = 0;
done:
    yolact_image_free_pixels(&im);
    free(path);
    return status;
}
