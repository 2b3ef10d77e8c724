/* Reading a training parity case (parity_case.h): gt.json through jansson, its RLE masks
 * through the evaluation's decoder, the images through the library. */
#include "parity_case.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cli_error.h"
#include "../eval/coco_rle.h"

/* An RLE mask (pycocotools' dict: "size" [h, w], "counts" a string or a list) into out,
 * h x w bytes row-major. 0, or -1 with the reason in err. */
static int decode_mask(json_t *rle, uint32_t h, uint32_t w, uint8_t *out, char *err,
                       size_t err_size)
{
    json_t *counts = json_object_get(rle, "counts");
    coco_rle r = {0};
    int ok;
    if (json_is_string(counts)) {
        ok = coco_rle_from_string(&r, json_string_value(counts), h, w, err, err_size);
    } else if (json_is_array(counts)) {
        size_t m = json_array_size(counts);
        uint32_t *runs = malloc((m ? m : 1) * sizeof *runs);
        if (!runs) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < m; i++)
            runs[i] = (uint32_t)json_integer_value(json_array_get(counts, i));
        ok = coco_rle_from_counts(&r, runs, (uint32_t)m, h, w, err, err_size);
        free(runs);
    } else {
        snprintf(err, err_size, "\"counts\" is neither a string nor a list");
        return -1;
    }
    if (ok != 0)
        return -1;
    /* Column-major runs, the first of 0s. */
    size_t k = 0;
    for (uint32_t i = 0; i < r.m; i++)
        for (uint32_t j = 0; j < r.cnts[i]; j++, k++)
            out[(k % h) * w + k / h] = (uint8_t)(i & 1);
    coco_rle_free(&r);
    return 0;
}

/* The size [h, w] of an RLE mask, or 0. */
static int mask_size(json_t *rle, uint32_t *h, uint32_t *w)
{
    json_t *size = json_object_get(rle, "size");
    json_int_t hh = json_integer_value(json_array_get(size, 0));
    json_int_t ww = json_integer_value(json_array_get(size, 1));
    if (json_array_size(size) != 2 || hh < 1 || ww < 1 || hh > 65535 || ww > 65535)
        return 0;
    *h = (uint32_t)hh, *w = (uint32_t)ww;
    return 1;
}

/* The objects of image i from its gt.json list. 0, or -1 with the reason in err. */
static int read_objects(parity_case *c, int i, json_t *list, char *err, size_t err_size)
{
    if (!json_is_array(list)) {
        snprintf(err, err_size, "its value is not a list of objects");
        return -1;
    }
    const size_t n = json_array_size(list);
    uint32_t h = 1, w = 1;
    if (n > 0 && !mask_size(json_object_get(json_array_get(list, 0), "mask"), &h, &w)) {
        snprintf(err, err_size, "object 0 has no mask with a \"size\" [h, w]");
        return -1;
    }
    if (n > 4096) {
        snprintf(err, err_size, "%zu objects, more than 4096", n);
        return -1;
    }
    c->objects[i] = calloc(n ? n : 1, sizeof **c->objects);
    c->masks[i] = calloc(n ? n * h * w : 1, 1);
    if (!c->objects[i] || !c->masks[i]) {
        snprintf(err, err_size, "out of memory for %zu masks of %ux%u", n, w, h);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        json_t *o = json_array_get(list, k), *box = json_object_get(o, "box");
        json_t *label = json_object_get(o, "label"), *rle = json_object_get(o, "mask");
        uint32_t mh, mw;
        if (!json_is_object(o) || json_array_size(box) != 4 || !json_is_integer(label) ||
            !mask_size(rle, &mh, &mw)) {
            snprintf(err, err_size, "object %zu wants \"label\" (an integer), \"box\" (4 "
                     "numbers) and \"mask\" (RLE with a \"size\")", k);
            return -1;
        }
        if (mh != h || mw != w) {
            snprintf(err, err_size, "object %zu's mask is %ux%u, object 0's %ux%u: one size an "
                     "image", k, mw, mh, w, h);
            return -1;
        }
        uint8_t *mask = c->masks[i] + (size_t)k * h * w;
        char why[200];
        if (decode_mask(rle, h, w, mask, why, sizeof why) != 0) {
            snprintf(err, err_size, "object %zu's mask: %s", k, why);
            return -1;
        }
        float b[4];
        for (int d = 0; d < 4; d++)
            b[d] = (float)json_number_value(json_array_get(box, d));
        c->objects[i][k] = (yolact_gt_object){b[0], b[1], b[2], b[3],
                                              (int)json_integer_value(label),
                                              json_is_true(json_object_get(o, "crowd")), mask};
    }
    c->gt[i] = (yolact_ground_truth){(int)n, c->objects[i], (int)w, (int)h};
    return 0;
}

/* images_dir/name.png, else .jpg or .jpeg, loaded into image. */
static yolact_status load_image(const char *dir, const char *name, yolact_image *image,
                                char *path, size_t size)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg"};
    for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
        snprintf(path, size, "%s/%s%s", dir, name, exts[e]);
        if (access(path, F_OK) == 0)
            return yolact_image_load(path, image);
    }
    snprintf(path, size, "%s/%s.png", dir, name);
    return yolact_image_load(path, image);
}

int parity_case_read(parity_case *c, const char *program, const char *gt_path,
                     const char *images_dir)
{
    memset(c, 0, sizeof *c);
    json_error_t jerr;
    json_t *root = json_load_file(gt_path, 0, &jerr);
    if (!root) {
        fprintf(stderr, "%s: %s: %s (line %d); check the path and that it is gt.json of a "
                "parity case\n", program, gt_path, jerr.text, jerr.line);
        return -1;
    }
    json_t *images = json_object_get(root, "images");
    if (!json_is_object(images) || json_object_size(images) == 0) {
        fprintf(stderr, "%s: %s has no \"images\" object naming at least one image\n",
                program, gt_path);
        json_decref(root);
        return -1;
    }
    const int n = (int)json_object_size(images);
    c->names = calloc(n, sizeof *c->names);
    c->images = calloc(n, sizeof *c->images);
    c->gt = calloc(n, sizeof *c->gt);
    c->objects = calloc(n, sizeof *c->objects);
    c->masks = calloc(n, sizeof *c->masks);
    int failed = !c->names || !c->images || !c->gt || !c->objects || !c->masks;
    if (failed)
        fprintf(stderr, "%s: out of memory for %d images\n", program, n);
    const char *name;
    json_t *list;
    json_object_foreach(images, name, list) {
        if (failed)
            break;
        const int i = c->count++;
        char err[512], path[4096];
        c->names[i] = strdup(name);
        if (read_objects(c, i, list, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s: image \"%s\": %s\n", program, gt_path, name, err);
            failed = 1;
        } else {
            yolact_status s = load_image(images_dir, name, &c->images[i], path, sizeof path);
            failed = s != YOLACT_OK && cli_error(program, path, s);
        }
    }
    json_decref(root);
    if (failed)
        parity_case_free(c);
    return failed ? -1 : 0;
}

void parity_case_free(parity_case *c)
{
    for (int i = 0; i < c->count; i++) {
        free(c->names[i]);
        yolact_image_free_pixels(&c->images[i]);
        free(c->objects[i]);
        free(c->masks[i]);
    }
    free(c->names);
    free(c->images);
    free(c->gt);
    free(c->objects);
    free(c->masks);
    memset(c, 0, sizeof *c);
}
