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
#include "yolact.h"

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;

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

#ifdef __cplusplus
}
#endif

#endif
