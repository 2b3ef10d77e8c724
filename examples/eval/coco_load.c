/* COCO annotation and results files into the evaluation's tables. jansson parses (it names
 * the line and column of a syntax error); this file checks each field the evaluation reads
 * and names the entry and field that is wrong. */
#include "coco_load.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "coco_segm.h"

typedef struct place {
    const char *file;
    char *err;
    size_t size;
} place;

/* "file: <message>"; returns -1. */
static int fail(const place *p, const char *fmt, ...)
{
    int n = snprintf(p->err, p->size, "%s: ", p->file);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->size)
        vsnprintf(p->err + n, p->size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_failed(const place *p, const json_error_t *je)
{
    if (je->line < 1)
        return fail(p, "%s", je->text);
    return snprintf(p->err, p->size, "%s:%d:%d: %s", p->file, je->line, je->column, je->text),
           -1;
}

/* obj[key] as an integer into *out: 0, else -1 after naming section[i].key. */
static int get_int(const place *p, const json_t *obj, const char *key, const char *section,
                   size_t i, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return fail(p, "%s[%zu].%s: %s", section, i, key, v ? "must be an integer" : "missing");
    *out = json_integer_value(v);
    return 0;
}

/* obj[key] as a finite number. */
static int get_number(const place *p, const json_t *obj, const char *key, const char *section,
                      size_t i, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return fail(p, "%s[%zu].%s: %s", section, i, key, v ? "must be a number" : "missing");
    *out = json_number_value(v);
    return 0;
}

/* obj["bbox"] as 4 finite numbers. */
static int get_box(const place *p, const json_t *obj, const char *section, size_t i,
                   double box[4])
{
    const json_t *v = json_object_get(obj, "bbox");
    if (json_array_size(v) != 4)
        return fail(p, "%s[%zu].bbox: %s", section, i,
                    v ? "must be [x, y, width, height]" : "missing");
    for (size_t k = 0; k < 4; k++) {
        const json_t *c = json_array_get(v, k);
        if (!json_is_number(c) || !isfinite(json_number_value(c)))
            return fail(p, "%s[%zu].bbox[%zu]: must be a number", section, i, k);
        box[k] = json_number_value(c);
    }
    return 0;
}

/* The list root[key]. */
static const json_t *get_list(const place *p, const json_t *root, const char *key)
{
    const json_t *v = json_object_get(root, key);
    if (!json_is_array(v))
        fail(p, "\"%s\": %s", key, v ? "must be a list" : "missing");
    return json_is_array(v) ? v : NULL;
}

/* Ids in tables sorted by id (the first field of each entry) must be unique. */
static int compare_ids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int check_unique(const place *p, const void *table, size_t count, size_t size,
                        const char *section)
{
    for (size_t i = 1; i < count; i++) {
        int64_t id = *(const int64_t *)((const char *)table + i * size);
        if (id == *(const int64_t *)((const char *)table + (i - 1) * size))
            return fail(p, "%s: id %lld appears twice", section, (long long)id);
    }
    return 0;
}

static char *copy_string(const json_t *v, const char *fallback)
{
    return strdup(json_is_string(v) ? json_string_value(v) : fallback);
}

static int load_images(const place *p, const json_t *root, coco_dataset *d)
{
    const json_t *list = get_list(p, root, "images");
    if (!list)
        return -1;
    size_t n = json_array_size(list), i;
    if (!(d->images = calloc(n ? n : 1, sizeof *d->images)))
        return fail(p, "out of memory");
    json_t *img;
    json_array_foreach(list, i, img) {
        coco_image *im = &d->images[d->num_images];
        if (get_int(p, img, "id", "images", i, &im->id))
            return -1;
        d->num_images++;
        for (int k = 0; k < 2; k++) {
            const char *key = k ? "height" : "width";
            const json_t *v = json_object_get(img, key);
            json_int_t x = json_integer_value(v);
            if (v && (!json_is_integer(v) || x < 1 || x > COCO_MAX_PIXELS))
                return fail(p, "images[%zu].%s: must be a whole number of pixels", i, key);
            *(k ? &im->height : &im->width) = (uint32_t)x;
        }
        const json_t *name = json_object_get(img, "file_name");
        if (name && !(im->file_name = copy_string(name, "")))
            return fail(p, "out of memory");
    }
    qsort(d->images, n, sizeof *d->images, compare_ids);
    return check_unique(p, d->images, n, sizeof *d->images, "images");
}

static int load_categories(const place *p, const json_t *root, coco_dataset *d)
{
    const json_t *list = get_list(p, root, "categories");
    if (!list)
        return -1;
    size_t n = json_array_size(list), i;
    if (n > COCO_MAX_CATEGORIES)
        return fail(p, "\"categories\": %zu of them; at most %d are evaluated", n,
                    COCO_MAX_CATEGORIES);
    if (!(d->categories = calloc(n ? n : 1, sizeof *d->categories)))
        return fail(p, "out of memory");
    json_t *cat;
    json_array_foreach(list, i, cat) {
        coco_category *c = &d->categories[d->num_categories];
        if (get_int(p, cat, "id", "categories", i, &c->id))
            return -1;
        d->num_categories++;
        if (!(c->name = copy_string(json_object_get(cat, "name"), "")))
            return fail(p, "out of memory");
    }
    qsort(d->categories, n, sizeof *d->categories, compare_ids);
    return check_unique(p, d->categories, n, sizeof *d->categories, "categories");
}

/* o->mask from seg on image im, and its box. */
static int read_mask(const place *p, const json_t *seg, const coco_image *im, const char *section,
                     size_t i, coco_object *o)
{
    char why[256];
    if (!seg)
        return fail(p, "%s[%zu].segmentation: missing", section, i);
    if (coco_segm_to_rle(seg, im->height, im->width, &o->mask, why, sizeof why))
        return fail(p, "%s[%zu].segmentation: %s", section, i, why);
    coco_rle_box(&o->mask, o->mask_box);
    return 0;
}

/* One annotation into o; 1 when it belongs to no listed image or category (skipped). */
static int load_annotation(const place *p, const json_t *a, size_t i, const coco_dataset *d,
                           int want, coco_object *o)
{
    int64_t image_id = 0, category_id = 0;
    if (!json_is_object(a))
        return fail(p, "annotations[%zu]: must be an object", i);
    if (get_int(p, a, "image_id", "annotations", i, &image_id) ||
        get_int(p, a, "category_id", "annotations", i, &category_id))
        return -1;
    long image = coco_image_index(d, image_id), category = coco_category_index(d, category_id);
    if (image < 0 || category < 0)
        return 1;
    o->image = (size_t)image;
    o->category = (size_t)category;
    if (get_int(p, a, "id", "annotations", i, &o->id) ||
        get_number(p, a, "area", "annotations", i, &o->area))
        return -1;
    const json_t *crowd = json_object_get(a, "iscrowd");
    if (crowd && !json_is_integer(crowd) && !json_is_boolean(crowd))
        return fail(p, "annotations[%zu].iscrowd: must be 0 or 1", i);
    o->crowd = json_is_true(crowd) || json_integer_value(crowd) != 0;
    if ((want & COCO_WANT_BOXES) && get_box(p, a, "annotations", i, o->box))
        return -1;
    if (want & COCO_WANT_MASKS)
        return read_mask(p, json_object_get(a, "segmentation"), &d->images[image],
                         "annotations", i, o);
    return 0;
}

static int load_annotation_list(const place *p, const json_t *root, coco_dataset *d, int want)
{
    const json_t *list = get_list(p, root, "annotations");
    if (!list)
        return -1;
    size_t n = json_array_size(list), i;
    coco_objects *out = &d->annotations;
    if (!(out->items = calloc(n ? n : 1, sizeof *out->items)))
        return fail(p, "out of memory");
    json_t *a;
    json_array_foreach(list, i, a) {
        int r = load_annotation(p, a, i, d, want, &out->items[out->count]);
        if (r < 0) {
            coco_rle_free(&out->items[out->count].mask);
            return -1;
        }
        if (r == 0)
            out->count++;
    }
    int64_t *ids = malloc((out->count + 1) * sizeof *ids);
    if (!ids)
        return fail(p, "out of memory");
    for (i = 0; i < out->count; i++)
        ids[i] = out->items[i].id;
    qsort(ids, out->count, sizeof *ids, compare_ids);
    int status = check_unique(p, ids, out->count, sizeof *ids, "annotations");
    free(ids);
    return status;
}

/* The data set from a parsed file (NULL: jansson's error in je). */
static int annotations_from_json(json_t *root, const json_error_t *je, const place *p, int want,
                                 coco_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!root)
        return parse_failed(p, je);
    int status = -1;
    if (!json_is_object(root))
        fail(p, "the top level must be an object with images, annotations and categories");
    else if (!load_images(p, root, out) && !load_categories(p, root, out) &&
             !load_annotation_list(p, root, out, want))
        status = 0;
    json_decref(root);
    if (status)
        coco_dataset_free(out);
    return status;
}

