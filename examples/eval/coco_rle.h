/* Run-length masks as the COCO tools hold them (column-major runs, the first a run of 0s) and
 * the operations the evaluation needs: decoding pycocotools' string form, rasterising
 * polygons and boxes, union, area, bounding box and IoU. Each reproduces maskApi.c's result
 * bit for bit, including its rounding and its quirks (written where they matter). */
#ifndef COCO_RLE_H
#define COCO_RLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct coco_rle {
    uint32_t h, w;
    uint32_t m;          /* number of runs */
    uint32_t *cnts;      /* malloc'ed; NULL when m is 0 */
} coco_rle;

/* The largest mask (h * w) accepted: counts and their positions stay in uint32 as maskApi.c
 * keeps them, with room to spare. */
#define COCO_MAX_PIXELS (1u << 30)
/* Polygon coordinates beyond this many pixels from the origin are refused: maskApi.c upsamples
 * by 5 into int, and the boundary it walks grows with the coordinates. */
#define COCO_MAX_COORD 1e6

void coco_rle_free(coco_rle *r);

/* pycocotools' compressed string (6 bits a character, deltas from the run two back) of an
 * h x w mask. 0, or -1 with the reason in err: a character outside '0'..'o', a value too long,
 * a negative run, or runs that do not add up to h * w. */
int coco_rle_from_string(coco_rle *r, const char *s, uint32_t h, uint32_t w, char *err,
                         size_t err_size);

/* Uncompressed runs (the counts list of a crowd annotation): the same checks. */
int coco_rle_from_counts(coco_rle *r, const uint32_t *counts, uint32_t m, uint32_t h, uint32_t w,
                         char *err, size_t err_size);

/* The most points a polygon's boundary may have at 5x (its perimeter in 5x pixels, about):
 * 64 M points take 1 GB while it is rasterised. */
#define COCO_MAX_BOUNDARY ((size_t)1 << 26)

/* rleFrPoly: the polygon xy[0..2k) (x, y pairs), k >= 1, rasterised at 5x and sampled back.
 * 0; -1 when out of memory; -2 when its boundary is longer than COCO_MAX_BOUNDARY.
 * Coordinates must lie within +-COCO_MAX_COORD (the caller checks). */
int coco_rle_from_polygon(coco_rle *r, const double *xy, size_t k, uint32_t h, uint32_t w);

/* rleFrBbox: the box (x, y, width, height) as the polygon of its corners; returns as
 * coco_rle_from_polygon. */
int coco_rle_from_box(coco_rle *r, const double box[4], uint32_t h, uint32_t w);

/* rleMerge (union) of n >= 1 masks of one size, each with at least one run, into out. 0, or
 * -1 when out of memory. */
int coco_rle_union(const coco_rle *masks, size_t n, coco_rle *out);

/* rleArea: pixels set. */
uint64_t coco_rle_area(const coco_rle *r);

/* rleDecode: the mask as h x w bytes, row-major (as annToMask gives it), 1 where set. The
 * runs add up to h * w (every constructor checks). */
void coco_rle_decode(const coco_rle *r, uint8_t *mask);

/* rleToBbox: (x, y, width, height) of the set pixels, all 0 for an empty mask. Where a run of
 * 1s wraps to the next column, the box spans the whole height, as in maskApi.c. */
void coco_rle_box(const coco_rle *r, double box[4]);

/* bbIou of one detection box against one ground-truth box: intersection over union, or over
 * the detection's area when the ground truth is a crowd. */
double coco_box_iou(const double dt[4], const double gt[4], int crowd);

/* rleIou of one detection mask against one ground-truth mask, given their boxes (from
 * coco_rle_box): 0 where the boxes do not overlap; -1 where they do but the sizes differ;
 * else intersection over union (over the detection's area for a crowd). */
double coco_rle_iou(const coco_rle *dt, const double dt_box[4], const coco_rle *gt,
                    const double gt_box[4], int crowd);

#endif
