/* The official MultiBoxLoss's kernels (issue 29): lib/train/'s matching and loss terms on the
 * GPU, each mirroring its CPU reference (same arguments in the same order, plus a workspace
 * and a stream; every array device memory). Where the reference takes a yl_gt, the kernel
 * takes one too, a host struct whose boxes and labels (and for the masks' terms, the
 * downsampled masks beside it) point to device memory; its counts are read on the host.
 * Where the reference returns a double sum, the kernel writes it to a device double
 * (`loss`): per-block double partials over a fixed grid, summed by one thread in block
 * order, so the same inputs give the same bits on every run (but the sums are in another
 * order than the CPU's: each header comment says what is bit for bit). They check their
 * arguments, enqueue, and return a status; nothing synchronises or allocates. */
#ifndef YL_LOSS_KERNELS_H
#define YL_LOSS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "train/ground_truth.h"
#include "train/loss_config.h"
#include "train/mask_loss.h"
#include "yolact.h"

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;

/* The blocks of every loss sum (the partials a workspace holds). */
#define YL_LOSS_BLOCKS 64

/* yl_match: conf and idx (num_priors ints each) bit for bit, the CPU's float IoU, the forced
 * rounds' ties as its row-major scan breaks them (the first object, then the first prior).
 * A thread a prior for the overlaps, a block an object for each object's best prior, then
 * one block for the n rounds (only the objects whose best prior a round took are searched
 * again), a thread a prior for the thresholds and crowds. workspace:
 * yl_match_cuda_workspace_bytes(num_priors, objects) bytes, objects = gt->num_objects. */
size_t yl_match_cuda_workspace_bytes(int num_priors, int objects);
yolact_status yl_match_cuda(const yl_loss_config *cfg, const float *priors, int num_priors,
                            const yl_gt *gt, int *conf, int *idx, void *workspace,
                            struct CUstream_st *stream);

/* The workspace of the sums of the terms below that take YL_LOSS_WORKSPACE_BYTES. */
#define YL_LOSS_WORKSPACE_BYTES ((size_t)YL_LOSS_BLOCKS * sizeof(double))

/* yl_box_loss: grad (may be NULL) bit for bit where the device's logf is the C library's
 * (the emulation), else within an ulp of each target; *loss (device) the unscaled sum, in
 * another order. workspace: YL_LOSS_WORKSPACE_BYTES. */
yolact_status yl_box_loss_cuda(const float *loc, const float *priors, int num_priors,
                               const int *conf, const int *idx, const yl_gt *gt, float scale,
                               float *grad, double *loss, void *workspace,
                               struct CUstream_st *stream);

/* The largest of n floats (NaN ignored; -inf for none) into *max (device): the class
 * term's shift, the batch's largest logit. workspace: YL_LOSS_WORKSPACE_BYTES. */
yolact_status yl_loss_max_cuda(const float *x, size_t n, float *max, void *workspace,
                               struct CUstream_st *stream);

/* The positives (conf > 0) among n match targets (a batch's) into *count (device): the
 * divisor of B, C and M. workspace: YL_LOSS_WORKSPACE_BYTES. */
yolact_status yl_loss_count_positives_cuda(const int *conf, size_t n, int *count,
                                           void *workspace, struct CUstream_st *stream);

/* yl_class_loss with the shift in device memory (yl_loss_max_cuda's): the ranking losses in
 * float as the CPU's (bit for bit where expf and logf are the C library's), the hard
 * negatives the CPU's selection exactly for the same ranking losses (the num_neg-th key
 * found by a 32-step bisection of the keys' bits, its ties to the lower priors by a block
 * scan, one block), then a thread a row for the cross-entropy in double (the gradient bit
 * for bit where exp and log round as the C library's). workspace:
 * yl_class_loss_cuda_workspace_bytes(num_priors). */
size_t yl_class_loss_cuda_workspace_bytes(int num_priors);
yolact_status yl_class_loss_cuda(const float *logits, const int *conf, int num_priors,
                                 int classes, int negpos_ratio, const float *shift,
                                 float scale, float *grad, double *loss, void *workspace,
                                 struct CUstream_st *stream);

/* yl_segm_loss: a thread a pixel of a class; gt->labels in device memory, gt_masks (device)
 * (gt->num_objects, h, w). grad (may be NULL) bit for bit where exp and log1p round as the
 * C library's. workspace: YL_LOSS_WORKSPACE_BYTES. */
yolact_status yl_segm_loss_cuda(const float *logits, int classes, int h, int w,
                                const yl_gt *gt, const uint8_t *gt_masks, float scale,
                                float *grad, double *loss, void *workspace,
                                struct CUstream_st *stream);

/* yl_mask_loss: in's arrays (proto, coeff, conf, idx, gt_masks and gt's boxes) in device
 * memory, *rng the splitmix64 state in device memory (advanced as the CPU advances it).
 * The positives in prior order and masks_to_train's sample (one thread: integer, bit for
 * bit); then a block a mask: its logits in the CPU's float order, the pixel losses, their
 * double sum in a tree, and grad_coeff (a thread a coefficient summing the mask's pixels in
 * order, bit for bit where expf/logf/log1pf are the C library's); grad_proto a thread a
 * pixel summing the masks in sample order (the same). workspace:
 * yl_mask_loss_cuda_workspace_bytes(num_priors). */
size_t yl_mask_loss_cuda_workspace_bytes(int num_priors);
yolact_status yl_mask_loss_cuda(const yl_loss_config *cfg, const yl_mask_loss_image *in,
                                uint64_t *rng, float scale, float *grad_coeff,
                                float *grad_proto, double *loss, void *workspace,
                                struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif

#endif
