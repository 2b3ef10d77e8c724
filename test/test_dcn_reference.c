/* The DCNv2 ops against an outside reference: torchvision.ops.deform_conv2d with mask=, in
 * float64 (test/data/dcn/, made by its make_dcn_reference.py), at the real networks' channel
 * counts and spatial sizes, stride 1 and 2, dilation 2, samples far outside the image. Each
 * case runs through the CPU op (lib/cpu/dcn.c) and the CUDA kernel (kernels/dcn.cu; the
 * emulation in CI) in FP32 and FP16, compared relative to each output's sum|terms| (the sum
 * over channels, taps and bilinear neighbours of |weight x modulation x bilinear weight x
 * input|, plus |bias|; plus_ref.c's direct loop computes it):
 *   FP32: 1e-5. torchvision itself, run in float32 on these cases, is within 3.2e-6 of its
 *     float64 result (measured by the script: the 128-channel 69x69 case, K = 1152 products;
 *     the others below 1.5e-6); float32 sample positions and sums of K products in another
 *     order are the whole difference, and a wrong sample (of the order of a term) exceeds it.
 *   FP16: 2^-9 + 1e-5 absolute, test_plus_kernels.c's bound (half columns and weights, float
 *     accumulation).
 * The reference's own output is also checked against plus_ref.c's direct loop (1e-5): the
 * two references agree on the op's definition (offset layout, modulation, borders). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/dcn.h"
#include "npz.h"
#include "plus_ref.h"
#include "yl_cuda_test.h"

#define DCN_REFERENCE_DIR YL_TEST_DATA "/dcn"
#define FP32_RTOL 1e-5
#define FP16_RTOL (1.0 / 512)
#define FP16_ATOL 1e-5
#define SHOWN_MISMATCHES 5

/* The cases: test/data/dcn/<name>.npz (their shapes and geometry are in the files). */
static const char *const dcn_reference_cases[] = {
    "c128_69_s1",    /* stage 2's stride-1 DCNs at 550 */
    "c256_35_s1",    /* stage 3's */
    "c512_18_s1",    /* stage 4's */
    "c512_35_s2",    /* stage 4's first block, 35 -> 18 */
    "c64_69_s2",     /* stage 2's first block, 69 -> 35 */
    "c96_23x17_d2",  /* dilation 2, padding 2, odd sizes */
    "c64_13x11_far", /* offsets to 9 px: over half the samples outside */
};
#define NUM_DCN_REFERENCE_CASES \
    (int)(sizeof dcn_reference_cases / sizeof dcn_reference_cases[0])

/* One case: the problem (inputs, geometry, the direct loop's ref and sum|terms|) and
 * torchvision's output. */
typedef struct dcn_reference {
    const char *name;
    dcn_problem p;
    float *output;
} dcn_reference;

/* Array `key` of the case's file, float32 with the given shape (dims entries, -1 = any),
 * its data taken over (the caller frees it). */
static void *load_array(const char *path, const char *key, const char *dtype, int dims,
                        const long *shape, size_t *shape_out)
{
    yl_npy a;
    const char *err = yl_npz_read(path, key, &a);
    ck_assert_msg(err == NULL, "%s: %s: %s", path, key, err);
    ck_assert_msg(strcmp(a.dtype, dtype) == 0 && a.ndim == dims, "%s: %s is %s with %d "
                  "dimensions, expected %s with %d", path, key, a.dtype, a.ndim, dtype, dims);
    for (int i = 0; i < dims; i++) {
        ck_assert_msg(shape[i] < 0 || a.shape[i] == (size_t)shape[i], "%s: %s: side %d is %zu, "
                      "expected %ld", path, key, i, a.shape[i], shape[i]);
        if (shape_out)
            shape_out[i] = a.shape[i];
    }
    return a.data;
}

/* Read test/data/dcn/<name>.npz (README.md there) into r; the direct loop's ref and mag
 * computed. */
static void dcn_reference_load(const char *name, dcn_reference *r)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.npz", DCN_REFERENCE_DIR, name);
    memset(r, 0, sizeof *r);
    r->name = name;
    dcn_problem *p = &r->p;
    size_t in_shape[3], w_shape[4];
    int *geometry = load_array(path, "geometry", "<i4", 1, (long[]){3}, NULL);
    p->in = load_array(path, "input", "<f4", 3, (long[]){-1, -1, -1}, in_shape);
    p->weight = load_array(path, "weight", "<f4", 4,
                           (long[]){-1, (long)in_shape[0], 3, 3}, w_shape);
    p->d = (yl_conv_desc){(int)in_shape[0], (int)w_shape[0], 3, 3, geometry[0], geometry[1],
                          geometry[2]};
    free(geometry);
    p->h = (int)in_shape[1];
    p->w = (int)in_shape[2];
    p->oh = yl_conv_out_size(p->h, 3, p->d.stride, p->d.pad, p->d.dilation);
    p->ow = yl_conv_out_size(p->w, 3, p->d.stride, p->d.pad, p->d.dilation);
    const size_t n = (size_t)p->oh * p->ow, taps = 9;
    p->bias = load_array(path, "bias", "<f4", 1, (long[]){p->d.out_channels}, NULL);
    float *offset = load_array(path, "offset", "<f4", 3, (long[]){18, p->oh, p->ow}, NULL);
    float *logit = load_array(path, "mask_logit", "<f4", 3, (long[]){9, p->oh, p->ow}, NULL);
    r->output = load_array(path, "output", "<f4", 3, (long[]){p->d.out_channels, p->oh, p->ow},
                           NULL);
    /* The op's offset_mask: DCNv2's offset convolution output, offsets then logits. */
    p->offset_mask = xmalloc(3 * taps * n * sizeof(float));
    memcpy(p->offset_mask, offset, 2 * taps * n * sizeof(float));
    memcpy(p->offset_mask + 2 * taps * n, logit, taps * n * sizeof(float));
    free(offset);
    free(logit);
    const size_t count = (size_t)p->d.out_channels * n;
    p->ref = xmalloc(count * sizeof(double));
    p->mag = xmalloc(count * sizeof(double));
    dcn_problem_reference(p);
}

