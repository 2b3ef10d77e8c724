/* Detect as every backend runs it: its parameters and the detections it keeps, before the
 * masks (semantics: yl_detect_cpu in lib/cpu/post_ops.h, the official Detect.fast_nms). */
#ifndef YL_OPS_DETECT_H
#define YL_OPS_DETECT_H

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

#endif
