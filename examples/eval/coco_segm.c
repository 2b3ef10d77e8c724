/* Segmentations to runs, with pycocotools' reading of each form: a list of polygons,
 * rasterised and united; a dict with a counts list is uncompressed runs, with a string the
 * compressed form. Runs are sized by their own "size", polygons by the image. A first polygon
 * of 4 numbers is refused: pycocotools' frPyObjects takes such a list for boxes and fails. */
#include "coco_segm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The numbers of a polygon into xy; 0 or -1 with the reason in err. */
static int read_coordinates(const json_t *poly, double *xy, char *err, size_t err_size)
{
    size_t i;
    json_t *v;
    json_array_foreach(poly, i, v) {
        double c = json_number_value(v);
        if (!json_is_number(v) || !isfinite(c) || fabs(c) > COCO_MAX_COORD) {
            snprintf(err, err_size, "coordinate %zu is %s", i,
                     json_is_number(v) ? "beyond +-1e6" : "not a number");
            return -1;
        }
        xy[i] = c;
    }
    return 0;
}

/* Polygons rasterised and united. */
static int polygons_to_rle(const json_t *list, uint32_t h, uint32_t w, coco_rle *out, char *err,
                           size_t err_size)
{
    size_t n = json_array_size(list);
    if (n == 0) {
        snprintf(err, err_size, "empty list of polygons");
        return -1;
    }
    if ((uint64_t)h * w == 0 || (uint64_t)h * w > COCO_MAX_PIXELS) {
        snprintf(err, err_size, "polygons need the image's width and height (1 to 2^30 pixels)");
        return -1;
    }
    coco_rle *parts = calloc(n, sizeof *parts);
    double *xy = NULL;
    int status = -1;
    size_t i, done = 0;
    if (!parts)
        goto oom;
    json_t *poly;
    json_array_foreach(list, i, poly) {
        size_t len = json_array_size(poly);
        char why[128] = "";
        if (!json_is_array(poly))
            snprintf(why, sizeof why, "is not a list of numbers");
        else if (len < 2 || (i == 0 && len <= 4))
            snprintf(why, sizeof why, "has %zu numbers; %s", len,
                     i == 0 ? "the first polygon needs at least 5 (pycocotools takes 4 for a box)"
                            : "a polygon needs at least 2");
        if (why[0]) {
            snprintf(err, err_size, "polygon %zu %s", i, why);
            goto done;
        }
        free(xy);
        if (!(xy = malloc(len * sizeof *xy)))
            goto oom;
        if (read_coordinates(poly, xy, why, sizeof why)) {
            snprintf(err, err_size, "polygon %zu: %s", i, why);
            goto done;
        }
        int made = coco_rle_from_polygon(&parts[i], xy, len / 2, h, w);
        if (made == -2) {
            snprintf(err, err_size, "polygon %zu: its boundary is over %zu points long at 5x",
                     i, COCO_MAX_BOUNDARY);
            goto done;
        }
        if (made)
            goto oom;
        done = i + 1;
    }
    if (coco_rle_union(parts, n, out))
        goto oom;
    status = 0;
    goto done;
oom:
    snprintf(err, err_size, "out of memory");
done:
    for (i = 0; i < done; i++)
        coco_rle_free(&parts[i]);
    free(parts);
    free(xy);
    return status;
}

/* {"size": [h, w], "counts": [...] or "..."}. */
static int runs_to_rle(const json_t *dict, coco_rle *out, char *err, size_t err_size)
{
    const json_t *size = json_object_get(dict, "size"), *counts = json_object_get(dict, "counts");
    json_int_t h = json_integer_value(json_array_get(size, 0));
    json_int_t w = json_integer_value(json_array_get(size, 1));
    if (json_array_size(size) != 2 || !json_is_integer(json_array_get(size, 0)) ||
        !json_is_integer(json_array_get(size, 1)) || h < 1 || w < 1 || h > COCO_MAX_PIXELS ||
        w > COCO_MAX_PIXELS || h * w > COCO_MAX_PIXELS) {
        snprintf(err, err_size, "\"size\" must be [height, width], 1 to 2^30 pixels");
        return -1;
    }
    if (json_is_string(counts))
        return coco_rle_from_string(out, json_string_value(counts), (uint32_t)h, (uint32_t)w, err,
                                    err_size);
    if (!json_is_array(counts)) {
        snprintf(err, err_size, "\"counts\" must be a string or a list of runs");
        return -1;
    }
    size_t m = json_array_size(counts), i;
    uint32_t *runs = malloc((m + 1) * sizeof *runs);
    if (!runs) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    json_t *v;
    json_array_foreach(counts, i, v) {
        json_int_t c = json_integer_value(v);
        if (!json_is_integer(v) || c < 0 || c > UINT32_MAX) {
            snprintf(err, err_size, "\"counts\" entry %zu is not a run length", i);
            free(runs);
            return -1;
        }
        runs[i] = (uint32_t)c;
    }
    int status = coco_rle_from_counts(out, runs, (uint32_t)m, (uint32_t)h, (uint32_t)w, err,
                                      err_size);
    free(runs);
    return status;
}

int coco_segm_to_rle(const json_t *segm, uint32_t h, uint32_t w, coco_rle *out, char *err,
                     size_t err_size)
{
    if (json_is_array(segm))
        return polygons_to_rle(segm, h, w, out, err, err_size);
    if (json_is_object(segm))
        return runs_to_rle(segm, out, err, err_size);
    snprintf(err, err_size, "must be a list of polygons or a {\"size\", \"counts\"} dict");
    return -1;
}
