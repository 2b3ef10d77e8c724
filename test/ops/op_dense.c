/* The op families of the dense kernels without weights: the bilinear axis tables, the
 * preprocess, max pooling, the bilinear resize, the element-wise add and the leaky ReLU.
 * dims per family are named at each. */
#include <math.h>
#include <stdio.h>

#include "cpu/dense_ops.h"
#include "ops/op_harness.h"

/* dims: in, out. The tables as the CPU lays them: i0, i1, w0, w1 (words compared). */
static void bilinear_axis_run(const op_case *c, op_run *r)
{
    const int in = c->dims[0], out = c->dims[1];
    const size_t bytes = yl_bilinear_table_bytes(out);
    int32_t *want = op_host(r, bytes);
    yl_bilinear_axis(in, out, want, want + out, (float *)(want + 2 * out),
                     (float *)(want + 3 * out));
    void *d = op_dev(r, bytes);
    ck_assert_status(yl_bilinear_axis_cuda(in, out, d, NULL), YOLACT_OK);
    op_output(r, "table words", OP_I32, 4 * (size_t)out, op_from_dev(r, d, bytes), want, NULL,
              NULL);
}
const op_family op_bilinear_axis = {"bilinear_axis", bilinear_axis_run};

/* dims: width, height, row padding (bytes), output size. Three outputs: RGB with the mean
 * and std, BGR with them, RGB divided by 255. */
static void preprocess_run(const op_case *c, op_run *r)
{
    static const float mean[3] = {103.94f, 116.78f, 123.68f}, std[3] = {57.38f, 57.12f, 58.40f};
    static const char *const names[3] = {"RGB mean/std", "BGR mean/std", "RGB / 255"};
    const int w = c->dims[0], h = c->dims[1], size = c->dims[3];
    const size_t stride = 3 * (size_t)w + c->dims[2], img_bytes = stride * h;
    const size_t out_n = 3 * (size_t)size * size;
    uint8_t *pixels = op_host(r, img_bytes);
    for (size_t i = 0; i < img_bytes; i++)
        pixels[i] = (uint8_t)yl_test_rand(op_rng(r), 0.0f, 256.0f);
    void *d_pixels = op_to_dev(r, pixels, img_bytes);
    float *d_out = op_dev(r, out_n * sizeof(float));
    for (int variant = 0; variant < 3; variant++) {
        yolact_image host = {pixels, w, h, stride,
                             variant == 1 ? YOLACT_PIXEL_BGR8 : YOLACT_PIXEL_RGB8,
                             YOLACT_MEMORY_HOST};
        yolact_image dev = host;
        dev.data = d_pixels;
        dev.memory = YOLACT_MEMORY_DEVICE;
        const yl_input_norm norm = variant == 2 ? YL_INPUT_DIV_255 : YL_INPUT_MEAN_STD;
        float *want = op_host(r, out_n * sizeof(float));
        yl_preprocess_cpu(&host, size, norm, mean, std, want);
        ck_assert_status(yl_preprocess_cuda(&dev, size, norm, mean, std, d_out, NULL),
                         YOLACT_OK);
        op_output(r, names[variant], OP_F32, out_n, op_from_dev(r, d_out, out_n * 4), want,
                  NULL, NULL);
    }
}
const op_family op_preprocess = {"preprocess", preprocess_run};

/* dims: channels, height, width, kernel, stride, pad. Every seventh input a signed zero,
 * an infinity or a NaN: ties and NaNs resolve by the order of the maximum. */
static void maxpool2d_run(const op_case *c, op_run *r)
{
    const int ch = c->dims[0], h = c->dims[1], w = c->dims[2], k = c->dims[3];
    const int s = c->dims[4], p = c->dims[5];
    const int oh = yl_conv_out_size(h, k, s, p, 1), ow = yl_conv_out_size(w, k, s, p, 1);
    const size_t n_in = (size_t)ch * h * w, n_out = (size_t)ch * oh * ow;
    float *in = op_rand_floats(r, n_in, -4.0f, 4.0f);
    for (size_t j = 0; j < n_in; j += 7) {
        static const float specials[] = {0.0f, -0.0f, -INFINITY, INFINITY, NAN, -NAN};
        in[j] = specials[j / 7 % 6];
    }
    float *want = op_host(r, n_out * 4), *d_out = op_dev(r, n_out * 4);
    yl_maxpool2d_cpu(in, ch, h, w, k, s, p, want, oh, ow);
    ck_assert_status(yl_maxpool2d_cuda(op_to_dev(r, in, n_in * 4), ch, h, w, k, s, p, d_out, oh,
                                       ow, NULL), YOLACT_OK);
    op_output(r, "out", OP_F32, n_out, op_from_dev(r, d_out, n_out * 4), want, NULL, NULL);
}
const op_family op_maxpool2d = {"maxpool2d", maxpool2d_run};