/* The whole of f parsed: jansson reads a buffer several times faster than a stream (its
 * stream reader takes a character at a time through getc). NULL with the reason in je. */
static json_t *parse_file(FILE *f, json_error_t *je)
{
    size_t size = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    while (buf) {
        size += fread(buf + size, 1, cap - size, f);
        if (size < cap)
            break;
        char *grown = realloc(buf, cap *= 2);
        if (!grown)
            free(buf);
        buf = grown;
    }
    if (!buf || ferror(f)) {
        free(buf);
        snprintf(je->text, sizeof je->text, "%s", buf ? strerror(errno) : "out of memory");
        je->line = -1;
        return NULL;
    }
    json_t *root = json_loadb(buf, size, 0, je);
    free(buf);
    return root;
}

int coco_load_annotations(const char *path, int want, coco_dataset *out, char *err,
                          size_t err_size)
{
    place p = {path, err, err_size};
    json_error_t je;
    FILE *f = fopen(path, "rb");
    if (!f) {
        memset(out, 0, sizeof *out);
        return fail(&p, "cannot open: %s", strerror(errno));
    }
    json_t *root = parse_file(f, &je);
    fclose(f);
    return annotations_from_json(root, &je, &p, want, out);
}

int coco_parse_annotations(const char *data, size_t size, const char *name, int want,
                           coco_dataset *out, char *err, size_t err_size)
{
    place p = {name, err, err_size};
    json_error_t je;
    json_t *root = json_loadb(data, size, 0, &je);
    return annotations_from_json(root, &je, &p, want, out);
}

