/* YOLACT++'s ops as direct loops in double: DCNv2 (positions in float32, as torchvision
 * computes them) and the mask-IoU net. */
#include "plus_ref.h"

#include <math.h>
#include <stdlib.h>

#include "yl_test.h"

const dcn_case dcn_cases[] = {
    {5, 7, 9, 8, 3, 1, 1, 1, 3.0f, 0},     /* stride 1, offsets up to 3 px */
    {4, 6, 11, 10, 3, 2, 1, 1, 13.0f, 0},  /* stride 2 (the backbone's), far outside */
    {3, 5, 7, 9, 3, 1, 2, 2, 2.5f, 0},     /* dilation 2, padding 2 */
    {6, 4, 8, 8, 3, 2, 1, 1, 2.0f, 1},     /* integer offsets: pixel centres, the -1 and h borders */
    {40, 33, 23, 21, 3, 2, 1, 1, 8.5f, 0}, /* enough channels and pixels for several GEMM tiles */
    {20, 70, 37, 29, 3, 1, 1, 1, 4.0f, 0}, /* two output-channel tiles, 17 pixel tiles */
    {7, 9, 13, 10, 5, 2, 2, 1, 3.5f, 0},   /* 5x5: 25 taps */
};
const int num_dcn_cases = (int)(sizeof dcn_cases / sizeof dcn_cases[0]);

/* Bilinear sample and its sum of |terms|: zero at or beyond one pixel outside, neighbours
 * outside count 0. */
static double sample_ref(const float *plane, int h, int w, float y, float x, double *mag)
{
    *mag = 0;
    if (y <= -1 || y >= h || x <= -1 || x >= w)
        return 0;
    int y0 = (int)floor(y), x0 = (int)floor(x);
    double ly = y - y0, lx = x - x0, v = 0;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int yy = y0 + dy, xx = x0 + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                double term = (dy ? ly : 1 - ly) * (dx ? lx : 1 - lx) * plane[yy * w + xx];
                v += term;
                *mag += fabs(term);
            }
        }
    return v;
}

void dcn_problem_reference(dcn_problem *p)
{
    const yl_conv_desc *d = &p->d;
    const int n = p->oh * p->ow, k = d->kernel_h, taps = k * k;
    const float *om = p->offset_mask;
    for (int o = 0; o < d->out_channels; o++)
        for (int q = 0; q < n; q++) {
            int oy = q / p->ow, ox = q % p->ow;
            double s = p->bias[o], a = fabs(p->bias[o]);
            for (int c = 0; c < d->in_channels; c++)
                for (int t = 0; t < taps; t++) {
                    float y = (float)(oy * d->stride - d->pad + t / k * d->dilation) +
                              om[(2 * t) * n + q];
                    float x = (float)(ox * d->stride - d->pad + t % k * d->dilation) +
                              om[(2 * t + 1) * n + q];
                    double mask = 1 / (1 + exp(-(double)om[(2 * taps + t) * n + q])), m;
                    double w = p->weight[(o * d->in_channels + c) * taps + t];
                    double v = sample_ref(p->in + (size_t)c * p->h * p->w, p->h, p->w, y, x, &m);
                    s += w * mask * v;
                    a += fabs(w) * mask * m;
                }
            p->ref[o * n + q] = s;
            p->mag[o * n + q] = a;
        }
}

static float *floats(size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(f);
    return f;
}

void dcn_problem_make(dcn_problem *p, const dcn_case *k, uint64_t seed)
{
    uint64_t rng = seed;
    p->d = (yl_conv_desc){k->c, k->o, k->kernel, k->kernel, k->stride, k->pad, k->dilation};
    p->h = k->h;
    p->w = k->w;
    p->oh = yl_conv_out_size(k->h, k->kernel, k->stride, k->pad, k->dilation);
    p->ow = yl_conv_out_size(k->w, k->kernel, k->stride, k->pad, k->dilation);
    const size_t n = (size_t)p->oh * p->ow, taps = (size_t)k->kernel * k->kernel;
    p->in = floats((size_t)k->c * k->h * k->w);
    p->offset_mask = floats(3 * taps * n);
    p->weight = floats((size_t)k->o * k->c * taps);
    p->bias = floats((size_t)k->o);
    p->ref = malloc(sizeof(double) * k->o * n + 1);
    p->mag = malloc(sizeof(double) * k->o * n + 1);
    ck_assert(p->ref && p->mag);
    for (size_t i = 0; i < (size_t)k->c * k->h * k->w; i++)
        p->in[i] = yl_test_rand(&rng, -1, 1);
    for (size_t i = 0; i < 2 * taps * n; i++) {
        p->offset_mask[i] = yl_test_rand(&rng, -k->offset_range, k->offset_range);
        if (k->integer_offsets)
            p->offset_mask[i] = roundf(p->offset_mask[i]);
    }
    for (size_t i = 2 * taps * n; i < 3 * taps * n; i++)
        p->offset_mask[i] = yl_test_rand(&rng, -4, 4);
    for (size_t i = 0; i < (size_t)k->o * k->c * taps; i++)
        p->weight[i] = yl_test_rand(&rng, -0.5f, 0.5f);
    for (int i = 0; i < k->o; i++)
        p->bias[i] = yl_test_rand(&rng, -0.1f, 0.1f);
    dcn_problem_reference(p);
}

