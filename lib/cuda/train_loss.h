/* The official MultiBoxLoss on the GPU for the CUDA training pass: yl_multibox_loss
 * (train/multibox_loss.h) over the network's outputs in device memory, through the loss
 * kernels (kernels/yl_loss_kernels.h), so that only the batch's positive count and the four
 * terms' per-image sums come back to the host. The ground truth (host memory: boxes, labels,
 * the masks downsampled on the host as the CPU's loss downsamples them) is uploaded. */
#ifndef YL_CUDA_TRAIN_LOSS_H
#define YL_CUDA_TRAIN_LOSS_H

#include "train/multibox_loss.h"

struct CUstream_st;

/* Device buffers grown to the largest batch seen (ground truth, targets, workspaces). */
typedef struct yl_cuda_loss yl_cuda_loss;

yolact_status yl_cuda_loss_create(yl_cuda_loss **out);
void yl_cuda_loss_destroy(yl_cuda_loss *l);

/* yl_multibox_loss with dims->priors, out[b]'s and grads[b]'s arrays in device memory (gt
 * and losses host memory), enqueued on stream, which it synchronises twice (for the
 * positives' count, and for the sums). The gradients (when grads) as the CPU's bit for bit
 * where the kernels' transcendentals are the C library's, each times grad_factor (FP16's
 * loss scale; 1 leaves them the CPU's: each term's factor is multiplied by it in double);
 * the losses' sums, never scaled, within the loss kernels' tolerance of the CPU's. */
yolact_status yl_cuda_multibox_loss(yl_cuda_loss *l, const yl_loss_config *cfg,
                                    const yl_loss_dims *dims, int batch,
                                    const yl_loss_outputs *out, const yl_gt *gt,
                                    yl_losses *losses, const yl_loss_grads *grads,
                                    double grad_factor, struct CUstream_st *stream);

#endif