/* One detection into o; 1 when its category is not listed (dropped). from_box: the first
 * detection had a box, so every one must, and its area is the box's. */
static int load_detection(const place *p, const json_t *r, size_t i, const coco_dataset *gt,
                          int want, int from_box, coco_object *o)
{
    int64_t image_id = 0, category_id = 0;
    if (!json_is_object(r))
        return fail(p, "[%zu]: must be an object", i);
    if (get_int(p, r, "image_id", "", i, &image_id) ||
        get_int(p, r, "category_id", "", i, &category_id) ||
        get_number(p, r, "score", "", i, &o->score))
        return -1;
    o->mask_score = o->score;
    if (json_object_get(r, "mask_score") && get_number(p, r, "mask_score", "", i, &o->mask_score))
        return -1;
    long image = coco_image_index(gt, image_id), category = coco_category_index(gt, category_id);
    if (image < 0)
        return fail(p, "[%zu].image_id: %lld is not an image of the annotation file", i,
                    (long long)image_id);
    if (category < 0)
        return 1;
    o->image = (size_t)image;
    o->category = (size_t)category;
    o->id = (int64_t)i + 1;
    const coco_image *im = &gt->images[image];
    const json_t *seg = json_object_get(r, "segmentation");
    if (from_box) {
        if (get_box(p, r, "", i, o->box))
            return -1;
        o->area = o->box[2] * o->box[3];
        if (!(want & COCO_WANT_MASKS))
            return 0;
        if (seg)
            return read_mask(p, seg, im, "", i, o);
        if ((uint64_t)im->width * im->height == 0)
            return fail(p, "[%zu]: its image has no width and height for its box's mask", i);
        double far = fmax(fmax(fabs(o->box[0]), fabs(o->box[1])),
                          fmax(fabs(o->box[0] + o->box[2]), fabs(o->box[1] + o->box[3])));
        int made = far > COCO_MAX_COORD ? -2
                   : coco_rle_from_box(&o->mask, o->box, im->height, im->width);
        if (made == -2)
            return fail(p, "[%zu].bbox: too large to rasterise as its mask", i);
        if (made)
            return fail(p, "out of memory");
        coco_rle_box(&o->mask, o->mask_box);
        return 0;
    }
    if (read_mask(p, seg, im, "", i, o))
        return -1;
    o->area = (double)coco_rle_area(&o->mask);
    const json_t *box = json_object_get(r, "bbox");
    if (json_array_size(box) > 0) {
        if (get_box(p, r, "", i, o->box))
            return -1;
    } else {
        memcpy(o->box, o->mask_box, sizeof o->box);
    }
    if (!(want & COCO_WANT_MASKS))
        coco_rle_free(&o->mask);
    return 0;
}

int coco_load_results(FILE *f, const char *path, const coco_dataset *gt, int want,
                      coco_objects *out, char *err, size_t err_size)
{
    place p = {path, err, err_size};
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = parse_file(f, &je);
    if (!root)
        return parse_failed(&p, &je);
    int status = -1;
    size_t n = json_array_size(root), i;
    const json_t *first = json_array_get(root, 0);
    int from_box = json_array_size(json_object_get(first, "bbox")) > 0;
    if (!json_is_array(root)) {
        fail(&p, "the top level must be a list of detections");
    } else if (n && !from_box && !json_object_get(first, "segmentation")) {
        fail(&p, "[0]: a detection needs a bbox or a segmentation");
    } else if (!(out->items = calloc(n ? n : 1, sizeof *out->items))) {
        fail(&p, "out of memory");
    } else {
        status = 0;
        json_t *r;
        json_array_foreach(root, i, r) {
            int got = load_detection(&p, r, i, gt, want, from_box, &out->items[out->count]);
            if (got < 0) {
                coco_rle_free(&out->items[out->count].mask);
                status = -1;
                break;
            }
            out->count += got == 0;
        }
    }
    json_decref(root);
    if (status)
        coco_objects_free(out);
    return status;
}
