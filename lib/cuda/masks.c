/* The CUDA backend's pass after Detect: the counts read back, the masks of up to
 * YL_MASK_PASS_IMAGES images a launch (with YOLACT++'s re-scoring), and one download of the
 * detections and masks into page-locked memory, handed out an image at a time. */
#include "cuda/session.h"
#include "yl_kernels.h"

/* Image b's detections in a results block (device or host): max_detections of them, then
 * room for as many mask scores (mask_scores_of). */
static yl_raw_detection *detections_of(const cuda_state *st, yl_raw_detection *results, int b)
{
    return results + (size_t)b * st->result_stride;
}

static float *mask_scores_of(const cuda_state *st, yl_raw_detection *detections)
{
    return (float *)(detections + st->options.max_detections);
}

static size_t mask_stride_of(const yolact_image *image)
{
    return ((size_t)image->width + 7) / 8;
}

/* The pass's images from `first` on that one launch of the mask kernels takes (at most
 * YL_MASK_PASS_IMAGES; their counts on the host, their places in download set), and how
 * many masks they have. */
static yl_mask_pass mask_group(const cuda_state *st, const yolact_image *images, int first,
                               int n, int *masks)
{
    yl_mask_pass pass = {.num_images = n - first < YL_MASK_PASS_IMAGES ? n - first
                                                                       : YL_MASK_PASS_IMAGES};
    *masks = 0;
    for (int i = 0; i < pass.num_images; i++) {
        int b = first + i;
        pass.image[i] = (yl_mask_image){st->host_counts[b], *masks, images[b].height,
                                        images[b].width, st->mask_offsets[b]};
        *masks += st->host_counts[b];
    }
    return pass;
}

/* The masks of a group of images from `first` on (room for its masks made): two launches,
 * and YOLACT++'s re-scoring, the mask scores going after each image's detections. */
static yolact_status make_masks(cuda_state *st, int first, const yl_mask_pass *group)
{
    const yolact_model *m = st->model;
    const image_outputs o = outputs_of(st, first); /* the first image's; the rest follow */
    yl_raw_detection *detections = detections_of(st, st->results, first);
    YL_TRY(yl_masks_assemble_cuda(o.proto, m->proto_h, m->proto_w, m->num_prototypes, o.coeff,
                                  (size_t)m->num_priors * m->num_prototypes, detections,
                                  st->result_stride, group, st->proto_masks, st->stream));
    if (st->maskiou)
        YL_TRY(yl_cuda_maskiou_run(st->maskiou, st->proto_masks, group, detections,
                                   st->result_stride, mask_scores_of(st, detections),
                                   result_row_bytes(st) / sizeof(float), st->stream));
    return yl_mask_resize_threshold_cuda(st->proto_masks, m->proto_h, m->proto_w, group,
                                         st->download, st->stream);
}

/* After the network and Detect: one read-back of the counts, the masks of the pass's images
 * (a few launches for up to YL_MASK_PASS_IMAGES images), and one download of all detections
 * and masks; returns once they are on the host. */
yolact_status yl_cuda_finish_pass(cuda_state *st, const yolact_image *images, int n)
{
    const yolact_model *m = st->model;
    const int n_ops = m->num_ops;
    const size_t D = (size_t)st->options.max_detections;
    YL_TRY(yl_cuda_mark(st, n_ops + 3));
    YL_CHECK(cuda, cudaMemcpyAsync(st->host_counts, st->counts, (size_t)n * sizeof *st->counts,
                                  cudaMemcpyDeviceToHost, st->stream));
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));

    const size_t rows = (size_t)n * result_row_bytes(st);
    size_t total = rows, largest = 0;
    for (int b = 0; b < n; b++) {
        size_t mask_bytes = mask_stride_of(&images[b]) * (size_t)images[b].height;
        st->mask_offsets[b] = total;
        total += (size_t)st->host_counts[b] * mask_bytes;
        largest = mask_bytes > largest ? mask_bytes : largest;
    }
    YL_TRY(yl_cuda_ensure_download_capacity(st, total, result_row_bytes(st) + D * largest));
    yl_mask_pass groups[(YOLACT_MAX_BATCH_SIZE + YL_MASK_PASS_IMAGES - 1) / YL_MASK_PASS_IMAGES];
    int most_masks = 0;
    for (int first = 0, g = 0; first < n; first += YL_MASK_PASS_IMAGES, g++) {
        int masks;
        groups[g] = mask_group(st, images, first, n, &masks);
        most_masks = masks > most_masks ? masks : most_masks;
    }
    /* Grown before any group is enqueued: no buffer is freed under a running kernel. */
    YL_TRY(yl_cuda_ensure_mask_capacity(st, (size_t)most_masks));
    for (int first = 0, g = 0; first < n; first += YL_MASK_PASS_IMAGES, g++)
        YL_TRY(make_masks(st, first, &groups[g]));
    YL_TRY(yl_cuda_mark(st, n_ops + 4));
    YL_CHECK(cuda, cudaMemcpyAsync(st->download, st->results, rows, cudaMemcpyDeviceToDevice,
                                  st->stream));
    YL_CHECK(cuda, cudaMemcpyAsync(st->host_download, st->download, total,
                                  cudaMemcpyDeviceToHost, st->stream));
    YL_TRY(yl_cuda_mark(st, n_ops + 5));
    YL_CHECK(cuda, cudaStreamSynchronize(st->stream));
    if (st->profile) {
        YL_TRY(yl_cuda_charge_profile(st));
        st->profile->frames += n;
    }
    return YOLACT_OK;
}

/* Image b of the pass just finished, as the session takes it. */
yl_frame_output yl_cuda_image_output(const cuda_state *st, int b, const yolact_image *image)
{
    yl_raw_detection *dets = detections_of(st, (yl_raw_detection *)st->host_download, b);
    return (yl_frame_output){st->host_counts[b], dets, st->host_download + st->mask_offsets[b],
                             mask_stride_of(image),
                             st->maskiou ? mask_scores_of(st, dets) : NULL};
}
