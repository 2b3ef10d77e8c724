/* The COCO protocol's fixed parameters, as pycocotools' Params.setDetParams sets them: 10 IoU
 * thresholds, 101 recall points, 4 area ranges, 3 detection limits. */
#ifndef COCO_PARAMS_H
#define COCO_PARAMS_H

#define COCO_T 10           /* IoU thresholds .50:.05:.95 */
#define COCO_R 101          /* recall points 0:.01:1 */
#define COCO_A 4            /* area ranges: all, small, medium, large */
#define COCO_M 3            /* detections per image: 1, 10, 100 */

/* The thresholds as np.linspace computes them (start + i * step, the last exactly the end). */
double coco_iou_threshold(int t);
double coco_recall_threshold(int r);

/* Area range a: [lo, hi] in pixels; its label ("all", "small", "medium", "large"). */
void coco_area_range(int a, double *lo, double *hi);
const char *coco_area_label(int a);

/* The detection limit m. */
int coco_max_detections(int m);

#endif
