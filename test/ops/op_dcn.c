/* The op family of YOLACT++'s deformable convolution (kernels/dcn.cu) against yl_dcn2d_cpu
 * and the exact direct loop (plus_ref.c), or against an outside implementation's output
 * read from a row's .npz. */
#include "cpu/dcn.h"
#include "npz.h"
#include "ops/op_harness.h"
#include "parity_raw.h"
#include "plus_ref.h"

/* The CPU reference on batch images (in, offset_mask one image after another), with the
 * kernel's arguments: it refuses any precision but FP32, so another row's reference is
 * computed in FP32. */
static float *dcn_cpu(op_run *r, const yl_conv_desc *d, int h, int w, const float *in,
                      const float *om, int batch, const float *weight, const float *bias,
                      yolact_precision prec, yl_activation act)
{
    const int oh = yl_conv_out_size(h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(w, d->kernel_w, d->stride, d->pad, d->dilation);
    float *out = op_host(r, (size_t)batch * d->out_channels * oh * ow * 4);
    float *ws = op_host(r, (yl_dcn2d_workspace_floats(d, h, w) + 1) * 4);
    if (prec != YOLACT_PRECISION_FP32)
        ck_assert_status(yl_dcn2d_cpu(d, in, batch, h, w, om, weight, prec, bias, act, out, ws,
                                      0), YOLACT_ERR_UNSUPPORTED);
    ck_assert_status(yl_dcn2d_cpu(d, in, batch, h, w, om, weight, YOLACT_PRECISION_FP32, bias,
                                  act, out, ws, 0), YOLACT_OK);
    return out;
}

/* The kernel on batch images (in, offset_mask one image after another), out on the host. */
static float *dcn_kernel(op_run *r, const yl_conv_desc *d, int h, int w, const float *in,
                         const float *om, int batch, const float *weight, const float *bias,
                         yolact_precision prec, yl_activation act)
{
    const int oh = yl_conv_out_size(h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(w, d->kernel_w, d->stride, d->pad, d->dilation);
    const size_t taps = (size_t)d->kernel_h * d->kernel_w, n = (size_t)oh * ow;
    const size_t n_in = (size_t)d->in_channels * h * w, n_om = 3 * taps * n;
    const size_t n_out = (size_t)d->out_channels * n;
    const size_t packed_bytes = yl_dcn2d_cuda_packed_bytes(d, prec);
    const size_t ws_bytes = yl_dcn2d_cuda_workspace_bytes(d, h, w, batch);
    ck_assert_uint_gt(packed_bytes, 0);
    ck_assert_uint_eq(ws_bytes, batch * (size_t)d->in_channels * taps * n * sizeof(float));
    void *packed = op_host(r, packed_bytes);
    yl_dcn2d_cuda_pack(d, weight, prec, packed);
    float *d_out = op_dev(r, batch * n_out * 4);
    ck_assert_status(yl_dcn2d_cuda(d, op_to_dev(r, in, batch * n_in * 4), batch, h, w,
                                   op_to_dev(r, om, batch * n_om * 4),
                                   op_to_dev(r, packed, packed_bytes), prec,
                                   bias ? op_to_dev(r, bias, d->out_channels * 4) : NULL, act,
                                   d_out, op_dev(r, ws_bytes), NULL), YOLACT_OK);
    return op_from_dev(r, d_out, batch * n_out * 4);
}

/* Array key of a row's file, float32 of count elements, its data taken over. */
static float *npz_floats(const char *path, const char *key, size_t count)
{
    yl_npy a;
    yl_test_load_npz(path, key, "<f4", &a);
    ck_assert_msg(a.count == count, "%s: %s holds %zu floats, expected %zu", path, key, a.count,
                  count);
    return a.data;
}

/* An outside implementation's case from c->data (test/data/dcn/, torchvision's
 * deform_conv2d in float64): geometry (stride, pad, dilation; int32), input (C, H, W),
 * weight (O, C, 3, 3), bias (O), offset (18, oh, ow) (dy, dx of tap t at 2t, 2t + 1),
 * mask_logit (9, oh, ow) (the op applies the sigmoid), output (O, oh, ow). Outputs: the
 * kernel and the CPU op against the file's output, and the file's output against
 * plus_ref.c's direct loop (the two references agree on the op's definition: offset layout,
 * modulation, borders), each by check[0], relative to the direct loop's sum|terms|. */
static void dcn2d_npz_run(const op_case *c, op_run *r)
{
    yl_npy geometry, input, weight;
    yl_test_load_npz(c->data, "geometry", "<i4", &geometry);
    yl_test_load_npz(c->data, "input", "<f4", &input);
    yl_test_load_npz(c->data, "weight", "<f4", &weight);
    ck_assert_msg(geometry.count == 3 && input.ndim == 3 && weight.ndim == 4 &&
                  weight.shape[1] == input.shape[0] && weight.shape[2] == 3 &&
                  weight.shape[3] == 3, "%s: geometry, input or weight of another shape",
                  c->data);
    const int *g = geometry.data;
    dcn_problem pr = {.d = {(int)input.shape[0], (int)weight.shape[0], 3, 3, g[0], g[1], g[2]},
                      .h = (int)input.shape[1], .w = (int)input.shape[2]};
    const yl_conv_desc *d = &pr.d;
    pr.oh = yl_conv_out_size(pr.h, 3, d->stride, d->pad, d->dilation);
    pr.ow = yl_conv_out_size(pr.w, 3, d->stride, d->pad, d->dilation);
    const size_t n = (size_t)pr.oh * pr.ow, count = (size_t)d->out_channels * n;
    pr.in = input.data;
    pr.weight = weight.data;
    yl_npy_free(&geometry);
    pr.bias = npz_floats(c->data, "bias", d->out_channels);
    float *offset = npz_floats(c->data, "offset", 18 * n);
    float *logit = npz_floats(c->data, "mask_logit", 9 * n);
    float *file_out = npz_floats(c->data, "output", count);
    const float *want = op_host_copy(r, file_out, count * 4);
    free(file_out);
    pr.offset_mask = xmalloc(27 * n * sizeof(float));
    memcpy(pr.offset_mask, offset, 18 * n * sizeof(float));
    memcpy(pr.offset_mask + 18 * n, logit, 9 * n * sizeof(float));
    free(offset);
    free(logit);
    pr.ref = xmalloc(count * sizeof(double));
    pr.mag = xmalloc(count * sizeof(double));
    dcn_problem_reference(&pr);
    const double *mag = op_host_copy(r, pr.mag, count * sizeof *mag);
    const double *exact = op_host_copy(r, pr.ref, count * sizeof *exact);
    const float *cpu = dcn_cpu(r, d, pr.h, pr.w, pr.in, pr.offset_mask, 1, pr.weight, pr.bias,
                               c->precision, YL_ACT_NONE);
    const float *got = dcn_kernel(r, d, pr.h, pr.w, pr.in, pr.offset_mask, 1, pr.weight,
                                  pr.bias, c->precision, YL_ACT_NONE);
    op_output(r, "kernel against the file", OP_F32, count, got, want, mag, NULL);
    op_output(r, "CPU op against the file", OP_F32, count, cpu, want, mag, NULL);
    op_output_f64(r, "the file against the direct loop", count, want, exact, mag, NULL);
    dcn_problem_free(&pr);
}

/* dims: a case of plus_ref.c's dcn_cases, the activation. Outputs: image 1 of a batch of
 * two against the CPU op's on the same batch and against the exact loop (check[0], relative to the loop's
 * sum|terms|); image 0 against the kernel on it alone (exact); with zero offsets and
 * saturated modulation, against yl_conv2d_cuda (exact where the convolution sums k in the
 * same order; an FP16 convolution on its (H, W, C) path sums the same exact half products
 * in another order: within 2 K 2^-24 sum|terms|). */
static void dcn2d_run(const op_case *c, op_run *r)
{
    if (c->data) {
        dcn2d_npz_run(c, r);
        return;
    }
    const int index = c->dims[0];
    const yl_activation act = (yl_activation)c->dims[1];
    const yolact_precision prec = c->precision;
    dcn_problem pr, other;
    dcn_problem_make(&pr, &dcn_cases[index], 0x5eed0000u + (uint64_t)index);
    dcn_problem_make(&other, &dcn_cases[index], 0x0def0000u + (uint64_t)index);
    const yl_conv_desc *d = &pr.d;
    const size_t taps = (size_t)d->kernel_h * d->kernel_w, n = (size_t)pr.oh * pr.ow;
    const size_t n_in = (size_t)d->in_channels * pr.h * pr.w, n_om = 3 * taps * n;
    const size_t count = (size_t)d->out_channels * n;
    double *exact = op_host_copy(r, pr.ref, count * sizeof *exact);
    const double *mag = op_host_copy(r, pr.mag, count * sizeof *mag);
    for (size_t i = 0; i < count; i++)
        if (act == YL_ACT_RELU && !(exact[i] > 0))
            exact[i] = 0;
    float *in = op_host(r, 2 * n_in * 4), *om = op_host(r, 2 * n_om * 4);
    memcpy(in, other.in, n_in * 4);
    memcpy(in + n_in, pr.in, n_in * 4);
    memcpy(om, other.offset_mask, n_om * 4);
    memcpy(om + n_om, pr.offset_mask, n_om * 4);
    const float *pair = dcn_kernel(r, d, pr.h, pr.w, in, om, 2, pr.weight, pr.bias, prec, act);
    const float *cpu = dcn_cpu(r, d, pr.h, pr.w, in, om, 2, pr.weight, pr.bias, prec, act);
    const float *alone = dcn_kernel(r, d, pr.h, pr.w, in, om, 1, pr.weight, pr.bias, prec, act);
    op_output(r, "image 1 of 2 against the CPU", OP_F32, count, pair + count, cpu + count, mag,
              NULL);
    op_output_f64(r, "image 1 of 2 against the exact loop", count, pair + count, exact, mag,
                  NULL);
    op_output(r, "image 0 of 2 against it alone", OP_F32, count, pair, alone, NULL, &op_exact);

    /* Zero offsets, saturated modulation: the plain convolution's result. */
    for (size_t i = 0; i < n_om; i++)
        pr.offset_mask[i] = i < 2 * taps * n ? 0.0f : 40.0f;
    const float *got = dcn_kernel(r, d, pr.h, pr.w, pr.in, pr.offset_mask, 1, pr.weight,
                                  pr.bias, prec, act);
    const size_t packed_bytes = yl_conv2d_cuda_packed_bytes(d, prec);
    void *packed = op_host(r, packed_bytes);
    yl_conv2d_cuda_pack(d, pr.weight, prec, packed);
    const size_t ws_bytes = yl_conv2d_cuda_workspace_bytes(d, 1, pr.h, pr.w, prec);
    float *d_out = op_dev(r, count * 4);
    ck_assert_status(yl_conv2d_cuda(d, op_to_dev(r, pr.in, n_in * 4), 1, pr.h, pr.w,
                                    op_to_dev(r, packed, packed_bytes), prec,
                                    op_to_dev(r, pr.bias, d->out_channels * 4), NULL, act, d_out,
                                    ws_bytes ? op_dev(r, ws_bytes) : NULL, NULL), YOLACT_OK);
    const float *conv = op_from_dev(r, d_out, count * 4);
    op_check *same = op_host(r, sizeof *same);
    *same = op_exact;
    const double *conv_mag = NULL;
    if (ws_bytes) {
        const size_t K = (size_t)d->in_channels * taps;
        *same = (op_check){OP_SUM, 2.0 * K * 0x1p-24, 0, 0};
        conv_mag = op_conv_sum_terms(r, d, pr.in, 1, pr.h, pr.w, pr.weight, pr.bias, NULL);
    }
    op_output(r, "zero offsets against yl_conv2d_cuda", OP_F32, count, got, conv, conv_mag,
              same);
    dcn_problem_free(&pr);
    dcn_problem_free(&other);
}
const op_family op_dcn2d = {"dcn2d", dcn2d_run};
