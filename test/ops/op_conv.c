/* The op family of the implicit-GEMM convolution (kernels/conv.cu, conv_nhwc.cu) against
 * yl_conv2d_cpu on the same batch, in the row's precision; batches also against the kernel
 * on each image alone. */
#include "cpu/dense_ops.h"
#include "ops/op_harness.h"

/* sum|terms| = sum_k |w x| + |bias| + |residual| of each output, as the CPU convolution of
 * |in| by |weight| plus |bias| and |residual| computes it in float, scaled down by the most
 * that float sums of K + 2 non-negative terms can overstate it (a lower bound: never a
 * looser tolerance than the exact sum gives). */
double *op_conv_sum_terms(op_run *r, const yl_conv_desc *d, const float *in, int batch, int h,
                          int w, const float *weight, const float *bias, const float *residual)
{
    const size_t n_in = (size_t)batch * d->in_channels * h * w;
    const size_t count = (size_t)batch * d->out_channels *
                         yl_conv_out_size(h, d->kernel_h, d->stride, d->pad, d->dilation) *
                         yl_conv_out_size(w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t K = (size_t)d->in_channels * d->kernel_h * d->kernel_w;
    const size_t n_w = (size_t)d->out_channels * K;
    float *a_in = op_host(r, n_in * 4), *a_w = op_host(r, n_w * 4), *a_res = NULL;
    float *a_bias = NULL, *sum = op_host(r, count * 4);
    for (size_t i = 0; i < n_in; i++)
        a_in[i] = fabsf(in[i]);
    for (size_t i = 0; i < n_w; i++)
        a_w[i] = fabsf(weight[i]);
    if (bias) {
        a_bias = op_host(r, d->out_channels * 4);
        for (int i = 0; i < d->out_channels; i++)
            a_bias[i] = fabsf(bias[i]);
    }
    if (residual) {
        a_res = op_host(r, count * 4);
        for (size_t i = 0; i < count; i++)
            a_res[i] = fabsf(residual[i]);
    }
    ck_assert_status(yl_conv2d_cpu(d, a_in, batch, h, w, a_w, YOLACT_PRECISION_FP32, a_bias,
                                   a_res, YL_ACT_NONE, sum,
                                   op_host(r, yl_conv2d_workspace_floats(d, h, w) * 4), 0),
                     YOLACT_OK);
    double *mag = op_host(r, count * sizeof *mag);
    const double scale = 1.0 - (double)(K + 3) * FLT_EPSILON;
    for (size_t i = 0; i < count; i++)
        mag[i] = sum[i] * scale;
    return mag;
}

/* dims: in_channels, out_channels, kernel_h, kernel_w, stride, pad, dilation, height, width,
 * activation (yl_activation), bias (0/1), residual (0 none, 1 a buffer of its own, 2 the
 * output buffer itself), batch. Outputs: the batch against the CPU (check[0]), which refuses
 * any precision but FP32 and so computes the FP16 rows' reference in FP32; for batches,
 * each image against the kernel's call on it alone (exact). */
static void conv2d_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    const yl_conv_desc d = {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    const int h = v[7], w = v[8], bias_on = v[10], residual = v[11], batch = v[12];
    const yl_activation act = (yl_activation)v[9];
    const yolact_precision prec = c->precision;
    const int oh = yl_conv_out_size(h, d.kernel_h, d.stride, d.pad, d.dilation);
    const int ow = yl_conv_out_size(w, d.kernel_w, d.stride, d.pad, d.dilation);
    const size_t n_w = (size_t)d.out_channels * d.in_channels * d.kernel_h * d.kernel_w;
    const size_t n_in = (size_t)d.in_channels * h * w, n_out = (size_t)d.out_channels * oh * ow;
    float *in = op_rand_floats(r, batch * n_in, -1.0f, 1.0f);
    float *weight = op_rand_floats(r, n_w, -0.5f, 0.5f);
    float *bias = bias_on ? op_rand_floats(r, d.out_channels, -1.0f, 1.0f) : NULL;
    float *res = residual ? op_rand_floats(r, batch * n_out, -2.0f, 2.0f) : NULL;
    float *want = op_host(r, batch * n_out * 4);
    float *ws = op_host(r, yl_conv2d_workspace_floats(&d, h, w) * 4);
    if (prec != YOLACT_PRECISION_FP32)
        ck_assert_status(yl_conv2d_cpu(&d, in, batch, h, w, weight, prec, bias, res, act, want,
                                       ws, 0), YOLACT_ERR_UNSUPPORTED);
    ck_assert_status(yl_conv2d_cpu(&d, in, batch, h, w, weight, YOLACT_PRECISION_FP32, bias, res,
                                   act, want, ws, 0), YOLACT_OK);
    const double *mag = op_conv_sum_terms(r, &d, in, batch, h, w, weight, bias, res);

    const size_t packed_bytes = yl_conv2d_cuda_packed_bytes(&d, prec);
    ck_assert_uint_gt(packed_bytes, 0);
    void *packed = op_host(r, packed_bytes);
    yl_conv2d_cuda_pack(&d, weight, prec, packed);
    const float *d_in = op_to_dev(r, in, batch * n_in * 4);
    const float *d_bias = bias ? op_to_dev(r, bias, d.out_channels * 4) : NULL;
    const void *d_w = op_to_dev(r, packed, packed_bytes);
    float *d_out = residual == 2 ? op_to_dev(r, res, batch * n_out * 4)
                                 : op_dev(r, batch * n_out * 4);
    float *d_res = residual == 1 ? op_to_dev(r, res, batch * n_out * 4)
                                 : residual == 2 ? d_out : NULL;
    const size_t ws_bytes = yl_conv2d_cuda_workspace_bytes(&d, batch, h, w, prec);
    void *d_ws = ws_bytes ? op_dev(r, ws_bytes) : NULL;
    ck_assert_status(yl_conv2d_cuda(&d, d_in, batch, h, w, d_w, prec, d_bias, d_res, act, d_out,
                                    d_ws, NULL), YOLACT_OK);
    float *got = op_from_dev(r, d_out, batch * n_out * 4);
    op_output(r, "out", OP_F32, batch * n_out, got, want, mag, NULL);
    if (batch == 1)
        return;
    /* Each image alone, its residual in a buffer of its own. */
    float *alone = op_host(r, batch * n_out * 4), *d_one = op_dev(r, n_out * 4);
    float *d_res_one = res ? op_dev(r, n_out * 4) : NULL;
    for (int b = 0; b < batch; b++) {
        if (res)
            ck_assert_cuda(cudaMemcpy(d_res_one, res + b * n_out, n_out * 4,
                                      cudaMemcpyHostToDevice));
        ck_assert_status(yl_conv2d_cuda(&d, d_in + b * n_in, 1, h, w, d_w, prec, d_bias,
                                        d_res_one, act, d_one, d_ws, NULL), YOLACT_OK);
        from_dev(alone + b * n_out, d_one, n_out * 4);
    }
    op_output(r, "each image alone", OP_F32, batch * n_out, got, alone, NULL, &op_exact);
}
const op_family op_conv2d = {"conv2d", conv2d_run};
