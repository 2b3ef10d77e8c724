/* The op family of the CPU's convolution algorithms (lib/cpu/conv_choice.h): each one a
 * session may choose for a layer, against the reference convolution (yl_conv2d_cpu) on the
 * same image, within the tolerance its row states. */
#include "cpu/conv_choice.h"
#include "cpu/dense_ops.h"
#include "ops/op_harness.h"

/* A oneDNN convolution run with its images in the layouts its flags say (converted here from
 * and to plain CHW), into got. */
static void onednn_run(op_run *r, const yl_conv_desc *d, int h, int w, int oh, int ow,
                       const float *in, const float *weight, const float *bias,
                       const float *res, int res_is_out, yl_activation act, int layouts,
                       float *got)
{
    const int block = yl_onednn_block(), src_b = layouts & YL_ONEDNN_SRC_BLOCKED,
              dst_b = layouts & YL_ONEDNN_DST_BLOCKED;
    const size_t n_in = (size_t)d->in_channels * h * w, n_out = (size_t)d->out_channels * oh * ow;
    if (layouts)
        ck_assert_int_gt(block, 0);
    float *src = (float *)in, *dst = got;
    if (src_b)
        yl_test_reblock(in, d->in_channels, h * w, block, 1, src = op_host(r, n_in * 4));
    if (dst_b)
        dst = op_host(r, n_out * 4);
    const float *dst_res = res;
    if (dst_b && res) /* the residual in the output's layout; aliasing it when got does */
        yl_test_reblock(res, d->out_channels, oh * ow, block, 1,
                (float *)(dst_res = res_is_out ? dst : op_host(r, n_out * 4)));
    else if (res_is_out)
        dst_res = dst;
    yl_onednn_conv *conv;
    ck_assert_status(yl_onednn_conv_create(d, h, w, weight, bias, res != NULL, act, layouts,
                                           &conv), YOLACT_OK);
    void *scratch = op_host(r, yl_onednn_conv_scratch_bytes(conv) + 64);
    scratch = (void *)(((uintptr_t)scratch + 63) / 64 * 64);
    yolact_status s = yl_onednn_conv_run(conv, src, dst_res, dst, scratch);
    yl_onednn_conv_destroy(conv);
    ck_assert_status(s, YOLACT_OK);
    if (dst_b)
        yl_test_reblock(dst, d->out_channels, oh * ow, block, 0, got);
}

/* dims: in_channels, out_channels, kernel_h, kernel_w, stride, pad, dilation, height, width,
 * activation (yl_activation), bias (0/1), residual (0 none, 1 a buffer of its own, 2 the
 * output buffer itself), the algorithm (yl_conv_algo), then for oneDNN the layouts
 * (YL_ONEDNN_*_BLOCKED flags; 0 plain). One image. */
static void conv_algo_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    const yl_conv_desc d = {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    const int h = v[7], w = v[8], bias_on = v[10], residual = v[11];
    const yl_activation act = (yl_activation)v[9];
    const yl_conv_algo algo = (yl_conv_algo)v[12];
    const int oh = yl_conv_out_size(h, d.kernel_h, d.stride, d.pad, d.dilation);
    const int ow = yl_conv_out_size(w, d.kernel_w, d.stride, d.pad, d.dilation);
    const size_t n_w = (size_t)d.out_channels * d.in_channels * d.kernel_h * d.kernel_w;
    const size_t n_in = (size_t)d.in_channels * h * w, n_out = (size_t)d.out_channels * oh * ow;
    float *in = op_rand_floats(r, n_in, -1.0f, 1.0f);
    float *weight = op_rand_floats(r, n_w, -0.5f, 0.5f);
    float *bias = bias_on ? op_rand_floats(r, d.out_channels, -1.0f, 1.0f) : NULL;
    float *res = residual ? op_rand_floats(r, n_out, -2.0f, 2.0f) : NULL;
    float *want = op_host(r, n_out * 4);
    float *ws = op_host(r, yl_conv2d_workspace_floats(&d, h, w) * 4);
    ck_assert_status(yl_conv2d_cpu(&d, in, 1, h, w, weight, YOLACT_PRECISION_FP32, bias, res,
                                   act, want, ws, 0), YOLACT_OK);
    const double *mag = op_conv_sum_terms(r, &d, in, 1, h, w, weight, bias, res);

    /* residual 2: the output buffer starts as the residual and is accumulated onto. */
    float *got = residual == 2 ? op_host_copy(r, res, n_out * 4) : op_host(r, n_out * 4);
    const float *got_res = residual == 2 ? got : res;
    if (algo == YL_CONV_ONEDNN) {
        onednn_run(r, &d, h, w, oh, ow, in, weight, bias, res, residual == 2, act, v[13], got);
    } else {
        float *prepared = NULL;
        if (algo == YL_CONV_WINOGRAD) {
            ck_assert_uint_gt(yl_conv2d_prepared_floats(&d), 0);
            prepared = op_host(r, yl_conv2d_prepared_floats(&d) * 4);
            yl_conv2d_prepare_cpu(&d, weight, prepared);
        }
        yl_conv2d_prepared_cpu(&d, in, h, w, weight, prepared, bias, got_res, act, got, ws, 0);
    }
    op_output(r, yl_conv_algo_name(algo), OP_F32, n_out, got, want, mag, NULL);
}
const op_family op_conv_algo = {"conv algorithm", conv_algo_run};
