/* Look-ups in and release of the data set's tables. */
#include "coco_data.h"

#include <stdlib.h>

static long find_id(const void *table, size_t count, size_t size, int64_t id)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t at = *(const int64_t *)((const char *)table + mid * size);
        if (at == id)
            return (long)mid;
        if (at < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long coco_image_index(const coco_dataset *d, int64_t id)
{
    return find_id(d->images, d->num_images, sizeof *d->images, id);
}

long coco_category_index(const coco_dataset *d, int64_t id)
{
    return find_id(d->categories, d->num_categories, sizeof *d->categories, id);
}

void coco_keep_images(coco_dataset *d, const unsigned char *keep)
{
    coco_objects *a = &d->annotations;
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        if (keep[a->items[i].image])
            a->items[n++] = a->items[i];
        else
            coco_rle_free(&a->items[i].mask);
    }
    a->count = n;
}

void coco_objects_free(coco_objects *o)
{
    for (size_t i = 0; i < o->count; i++)
        coco_rle_free(&o->items[i].mask);
    free(o->items);
    o->items = NULL;
    o->count = 0;
}

void coco_dataset_free(coco_dataset *d)
{
    for (size_t i = 0; i < d->num_images; i++)
        free(d->images[i].file_name);
    for (size_t i = 0; i < d->num_categories; i++)
        free(d->categories[i].name);
    free(d->images);
    free(d->categories);
    coco_objects_free(&d->annotations);
    d->images = NULL;
    d->categories = NULL;
    d->num_images = d->num_categories = 0;
}
