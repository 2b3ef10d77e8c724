/* YOLACT++'s mask re-scoring on the CUDA backend: the mask-IoU net (cpu/maskiou.h) on the
 * detections' cropped sigmoid masks at prototype resolution, every layer our convolution
 * (yl_conv2d_cuda, bias and ReLU in its epilogue) at the session's precision, then
 * yl_mask_rescore_cuda: mask_score = box score x the predicted IoU of the detection's class,
 * as the CPU backend computes it (no threshold on the masks first: the official postprocess
 * feeds the net the sigmoid masks). Weights are packed and uploaded and buffers allocated at
 * creation; a run only enqueues. A run takes a pass's masks, of up to YL_MASK_PASS_IMAGES
 * images (yl_kernels.h), in chunks of up to 64 whatever image they belong to. */
#ifndef YL_CUDA_RESCORE_H
#define YL_CUDA_RESCORE_H

#include "ops/detect.h"
#include "ops/maskiou.h"
#include "yl_kernels.h"
#include "yolact.h"

struct CUstream_st;

typedef struct yl_cuda_maskiou yl_cuda_maskiou;

/* The net (its weights are read here, not kept, and uploaded on stream) for runs of up to
 * max_masks masks; precision FP32 or FP16. */
yolact_status yl_cuda_maskiou_create(const yl_maskiou_net *net, int max_masks,
                                     yolact_precision precision, struct CUstream_st *stream,
                                     yl_cuda_maskiou **out);
void yl_cuda_maskiou_destroy(yl_cuda_maskiou *m); /* NULL is fine */

/* The device memory the net holds (0 for NULL). */
size_t yl_cuda_maskiou_device_bytes(const yl_cuda_maskiou *m);

/* masks: the pass's (its masks in all, at most max_masks; (in_h, in_w) each), device memory
 * as are detections and mask_scores, laid out as yl_mask_rescore_cuda takes them: enqueues
 * the net and the re-scoring on stream (no allocation, no sync). */
yolact_status yl_cuda_maskiou_run(yl_cuda_maskiou *m, const float *masks,
                                  const yl_mask_pass *pass, const yl_raw_detection *detections,
                                  size_t detection_stride, float *mask_scores,
                                  size_t score_stride, struct CUstream_st *stream);

#endif