void dcn_problem_free(dcn_problem *p)
{
    free(p->in);
    free(p->offset_mask);
    free(p->weight);
    free(p->bias);
    free(p->ref);
    free(p->mag);
}

/* ---- the mask-IoU net ---------------------------------------------------------------- */
/* One unpadded convolution + ReLU in double, (c, h, w) -> (o, oh, ow); with magnitudes,
 * |weight| and |bias| (the input is then a magnitude too). */
static double *conv_relu_ref(const double *in, int c, int h, int w, const yl_maskiou_layer *l,
                             int magnitudes, int *oh, int *ow)
{
    int k = l->conv.kernel_h, s = l->conv.stride, o = l->conv.out_channels;
    *oh = (h - k) / s + 1;
    *ow = (w - k) / s + 1;
    double *out = malloc(sizeof(double) * o * *oh * *ow);
    ck_assert_ptr_nonnull(out);
    for (int oc = 0; oc < o; oc++)
        for (int y = 0; y < *oh; y++)
            for (int x = 0; x < *ow; x++) {
                double v = magnitudes ? fabs(l->bias[oc]) : l->bias[oc];
                for (int ic = 0; ic < c; ic++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            double wt = l->weight[((oc * c + ic) * k + ky) * k + kx];
                            v += (magnitudes ? fabs(wt) : wt) *
                                 in[(ic * h + y * s + ky) * w + x * s + kx];
                        }
                out[(oc * *oh + y) * *ow + x] = v > 0 ? v : 0;
            }
    return out;
}

const int maskiou_sizes[NUM_MASKIOU_SIZES] = {30, 37, 138};

void maskiou_problem_make(maskiou_problem *p, int size, int n, uint64_t seed)
{
    static const int widths[4] = {4, 6, 8, MASKIOU_CLASSES}, kernels[4] = {3, 3, 3, 1};
    uint64_t rng = seed;
    p->net = (yl_maskiou_net){.num_layers = 4, .in_h = size, .in_w = size};
    for (int l = 0, c = 1; l < 4; l++) {
        int k = kernels[l], o = widths[l];
        p->net.layers[l].conv = (yl_conv_desc){c, o, k, k, k == 3 ? 2 : 1, 0, 1};
        p->params[2 * l] = floats((size_t)o * c * k * k);
        p->params[2 * l + 1] = floats((size_t)o);
        for (int i = 0; i < o * c * k * k; i++)
            p->params[2 * l][i] = yl_test_rand(&rng, -0.6f, 0.8f);
        for (int i = 0; i < o; i++)
            p->params[2 * l + 1][i] = yl_test_rand(&rng, -0.1f, 0.2f);
        p->net.layers[l].weight = p->params[2 * l];
        p->net.layers[l].bias = p->params[2 * l + 1];
        c = o;
    }
    size_t plane = (size_t)size * size;
    p->n = n;
    p->masks = floats((size_t)n * plane);
    p->scores = floats((size_t)n);
    p->classes = malloc(sizeof(int) * (size_t)(n + 1));
    ck_assert_ptr_nonnull(p->classes);
    for (size_t i = 0; i < (size_t)n * plane; i++) /* cropped sigmoid masks: zeros and (0, 1) */
        p->masks[i] = (i % 5 == 0) ? 0.0f : yl_test_rand(&rng, 0, 1);
    for (int i = 0; i < n; i++) {
        p->classes[i] = (3 * i + 1) % MASKIOU_CLASSES;
        p->scores[i] = yl_test_rand(&rng, 0.05f, 1.0f);
    }
}

double maskiou_problem_reference(const maskiou_problem *p, int i, double *mag)
{
    int size = p->net.in_h;
    size_t plane = (size_t)size * size;
    double best[2] = {0, 0};
    for (int magnitudes = 0; magnitudes < (mag ? 2 : 1); magnitudes++) {
        double *a = malloc(sizeof(double) * plane);
        ck_assert_ptr_nonnull(a);
        for (size_t q = 0; q < plane; q++)
            a[q] = p->masks[i * plane + q];
        int c = 1, h = size, w = size;
        for (int l = 0; l < p->net.num_layers; l++) {
            int oh, ow;
            double *b = conv_relu_ref(a, c, h, w, &p->net.layers[l], magnitudes, &oh, &ow);
            free(a);
            a = b;
            c = p->net.layers[l].conv.out_channels;
            h = oh;
            w = ow;
        }
        for (int q = 0; q < h * w; q++)
            best[magnitudes] = fmax(best[magnitudes], a[p->classes[i] * h * w + q]);
        free(a);
    }
    if (mag)
        *mag = best[1];
    return best[0];
}

void maskiou_problem_free(maskiou_problem *p)
{
    for (int i = 0; i < 8; i++)
        free(p->params[i]);
    free(p->masks);
    free(p->classes);
    free(p->scores);
}
