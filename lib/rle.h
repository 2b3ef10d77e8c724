/* COCO compressed RLE of the result's masks (yolact_detection.rle, yolact-detect's JSON):
 * pycocotools' string form. */
#ifndef YL_RLE_H
#define YL_RLE_H

#include <stddef.h>
#include <stdint.h>

/* COCO compressed RLE (pycocotools' string form) of a packed bitmask (rows of stride bytes,
 * MSB first), column-major runs starting with a 0-run. Writes at most cap bytes including
 * the terminating NUL; returns the length the full string needs (excluding the NUL). */
size_t yl_rle_encode(const uint8_t *bits, int width, int height, size_t stride, char *out,
                     size_t cap);

/* Decode a COCO compressed RLE string into a packed bitmask; returns 0 on success, -1 on a
 * malformed string or runs that do not add up to width * height. */
int yl_rle_decode(const char *rle, int width, int height, uint8_t *bits, size_t stride);

#endif
