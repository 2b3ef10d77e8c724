/* The images of a pass, as the mask kernels (kernels/yl_kernels.h) and the re-scoring's CPU
 * reference (cpu/maskiou.h) take them. */
#ifndef YL_OPS_MASK_PASS_H
#define YL_OPS_MASK_PASS_H

#include <stddef.h>

/* The images of a pass for the mask kernels, which take up to YL_MASK_PASS_IMAGES of
 * them a launch (this description travels as a kernel parameter, 1 KiB). The masks of a
 * pass are dense: image b's are masks first .. first + count - 1. */
#define YL_MASK_PASS_IMAGES 32
typedef struct yl_mask_image {
    int count;                  /* its detections: the first `count` of its list */
    int first;                  /* its first mask among the pass's */
    int height, width;          /* the image's size: its masks' after the resize */
    size_t out_offset;          /* where its bit masks start in the resize's output, bytes */
} yl_mask_image;

typedef struct yl_mask_pass {
    int num_images;
    yl_mask_image image[YL_MASK_PASS_IMAGES];
} yl_mask_pass;

#endif
