#include "stage_flops.h"

#include <string.h>

/* Intel's server cores with AVX-512 have two 512-bit FMA units; AMD's Zen 4 runs AVX-512 on
 * two 256-bit ones, so its peak is AVX2's. */
static void read_peak(cpu_peak *p)
{
    memset(p, 0, sizeof *p);
    p->isa = "none";
    p->lanes = 4;
    p->fma_units = 2;
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int amd = 0, avx512 = 0, avx2 = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "vendor_id", 9))
            amd = strstr(line, "AuthenticAMD") != NULL;
        else if (!strncmp(line, "cpu MHz", 7) && !p->ghz)
            sscanf(strchr(line, ':') + 1, "%lf", &p->ghz);
        else if (!strncmp(line, "flags", 5)) {
            avx512 = strstr(line, " avx512f ") != NULL;
            avx2 = strstr(line, " avx2 ") && strstr(line, " fma ");
            break;  /* the first core's facts */
        }
    }
    if (f)
        fclose(f);
    p->ghz /= 1e3;
    if (avx512 || avx2) {
        p->isa = avx512 ? "avx512" : "avx2";
        p->lanes = avx512 && !amd ? 16 : 8;
    }
    p->core_gflops = p->ghz * p->fma_units * p->lanes * 2;
    p->avx2_core_gflops = p->ghz * p->fma_units * 8 * 2;
}

void stage_flops_count(const yolact_model *m, stage_flops *w)
{
    memset(w->gflop, 0, sizeof w->gflop);
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->kind != YL_OP_CONV && op->kind != YL_OP_DCN)
            continue;
        const yl_conv_desc *d = &op->conv;
        const yl_buffer_desc *out = &m->buffers[op->out];
        w->gflop[yl_stage_of_op(op)] += 2e-9 * d->out_channels * out->height * out->width *
                                        d->in_channels * d->kernel_h * d->kernel_w;
    }
    read_peak(&w->peak);
}

static double achieved(const stage_flops *w, int s, const double *ms, int batch)
{
    return ms[s] > 0 ? w->gflop[s] * batch / (ms[s] * 1e-3) : 0;
}

void stage_flops_print(const stage_flops *w, const double median_ms[YL_STAGE_COUNT], int threads,
                      int batch)
{
    double peak = w->peak.core_gflops * threads, avx2 = w->peak.avx2_core_gflops * threads;
    printf("  FP32 peak of %d core%s at %.3f GHz: %.1f GFLOP/s (%s), %.1f with AVX2\n", threads,
           threads == 1 ? "" : "s", w->peak.ghz, peak, w->peak.isa, avx2);
    for (int s = 0; s < YL_STAGE_COUNT; s++)
        if (w->gflop[s] > 0) {
            double g = achieved(w, s, median_ms, batch);
            printf("  %-11s %7.2f GFLOP %7.1f GFLOP/s = %4.1f%% of peak, %4.1f%% of AVX2's\n",
                   yl_stage_name((yl_stage)s), w->gflop[s] * batch, g,
                   peak > 0 ? 100 * g / peak : 0, avx2 > 0 ? 100 * g / avx2 : 0);
        }
}

void stage_flops_json(FILE *f, const stage_flops *w, const double median_ms[YL_STAGE_COUNT],
                     int threads, int batch)
{
    const cpu_peak *p = &w->peak;
    fprintf(f, ",\n     \"fp32_throughput\": {\"ghz\": %.3f, \"isa\": \"%s\", \"fp32_lanes\": %d, "
            "\"fma_units\": %d, \"peak_gflops_per_core\": %.1f, \"avx2_peak_gflops_per_core\": "
            "%.1f, \"peak_gflops\": %.1f, \"stages\": {", p->ghz, p->isa, p->lanes, p->fma_units,
            p->core_gflops, p->avx2_core_gflops, p->core_gflops * threads);
    const char *sep = "";
    for (int s = 0; s < YL_STAGE_COUNT; s++)
        if (w->gflop[s] > 0) {
            double g = achieved(w, s, median_ms, batch);
            fprintf(f, "%s\"%s\": {\"gflop\": %.4f, \"gflops\": %.2f, \"of_peak\": %.4f}", sep,
                    yl_stage_name((yl_stage)s), w->gflop[s] * batch, g,
                    p->core_gflops > 0 ? g / (p->core_gflops * threads) : 0);
            sep = ", ";
        }
    fputs("}}", f);
}
