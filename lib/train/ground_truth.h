/* The ground truth of one training image, checked and put in the order the official loss
 * takes it (crowd objects last): every hostile input (NaN, boxes outside the image or
 * empty, labels out of range, missing masks) is a status with a message, never a crash. */
#ifndef YL_TRAIN_GROUND_TRUTH_H
#define YL_TRAIN_GROUND_TRUTH_H

#include <stdint.h>

#include "yolact.h"

/* One object as a caller gives it. box: (x1, y1, x2, y2) relative to the image, x2/y2 one
 * past the last pixel; label: the network's class minus one (0 .. num_classes - 2; unused
 * for a crowd); mask: (mask_h, mask_w) bytes, nonzero = object (borrowed; unused for a
 * crowd, may be NULL there). */
typedef struct yl_gt_object {
    float box[4];
    int label;
    int crowd;
    const uint8_t *mask;
} yl_gt_object;

/* The checked ground truth: the num_objects non-crowd objects first (in the caller's order),
 * then the num_crowds crowd boxes. Owns boxes and labels; masks are borrowed. */
typedef struct yl_gt {
    int num_objects, num_crowds;
    float *boxes;              /* (num_objects + num_crowds, 4), each ordered x1 < x2, y1 < y2 */
    int *labels;               /* (num_objects) */
    const uint8_t **masks;     /* (num_objects) */
    int mask_h, mask_w;
} yl_gt;

/* Check count objects and build *gt. A box's corners may come in either order (they are
 * ordered) and may reach outside [0, 1] (they are clipped to it); a box that is not finite
 * or has no area inside the image, a label out of range, a missing mask or mask size < 1 is
 * YOLACT_ERR_INVALID_ARGUMENT naming the object. num_classes counts the background. */
yolact_status yl_gt_prepare(const yl_gt_object *objects, int count, int mask_h, int mask_w,
                            int num_classes, yl_gt *gt);
void yl_gt_free(yl_gt *gt);

#endif