/* dims: channels, in_h, in_w, out_h, out_w. */
static void resize_bilinear_run(const op_case *c, op_run *r)
{
    const int ch = c->dims[0], ih = c->dims[1], iw = c->dims[2], oh = c->dims[3];
    const int ow = c->dims[4];
    const size_t n_in = (size_t)ch * ih * iw, n_out = (size_t)ch * oh * ow;
    float *in = op_rand_floats(r, n_in, -3.0f, 3.0f), *want = op_host(r, n_out * 4);
    yl_resize_bilinear_cpu(in, ch, ih, iw, want, oh, ow,
                           op_host(r, yl_resize_workspace_bytes(oh, ow)));
    float *d_out = op_dev(r, n_out * 4);
    ck_assert_status(yl_resize_bilinear_cuda(op_to_dev(r, in, n_in * 4), ch, ih, iw, d_out, oh,
                                             ow, op_dev(r, yl_resize_cuda_workspace_bytes(oh,
                                                                                        ow)),
                                             NULL), YOLACT_OK);
    op_output(r, "out", OP_F32, n_out, op_from_dev(r, d_out, n_out * 4), want, NULL, NULL);
}
const op_family op_resize_bilinear = {"resize_bilinear", resize_bilinear_run};

/* dims: n. Two outputs: into a buffer of its own, and in place (out aliasing a). */
static void add_run(const op_case *c, op_run *r)
{
    const size_t n = (size_t)c->dims[0];
    float *a = op_rand_floats(r, n, -5.0f, 5.0f), *b = op_rand_floats(r, n, -5.0f, 5.0f);
    float *want = op_host(r, n * 4);
    yl_add_cpu(a, b, n, want);
    float *d_a = op_to_dev(r, a, n * 4), *d_b = op_to_dev(r, b, n * 4), *d_out = op_dev(r, n * 4);
    ck_assert_status(yl_add_cuda(d_a, d_b, n, d_out, NULL), YOLACT_OK);
    op_output(r, "out", OP_F32, n, op_from_dev(r, d_out, n * 4), want, NULL, NULL);
    ck_assert_status(yl_add_cuda(d_a, d_b, n, d_a, NULL), YOLACT_OK);
    op_output(r, "in place", OP_F32, n, op_from_dev(r, d_a, n * 4), want, NULL, NULL);
}
const op_family op_add = {"add", add_run};

/* dims: n. Inputs around 0, with signed zeros, infinities, NaNs and subnormals among them. */
static void leaky_relu_run(const op_case *c, op_run *r)
{
    const size_t n = (size_t)c->dims[0];
    float *x = op_rand_floats(r, n, -3.0f, 3.0f);
    for (size_t j = 0; j < n; j += 5) {
        static const float specials[] = {0.0f, -0.0f, -INFINITY, INFINITY, NAN, -1e-40f, 1e-40f};
        x[j] = specials[j / 5 % 7];
    }
    float *d_x = op_to_dev(r, x, n * 4);
    yl_leaky_relu_cpu(x, n);
    ck_assert_status(yl_leaky_relu_cuda(d_x, n, NULL), YOLACT_OK);
    op_output(r, "x", OP_F32, n, op_from_dev(r, d_x, n * 4), x, NULL, NULL);
}
const op_family op_leaky_relu = {"leaky_relu", leaky_relu_run};

/* dims: activation, residual (0/1), n. Specials at every fifth input. */
static void add_activate_run(const op_case *c, op_run *r)
{
    const yl_activation act = (yl_activation)c->dims[0];
    const size_t n = (size_t)c->dims[2];
    float *y = op_rand_floats(r, n, -3.0f, 3.0f), *res = NULL;
    for (size_t j = 0; j < n; j += 5) {
        static const float specials[] = {0.0f, -0.0f, -INFINITY, INFINITY, NAN, -1e-40f, 1e-40f};
        y[j] = specials[j / 5 % 7];
    }
    if (c->dims[1])
        res = op_rand_floats(r, n, -3.0f, 3.0f);
    float *want = op_host(r, n * 4), *d_out = op_dev(r, n * 4);
    yl_add_activate_cpu(y, res, n, act, want);
    ck_assert_status(yl_add_activate_cuda(op_to_dev(r, y, n * 4),
                                          res ? op_to_dev(r, res, n * 4) : NULL, n, act, d_out,
                                          NULL),
                     YOLACT_OK);
    op_output(r, "out", OP_F32, n, op_from_dev(r, d_out, n * 4), want, NULL, NULL);
}
const op_family op_add_activate = {"add_activate", add_activate_run};
