/* The CPU ops after the network: priors, box decoding, Fast NMS, mask assembly, the final
 * mask resize + threshold, and COCO RLE. Semantics are the official implementation's
 * (dbolya/yolact layers/functions/detection.py, layers/box_utils.py, layers/output_utils.py).
 * These are the reference for the CUDA kernels. */
#ifndef YL_CPU_POST_OPS_H
#define YL_CPU_POST_OPS_H

#include <stddef.h>
#include <stdint.h>

/* One prediction level's anchors. */
typedef struct yl_prior_level {
    int height, width;          /* the level's grid */
    int num_scales;             /* scales in pixels of the input */
    const float *scales;
    int num_aspect_ratios;
    const float *aspect_ratios;
} yl_prior_level;

/* Priors (cx, cy, w, h), relative to the input, for every level in order; inside a level
 * row-major over (y, x); inside a cell for each scale, for each aspect ratio (the official
 * make_priors loop with one aspect-ratio list per level):
 *   ar' = sqrt(ar), w = scale * ar' / input_size, h = scale / ar' / input_size,
 *   h = w when square_anchors.
 * Returns the number of priors written (call with out == NULL to count). */
int yl_make_priors(const yl_prior_level *levels, int num_levels, int input_size,
                   int square_anchors, float *out);

/* Decode (variances 0.1, 0.2) one prior's regression into (x1, y1, x2, y2) relative. */
void yl_decode_box(const float loc[4], const float prior[4], float box[4]);

/* Detection settings. */
typedef struct yl_detect_params {
    int num_classes;            /* including background (column 0 of conf) */
    float conf_threshold;       /* 0.05 */
    int top_k;                  /* 200 */
    float nms_threshold;        /* 0.5 */
    int max_detections;         /* 100 */
} yl_detect_params;

/* A kept detection: box relative (x1, y1, x2, y2) as decoded, the prior it came from. */
typedef struct yl_raw_detection {
    int prior;
    int class_index;            /* 0-based, background excluded */
    float score;
    float box[4];
} yl_raw_detection;

/* Scratch for yl_detect_cpu, sized once for num_priors and the params. */
size_t yl_detect_workspace_bytes(int num_priors, const yl_detect_params *params);

/* Detect with Fast NMS as the official Detect.fast_nms computes it:
 *   candidates = priors whose best foreground score > conf_threshold (ascending prior order);
 *   per class: its scores over all candidates sorted descending (ties: lower candidate
 *   first), the first top_k kept; IoU matrix of their decoded boxes, upper triangle
 *   (j > i), column max; kept iff max <= nms_threshold (suppressed boxes still suppress);
 *   then all kept of all classes sorted by descending score (ties: lower class, then
 *   rank), the first max_detections.
 * conf: (num_priors, num_classes) softmaxed; loc: (num_priors, 4); priors: (num_priors, 4).
 * Writes up to max_detections to out, returns how many. */
int yl_detect_cpu(const float *loc, const float *conf, const float *priors, int num_priors,
                  const yl_detect_params *params, yl_raw_detection *out, void *workspace);

/* The official postprocess's score_threshold on yl_detect_cpu's list (by descending score):
 * how many of its n detections, from the first, score strictly above threshold — the ones
 * it keeps. Runs before the masks, so none is made for a detection that is dropped. */
int yl_keep_scores_above_cpu(const yl_raw_detection *detections, int n, float threshold);

/* IoU (jaccard) of two (x1, y1, x2, y2) boxes as box_utils.jaccard computes it. */
float yl_box_iou(const float a[4], const float b[4]);

/* Linear mask assembly at prototype resolution, fused with sigmoid and the box crop:
 *   proto: (proto_h, proto_w, k), coeffs: (n, k), boxes: (n, 4) relative x1y1x2y2
 *   out:   (n, proto_h, proto_w) = sigmoid(proto . coeff) where the pixel is inside the
 *          box crop (official crop with padding 1, in float32:
 *          x1 = max(min(bx1*w, bx2*w) - 1, 0), x2 = min(max(bx1*w, bx2*w) + 1, w);
 *          keep column c iff x1 <= c < x2, rows likewise), else 0. */
void yl_masks_assemble_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeffs, const float *boxes, int n, float *out);

/* Bilinear resize of one (in_h, in_w) mask to (out_h, out_w) (yl_bilinear_axis tables),
 * thresholded > 0.5 and packed one bit a pixel, most significant bit first, rows of
 * out_stride bytes. workspace: yl_mask_resize_workspace_bytes(in_w, out_h, out_w) bytes. */
size_t yl_mask_resize_workspace_bytes(int in_w, int out_h, int out_w);
void yl_mask_resize_threshold_cpu(const float *in, int in_h, int in_w, uint8_t *out,
                                  int out_h, int out_w, size_t out_stride, void *workspace);

/* Official box sanitize for the output (padding 0): x1 = max(min(a, b) * size, 0),
 * x2 = min(max(a, b) * size, size), in float32. */
void yl_sanitize_coordinates(float a, float b, int size, float *lo, float *hi);

/* COCO compressed RLE (pycocotools' string form) of a packed bitmask (rows of stride bytes,
 * MSB first), column-major runs starting with a 0-run. Writes at most cap bytes including
 * the terminating NUL; returns the length the full string needs (excluding the NUL). */
size_t yl_rle_encode(const uint8_t *bits, int width, int height, size_t stride, char *out,
                     size_t cap);
/* Decode a COCO compressed RLE string into a packed bitmask; returns 0 on success, -1 on a
 * malformed string or runs that do not add up to width * height. */
int yl_rle_decode(const char *rle, int width, int height, uint8_t *bits, size_t stride);

#endif
