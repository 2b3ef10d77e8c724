#include "conv_shapes.h"

#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "model/model.h"

int conv_shapes_measure(const yolact_model *m, int iters, conv_shapes_run *r)
{
    r->count = 0;
    r->skipped[0] = '\0';
    if (!(r->shapes = calloc((size_t)m->num_ops, sizeof *r->shapes))) {
        fputs("yolact-bench: out of memory\n", stderr);
        return 1;
    }
    yolact_status s = yl_cuda_time_convs(m, 0, r->precision, r->batch, iters, r->shapes,
                                         &r->count);
    if (s == YOLACT_ERR_BACKEND_UNAVAILABLE) {
        snprintf(r->skipped, sizeof r->skipped, "%s", yolact_last_error());
        return 0;
    }
    if (s != YOLACT_OK) {
        fprintf(stderr, "yolact-bench: timing the convolutions: %s: %s\n",
                yolact_status_string(s), yolact_last_error());
        return 1;
    }
    return 0;
}

/* Our kernel's throughput over cuDNN's on the same work: cuDNN's time over ours. */
static double throughput_ratio(double own_ms, double dnn_ms)
{
    return own_ms > 0 ? dnn_ms / own_ms : 0;
}

void conv_shapes_print(const conv_shapes_run *r)
{
    printf("\nconvolutions of our kernels against cuDNN, %s, batch %d:",
           bench_precision_name(r->precision), r->batch);
    if (r->skipped[0]) {
        printf(" skipped: %s\n", r->skipped);
        return;
    }
    printf("\n  %-32s %-22s %4s %10s %10s %10s %10s %10s\n", "first op", "shape (in->out, k, in)",
           "ops", "ours ms", "cuDNN ms", "ours TF/s", "cuDNN TF/s", "ours/cuDNN");
    double own = 0, dnn = 0;
    for (int i = 0; i < r->count; i++) {
        const yl_conv_timing *t = &r->shapes[i];
        char shape[64];
        snprintf(shape, sizeof shape, "%d->%d %dx%d/%d %dx%d", t->desc.in_channels,
                 t->desc.out_channels, t->desc.kernel_h, t->desc.kernel_w, t->desc.stride,
                 t->in_h, t->in_w);
        printf("  %-32s %-22s %4d %10.4f %10.4f %10.2f %10.2f %9.2fx\n", t->op, shape, t->ops,
               t->own_ms, t->dnn_ms, t->flop / (t->own_ms * 1e9), t->flop / (t->dnn_ms * 1e9),
               throughput_ratio(t->own_ms, t->dnn_ms));
        own += t->ops * t->own_ms;
        dnn += t->ops * t->dnn_ms;
    }
    printf("  %-32s %-22s %4s %10.4f %10.4f %10s %10s %9.2fx\n", "network total", "", "", own,
           dnn, "", "", throughput_ratio(own, dnn));
}

void conv_shapes_json(FILE *f, const conv_shapes_run *runs, int n)
{
    fputs(",\n  \"conv_shapes\": [", f);
    for (int k = 0; k < n; k++) {
        const conv_shapes_run *r = &runs[k];
        fprintf(f, "%s\n    {\"precision\": \"%s\", \"batch\": %d", k ? "," : "",
                bench_precision_name(r->precision), r->batch);
        if (r->skipped[0]) {
            fputs(", \"skipped\": ", f);
            bench_json_string(f, r->skipped);
            fputs("}", f);
            continue;
        }
        fputs(", \"shapes\": [", f);
        for (int i = 0; i < r->count; i++) {
            const yl_conv_timing *t = &r->shapes[i];
            fprintf(f, "%s\n      {\"op\": ", i ? "," : "");
            bench_json_string(f, t->op);
            fprintf(f, ", \"in_channels\": %d, \"out_channels\": %d, \"kernel\": [%d, %d], "
                    "\"stride\": %d, \"pad\": %d, \"dilation\": %d, \"in\": [%d, %d], "
                    "\"out\": [%d, %d], \"ops\": %d, \"gflop\": %.6f, \"own_ms\": %.6f, "
                    "\"cudnn_ms\": %.6f, \"own_over_cudnn_throughput\": %.4f}",
                    t->desc.in_channels, t->desc.out_channels, t->desc.kernel_h,
                    t->desc.kernel_w, t->desc.stride, t->desc.pad, t->desc.dilation, t->in_h,
                    t->in_w, t->out_h, t->out_w, t->ops, t->flop * 1e-9, t->own_ms, t->dnn_ms,
                    throughput_ratio(t->own_ms, t->dnn_ms));
        }
        fputs("]}", f);
    }
    fputs("\n  ]", f);
}

void conv_shapes_free(conv_shapes_run *r)
{
    free(r->shapes);
    r->shapes = NULL;
}
