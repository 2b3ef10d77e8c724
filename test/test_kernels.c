/* Check suite `kernels`: what the op-test table (test_ops.c) cannot show, the launchers'
 * argument checks: each kernel's entry point refuses what it cannot take (NULL tensors,
 * counts, sizes and batches out of range, passes that are not well formed, unaligned
 * weights or workspace) with YOLACT_ERR_INVALID_ARGUMENT, and accepts the empty cases it
 * declares, without touching memory. Under the CUDA emulation in CI, on the GPU in the GPU
 * runner. The training kernels' (yl_grad_kernels.h) too. */
#include <string.h>

#include "yl_cuda_test.h"
#include "yl_grad_kernels.h"
#include "yl_kernels.h"
#include "yl_loss_kernels.h"

START_TEST(test_post_arguments)
{
    ck_assert_status(yl_bilinear_axis_cuda(0, 5, (void *)1, NULL), YOLACT_ERR_INVALID_ARGUMENT);

    /* mask assembly */
    yl_mask_pass pass = {.num_images = 2, .image = {{.count = 0}, {.count = 0}}};
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_OK);
    pass.image[1].count = 1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[1].count = -1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[1].count = 0;
    pass.num_images = YL_MASK_PASS_IMAGES + 1;
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_masks_assemble_cuda(NULL, 5, 5, 32, NULL, 0, NULL, 0, NULL, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    /* mask resize + threshold */
    pass = (yl_mask_pass){.num_images = 1, .image = {{.count = 0, .height = 5, .width = 5}}};
    ck_assert_status(yl_mask_resize_threshold_cuda(NULL, 1, 1, &pass, NULL, NULL), YOLACT_OK);
    pass.image[0].count = 1;
    ck_assert_status(yl_mask_resize_threshold_cuda(NULL, 1, 1, &pass, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    pass.image[0].width = YOLACT_MAX_IMAGE_SIDE + 1;
    ck_assert_status(yl_mask_resize_threshold_cuda((float *)1, 1, 1, &pass, (uint8_t *)1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    /* grid.z would pass 65535: two images of 8 x 40000 masks */
    pass = (yl_mask_pass){.num_images = 2,
                          .image = {{320000, 0, 5, 5, 0}, {320000, 320000, 5, 5, 0}}};
    ck_assert_status(yl_mask_resize_threshold_cuda((float *)1, 1, 1, &pass, (uint8_t *)1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    /* Fast NMS: top_k past what one class's boxes in shared memory hold */
    ck_assert_status(yl_fast_nms_cuda((float *)8, (int *)8, 3, YL_FAST_NMS_MAX_TOP_K + 1, 0.5f,
                                      (uint8_t *)8, NULL), YOLACT_ERR_INVALID_ARGUMENT);

    /* Detect */
    yl_detect_params p = {81, 0.05f, YL_FAST_NMS_MAX_TOP_K + 1, 0.5f, 100};
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 1), 0);
    int n = -1;
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 1,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    p.top_k = 200;
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 0, &p, 1,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 0), 0);
    ck_assert_uint_eq(yl_detect_cuda_workspace_bytes(100, &p, 65536), 0);
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 0,
                                    (yl_raw_detection *)8, 100, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_detect_cuda((float *)8, (float *)8, (float *)8, 100, &p, 1,
                                    (yl_raw_detection *)8, 99, &n, (void *)8, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    /* the score threshold */
    ck_assert_status(yl_keep_scores_above_cuda(NULL, 6, NULL, 0, 0.3f, NULL), YOLACT_OK);
    ck_assert_status(yl_keep_scores_above_cuda(NULL, 6, NULL, 1, 0.3f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    /* mask re-scoring */
    pass = (yl_mask_pass){.num_images = 1, .image = {{.count = 1}}};
    ck_assert_status(yl_mask_rescore_cuda(NULL, 0, 0, 80, 3, 3, &pass, NULL, 0, NULL, 0, NULL),
                     YOLACT_OK);
    ck_assert_status(yl_mask_rescore_cuda(NULL, 0, 1, 80, 3, 3, &pass, NULL, 0, NULL, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    float *f = (float *)8;
    yl_raw_detection *d = (yl_raw_detection *)8;
    ck_assert_status(yl_mask_rescore_cuda(f, 1, 1, 80, 3, 3, &pass, d, 0, f, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT); /* past the pass's masks */
    pass.image[0].first = 1;                        /* not dense */
    ck_assert_status(yl_mask_rescore_cuda(f, 0, 1, 80, 3, 3, &pass, d, 0, f, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_mask_rescore_cuda(f, 0, 1, 80, 3, 3, NULL, d, 0, f, 0, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The training kernels (yl_grad_kernels.h): NULL tensors, bad sizes and the optimizer's
 * settings refused as their CPU references refuse them; empty cases accepted. */
START_TEST(test_grad_arguments)
{
    float *f = (float *)8;
    ck_assert_status(yl_activation_backward_cuda(YL_ACT_RELU, NULL, f, 4, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_activation_backward_cuda((yl_activation)7, f, f, 4, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_activation_backward_cuda(YL_ACT_RELU, NULL, NULL, 0, NULL, NULL),
                     YOLACT_OK);
    ck_assert_status(yl_add_backward_cuda(f, 4, NULL, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_tanh_backward_cuda(f, NULL, 4, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_sigmoid_backward_cuda(f, f, 4, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_softmax_backward_cuda(f, f, 2, -1, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_softmax_backward_cuda(NULL, NULL, 2, 0, NULL, NULL), YOLACT_OK);
    ck_assert_status(yl_maxpool2d_backward_cuda(f, 1, 4, 4, 0, 1, 0, f, 4, 4, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_maxpool2d_backward_cuda(f, 1, 4, 4, 3, 2, 1, NULL, 2, 2, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_maxpool2d_backward_cuda(NULL, 0, 4, 4, 3, 2, 1, NULL, 2, 2, NULL, NULL),
                     YOLACT_OK);

    ck_assert_status(yl_head_output_backward_cuda(f, f, f, f, 3, 5, 4, 2, 2, 1, 11, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);      /* fewer priors than the level's */
    ck_assert_status(yl_head_output_backward_cuda(f, f, NULL, f, 3, 5, 4, 2, 2, 1, 12, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_head_output_backward_cuda(NULL, NULL, NULL, NULL, 3, 5, 4, 2, 2, 0, 12,
                                                  NULL, NULL), YOLACT_OK);
    ck_assert_status(yl_proto_output_backward_cuda(f, -1, 2, 2, 1, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_proto_output_backward_cuda(NULL, 4, 2, 2, 1, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_batchnorm_frozen_backward_cuda(NULL, 2, 3, 4, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_batchnorm_frozen_backward_cuda(f, 2, -3, 4, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    ck_assert_status(yl_batchnorm_train_forward_cuda(f, 2, 3, 4, f, f, 1e-5f, 0.1f, NULL, NULL,
                                                     NULL, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_batchnorm_train_forward_cuda(f, 2, 3, 4, f, f, 0.0f, 0.1f, NULL, NULL, f,
                                                     f, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_batchnorm_train_backward_cuda(f, f, 2, 3, 0, f, f, f, f, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_batchnorm_train_backward_cuda(f, f, 2, 65536, 4, f, f, f, f, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    ck_assert_status(yl_resize_bilinear_backward_cuda(f, 1, 4, 4, 8, 8, f, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);      /* no workspace */
    ck_assert_status(yl_resize_bilinear_backward_cuda(f, 1, 4, 0, 8, 8, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);

    ck_assert_status(yl_masks_backward_cuda(f, 4, 4, 8, f, 3, NULL, f, f, f, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);      /* no boxes */
    ck_assert_status(yl_masks_backward_cuda(f, 4, -4, 8, f, 3, f, f, f, f, f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_masks_backward_cuda(NULL, 4, 4, 8, NULL, 0, NULL, NULL, NULL, NULL,
                                            NULL, NULL, NULL), YOLACT_OK);   /* no masks */

    yl_sgd_options o = {.lr = 1e-3, .momentum = 0.9, .weight_decay = 5e-4};
    int first = 1;
    ck_assert_status(yl_sgd_step_cuda(&o, 4, f, f, NULL, &first, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);      /* momentum without its buffer */
    ck_assert_status(yl_sgd_step_cuda(&o, 4, f, f, f, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_sgd_step_cuda(NULL, 4, f, f, f, &first, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.nesterov = 1;
    o.dampening = 0.1;
    ck_assert_status(yl_sgd_step_cuda(&o, 4, f, f, f, &first, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    o = (yl_sgd_options){.lr = -1.0};
    ck_assert_status(yl_sgd_step_cuda(&o, 4, f, f, NULL, &first, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    o.lr = 1e-3;
    ck_assert_status(yl_sgd_step_cuda(&o, 0, NULL, NULL, NULL, &first, NULL), YOLACT_OK);
    ck_assert_int_eq(first, 1);      /* no momentum: nothing to start */

    const double scales[4] = {1, 1, 1, 1};
    ck_assert_status(yl_scale_rows_cuda(NULL, 2, 2, NULL, 0, 1.0f, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_scale_rows_cuda(f, 2, 2, f, 1, 0.5f, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_scale_rows_cuda(NULL, 0, 2, NULL, 0, 1.0f, NULL, NULL), YOLACT_OK);
    ck_assert_status(yl_fold_rows_cuda(f, 2, 2, NULL, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_fold_rows_cuda(NULL, 2, 2, scales, f, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_fold_rows_cuda(NULL, 3, 0, NULL, NULL, NULL), YOLACT_OK); /* empty */

    uint16_t *h = (uint16_t *)8;
    int *flag = (int *)8;
    ck_assert_status(yl_float_to_half_cuda(NULL, 4, h, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_float_to_half_cuda(f, 4, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_float_to_half_cuda(NULL, 0, NULL, NULL), YOLACT_OK); /* empty */
    ck_assert_status(yl_half_to_float_cuda(NULL, 4, 1, f, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_half_to_float_cuda(h, 4, 0, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_half_to_float_cuda(NULL, 0, 1, NULL, NULL), YOLACT_OK);
    ck_assert_status(yl_flag_nonfinite_cuda(f, 4, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_flag_nonfinite_cuda(NULL, 4, flag, NULL), YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The loss kernels (yl_loss_kernels.h): NULL arrays, negative sizes, a missing workspace,
 * one gradient of the mask term's two. (Not an unknown mask form: a value outside the enum
 * is undefined in the kernels' C++, and UBSan says so.) */
START_TEST(test_loss_arguments)
{
    float *f = (float *)8;
    int *i = (int *)8;
    double *d = (double *)8;
    void *w = (void *)8;
    float box[4] = {0.1f, 0.1f, 0.5f, 0.5f};
    int label = 0;
    const yl_loss_config cfg = YL_LOSS_CONFIG_YOLACT(100);
    yl_gt gt = {1, 0, box, &label, NULL, 4, 4}, no_boxes = {1, 0, NULL, &label, NULL, 4, 4};
    ck_assert_status(yl_match_cuda(NULL, f, 4, &gt, i, i, w, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_match_cuda(&cfg, f, 4, &no_boxes, i, i, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_match_cuda(&cfg, f, 4, &gt, i, i, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_match_cuda(&cfg, f, -1, &gt, i, i, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_box_loss_cuda(f, f, 4, i, NULL, &gt, 1.0f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_box_loss_cuda(f, f, 4, i, i, &gt, 1.0f, f, NULL, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_loss_max_cuda(NULL, 4, f, w, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_loss_count_positives_cuda(i, 4, i, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_class_loss_cuda(f, i, 4, 0, 3, f, 1.0f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_class_loss_cuda(f, i, 4, 5, 3, NULL, 1.0f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_segm_loss_cuda(f, 3, 4, 4, &gt, NULL, 1.0f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_segm_loss_cuda(f, -1, 4, 4, &gt, (uint8_t *)8, 1.0f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    uint64_t *rng = (uint64_t *)8;
    yl_mask_loss_image in = {f, f, i, i, &gt, (uint8_t *)8, 4, 2, 3, 3};
    ck_assert_status(yl_mask_loss_cuda(&cfg, &in, rng, 1.0f, f, NULL, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_mask_loss_cuda(&cfg, &in, NULL, 1.0f, f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    in.gt_masks = NULL;
    ck_assert_status(yl_mask_loss_cuda(&cfg, &in, rng, 1.0f, f, f, d, w, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_dense_arguments)
{
    ck_assert_status(yl_maxpool2d_cuda(NULL, 0, 0, 0, 3, 2, 1, NULL, 0, 0, NULL), YOLACT_OK);
    ck_assert_status(yl_maxpool2d_cuda(NULL, 1, 4, 4, 0, 1, 0, NULL, 4, 4, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_resize_bilinear_cuda(NULL, 1, 0, 4, NULL, 4, 4, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_add_cuda(NULL, NULL, 5, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_leaky_relu_cuda(NULL, 5, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_head_output_cuda(NULL, 3, 81, 32, 2, 2, 1, 12, NULL, NULL, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    float *x = dev_alloc(4 * 12 * (4 + 81 + 32));
    ck_assert_status(yl_head_output_cuda(x, 3, 81, 32, 2, 2, 1, 11, x, x, x, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);     /* fewer priors than the level's */
    ck_assert_status(yl_head_output_cuda(x, 3, 81, 32, 2, 2, 0, 12, x, x, x, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    cudaFree(x);
    ck_assert_status(yl_proto_output_cuda(NULL, 32, 3, 3, 0, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_conv_arguments)
{
    yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
    float x, aligned[8] __attribute__((aligned(16))) = {0};  /* packed weights */
    ck_assert_uint_eq(yl_conv2d_cuda_packed_bytes(&d, YOLACT_PRECISION_DEFAULT), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_packed_bytes(NULL, YOLACT_PRECISION_FP32), 0);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_DEFAULT, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    /* Packed weights not 16-byte aligned. */
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned + 1, YOLACT_PRECISION_FP32, NULL,
                                    NULL, YL_ACT_NONE, &x + 1, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&d, &x, 0, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    d.stride = 0;
    ck_assert_status(yl_conv2d_cuda(&d, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP32, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    /* The (H, W, C) path's workspace: FP16, channels in groups of 8, more than one tap. */
    yl_conv_desc h = {8, 4, 3, 3, 1, 1, 1}, one = {8, 4, 1, 1, 1, 0, 1};
    yl_conv_desc odd = {12, 4, 3, 3, 1, 1, 1};
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 2, 5, 7, YOLACT_PRECISION_FP16),
                      2 * 5 * 7 * 8 * 2);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 2, 5, 7, YOLACT_PRECISION_FP32), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&one, 2, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&odd, 2, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_uint_eq(yl_conv2d_cuda_workspace_bytes(&h, 0, 5, 7, YOLACT_PRECISION_FP16), 0);
    ck_assert_status(yl_conv2d_cuda(&h, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_conv2d_cuda(&h, &x, 1, 4, 4, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, aligned + 1, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "needs a 16-byte aligned workspace"));
    /* A kernel larger than the unpadded input: an empty output, nothing to do. */
    yl_conv_desc e = {2, 2, 5, 5, 1, 0, 1};
    ck_assert_status(yl_conv2d_cuda(&e, &x, 1, 3, 3, aligned, YOLACT_PRECISION_FP16, NULL, NULL,
                                    YL_ACT_NONE, &x + 1, NULL, NULL), YOLACT_OK);
}
END_TEST

START_TEST(test_dcn_arguments)
{
    yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
    float x[2];
    float aligned[8] __attribute__((aligned(16))) = {0};
    ck_assert_uint_eq(yl_dcn2d_cuda_packed_bytes(&d, YOLACT_PRECISION_DEFAULT), 0);
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&d, 0, 4, 1), 0);
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&d, 4, 4, 0), 0);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x, aligned, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, NULL, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_dcn2d_cuda(&d, x, 0, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    d.stride = 0;
    ck_assert_status(yl_dcn2d_cuda(&d, x, 1, 4, 4, x, aligned, YOLACT_PRECISION_FP32, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL),
                     YOLACT_ERR_INVALID_ARGUMENT);
    /* A kernel larger than the unpadded input: an empty output, nothing to do. */
    yl_conv_desc e = {2, 2, 5, 5, 1, 0, 1};
    ck_assert_uint_eq(yl_dcn2d_cuda_workspace_bytes(&e, 3, 3, 1), 0);
    ck_assert_status(yl_dcn2d_cuda(&e, x, 1, 3, 3, x, aligned, YOLACT_PRECISION_FP16, NULL,
                                   YL_ACT_NONE, x + 1, aligned, NULL), YOLACT_OK);
}
END_TEST

Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("arguments");
    tcase_add_test(tc, test_post_arguments);
    tcase_add_test(tc, test_dense_arguments);
    tcase_add_test(tc, test_grad_arguments);
    tcase_add_test(tc, test_loss_arguments);
    tcase_add_test(tc, test_conv_arguments);
    tcase_add_test(tc, test_dcn_arguments);
    suite_add_tcase(s, tc);
    return s;
}