static void dcn_reference_free(dcn_reference *r)
{
    dcn_problem_free(&r->p);
    free(r->output);
}

/* The CPU op (all cores) on the case. */
static void dcn_reference_run_cpu(const dcn_reference *r, float *out)
{
    const dcn_problem *p = &r->p;
    float *ws = xmalloc((yl_dcn2d_workspace_floats(&p->d, p->h, p->w) + 1) * sizeof(float));
    yl_dcn2d_cpu(&p->d, p->in, p->h, p->w, p->offset_mask, p->weight, p->bias, YL_ACT_NONE,
                 out, ws, 0);
    free(ws);
}

/* The CUDA kernel on the case. */
static void dcn_reference_run_cuda(const dcn_reference *r, yolact_precision prec, float *out)
{
    const float *in = r->p.in, *om = r->p.offset_mask;
    dcn_cuda_batch(&r->p, &in, &om, 1, prec, YL_ACT_NONE, out);
}

/* Every |got - want| within rtol x sum|terms| + atol; on failure the worst output and the
 * first mismatches. Returns the worst |got - want| / sum|terms| (outputs with a sum of 0, all
 * samples outside and no bias, must be exact). */
static double dcn_reference_compare(const dcn_reference *r, const double *want,
                                    const float *got, double rtol, double atol,
                                    const char *what)
{
    const dcn_problem *p = &r->p;
    const size_t n = (size_t)p->oh * p->ow, count = (size_t)p->d.out_channels * n;
    double worst = 0;
    size_t worst_at = 0, bad = 0;
    for (size_t i = 0; i < count; i++) {
        const double err = fabs((double)got[i] - want[i]), mag = p->mag[i];
        const double rel = mag > 0 ? err / mag : (err > 0 ? INFINITY : 0);
        if (rel > worst || isnan(rel)) {
            worst = isnan(rel) ? INFINITY : rel;
            worst_at = i;
        }
        if (!(err <= rtol * mag + atol)) {
            if (bad < SHOWN_MISMATCHES)
                fprintf(stderr, "%s on %s: channel %zu at (%zu, %zu): %.9g, reference %.9g, "
                        "|diff| %.3g, sum|terms| %.3g\n", what, r->name, i / n, i % n / p->ow,
                        i % p->ow, got[i], want[i], err, mag);
            bad++;
        }
    }
    if (bad) {
        const size_t i = worst_at;
        ck_abort_msg("%s on %s (%d->%d, %dx%d, stride %d, dilation %d): %zu of %zu outputs "
                     "past %.3g sum|terms| + %.3g (first ones on stderr); worst: channel %zu at "
                     "(%zu, %zu), %.9g vs %.9g, |diff| / sum|terms| %.3g", what, r->name,
                     p->d.in_channels, p->d.out_channels, p->h, p->w, p->d.stride,
                     p->d.dilation, bad, count, rtol, atol, i / n, i % n / p->ow, i % p->ow,
                     got[i], want[i], worst);
    }
    return worst;
}

/* torchvision's float32-stored output as doubles. */
static double *output_as_doubles(const dcn_reference *r)
{
    const size_t count = (size_t)r->p.d.out_channels * r->p.oh * r->p.ow;
    double *want = xmalloc(count * sizeof(double));
    for (size_t i = 0; i < count; i++)
        want[i] = r->output[i];
    return want;
}

START_TEST(test_dcn_reference)
{
    dcn_reference r;
    dcn_reference_load(dcn_reference_cases[_i], &r);
    const size_t count = (size_t)r.p.d.out_channels * r.p.oh * r.p.ow;
    double *want = output_as_doubles(&r);
    float *ref_loop = xmalloc(count * sizeof(float)), *got = xmalloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        ref_loop[i] = (float)r.p.ref[i];
    double agree = dcn_reference_compare(&r, want, ref_loop, FP32_RTOL, 0,
                                         "plus_ref.c's direct loop");
    dcn_reference_run_cpu(&r, got);
    double cpu = dcn_reference_compare(&r, want, got, FP32_RTOL, 0, "the CPU op");
    dcn_reference_run_cuda(&r, YOLACT_PRECISION_FP32, got);
    double fp32 = dcn_reference_compare(&r, want, got, FP32_RTOL, 0, "the CUDA kernel, FP32");
    dcn_reference_run_cuda(&r, YOLACT_PRECISION_FP16, got);
    double fp16 = dcn_reference_compare(&r, want, got, FP16_RTOL, FP16_ATOL,
                                        "the CUDA kernel, FP16");
    printf("dcn_reference %s: worst |diff| / sum|terms|: direct loop %.2e, CPU %.2e, CUDA FP32 "
           "%.2e, CUDA FP16 %.2e\n", r.name, agree, cpu, fp32, fp16);
    free(want);
    free(ref_loop);
    free(got);
    dcn_reference_free(&r);
}
END_TEST

Suite *dcn_reference_suite(void)
{
    Suite *s = suite_create("dcn_reference");
    TCase *tc = tcase_create("torchvision");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_dcn_reference, 0, NUM_DCN_REFERENCE_CASES);
    suite_add_tcase(s, tc);
    return s;
}
