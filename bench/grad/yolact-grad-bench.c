/* yolact-grad-bench: the CPU convolution's backward pass (input and weight gradients,
 * lib/cpu/grad_conv.c) timed against its forward (im2col + GEMM, the exact path) on one
 * layer shape, by default YOLACT-550's protonet 3x3 conv, 256 -> 256 on 69x69. Prints the
 * median of --iters runs of each after --warmup; random data.
 *   yolact-grad-bench [--in C] [--out C] [--size HxW] [--kernel K] [--stride S]
 *                     [--threads N] [--warmup N] [--iters N] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/bench_cli.h"
#include "cpu/conv.h"
#include "cpu/grad_ops.h"

static float *random_floats(size_t n, unsigned *seed)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "yolact-grad-bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)rand_r(seed) / RAND_MAX - 0.5f;
    return p;
}

int main(int argc, char **argv)
{
    int in_c = 256, out_c = 256, h = 69, w = 69, k = 3, stride = 1, threads = 0;
    int warmup = 1, iters = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "yolact-grad-bench: %s needs a value (see the top of "
                            "bench/grad/yolact-grad-bench.c)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--in"))
            in_c = bench_int_arg("yolact-grad-bench", a, v, 1);
        else if (!strcmp(a, "--out"))
            out_c = bench_int_arg("yolact-grad-bench", a, v, 1);
        else if (!strcmp(a, "--size")) {
            if (sscanf(v, "%dx%d", &h, &w) != 2 || h < 1 || w < 1) {
                fprintf(stderr, "yolact-grad-bench: --size wants HxW, not '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--kernel"))
            k = bench_int_arg("yolact-grad-bench", a, v, 1);
        else if (!strcmp(a, "--stride"))
            stride = bench_int_arg("yolact-grad-bench", a, v, 1);
        else if (!strcmp(a, "--threads"))
            threads = bench_int_arg("yolact-grad-bench", a, v, 0);
        else if (!strcmp(a, "--warmup"))
            warmup = bench_int_arg("yolact-grad-bench", a, v, 0);
        else if (!strcmp(a, "--iters"))
            iters = bench_int_arg("yolact-grad-bench", a, v, 1);
        else {
            fprintf(stderr, "yolact-grad-bench: unknown option %s\n", a);
            return 2;
        }
    }
    const yl_conv_desc d = {in_c, out_c, k, k, stride, k / 2, 1};
    const int oh = yl_conv_out_size(h, k, stride, k / 2, 1);
    const int ow = yl_conv_out_size(w, k, stride, k / 2, 1);
    const size_t n_in = (size_t)in_c * h * w, n_out = (size_t)out_c * oh * ow;
    const size_t n_w = (size_t)out_c * in_c * k * k;
    size_t ws_f = yl_conv2d_workspace_floats(&d, h, w);
    size_t ws_b = yl_conv2d_grad_workspace_floats(&d, h, w);
    unsigned seed = 32;
    float *in = random_floats(n_in, &seed), *wt = random_floats(n_w, &seed);
    float *bias = random_floats(out_c, &seed), *dy = random_floats(n_out, &seed);
    float *out = random_floats(n_out, &seed), *din = random_floats(n_in, &seed);
    float *dw = random_floats(n_w, &seed), *db = random_floats(out_c, &seed);
    float *ws = random_floats(ws_f > ws_b ? ws_f : ws_b, &seed);
    double *fwd = malloc(sizeof(double) * iters), *bwd = malloc(sizeof(double) * iters);
    if (!fwd || !bwd)
        return 1;
    for (int i = -warmup; i < iters; i++) {
        double t0 = bench_now();
        yl_conv2d_cpu_gemm(YL_GEMM_AUTO, &d, in, h, w, wt, bias, NULL, YL_ACT_RELU, out, ws,
                           threads);
        double t1 = bench_now();
        yl_conv2d_backward_cpu(&d, in, 1, h, w, wt, dy, din, 0, dw, db, ws, threads);
        double t2 = bench_now();
        if (i >= 0) {
            fwd[i] = t1 - t0;
            bwd[i] = t2 - t1;
        }
    }
    const double fwd_median = bench_median(fwd, iters), bwd_median = bench_median(bwd, iters);
    printf("conv %d->%d %dx%d stride %d on %dx%d, %d threads, GEMM %s, median of %d:\n", in_c,
           out_c, k, k, stride, h, w, threads ? threads : omp_get_num_procs(), yl_gemm_kernels(),
           iters);
    printf("  forward  (im2col + GEMM, bias, ReLU)        %8.1f ms\n", fwd_median * 1e3);
    printf("  backward (input + weight + bias gradients)  %8.1f ms  (%.2fx the forward)\n",
           bwd_median * 1e3, bwd_median / fwd_median);
    float *buffers[] = {in, wt, bias, dy, out, din, dw, db, ws};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
        free(buffers[i]);
    free(fwd);
    free(bwd);
    return 0;
}
