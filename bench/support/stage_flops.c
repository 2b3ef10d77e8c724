#include "stage_flops.h"

#include <stdlib.h>
#include <string.h>

#include <immintrin.h>
#include <omp.h>
#include <time.h>

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
}

/* Twelve independent FMA chains: enough to keep two FMA units busy through a 4-cycle latency. */
#define FMA_CHAINS 12

__attribute__((target("avx512f"))) static float fma_chains_avx512(long rounds)
{
    __m512 acc[FMA_CHAINS], mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < FMA_CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < FMA_CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
    float sum = 0;
    for (int i = 0; i < FMA_CHAINS; i++)
        sum += _mm512_cvtss_f32(acc[i]);
    return sum;
}

__attribute__((target("avx2,fma"))) static float fma_chains_avx2(long rounds)
{
    __m256 acc[FMA_CHAINS], mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < FMA_CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < FMA_CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    float sum = 0;
    for (int i = 0; i < FMA_CHAINS; i++)
        sum += _mm256_cvtss_f32(acc[i]);
    return sum;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* What `threads` cores together sustain of `width`-lane FMAs, measured: the nominal clock
 * (/proc/cpuinfo's, the base clock) understates what turbo gives, e.g. this workplace's Xeon
 * lists 2.6 GHz and runs AVX-512 FMAs at ~3.4. Each thread runs ~0.1 s of chains; the best of
 * three tries. */
static double measure_gflops(int width, int threads)
{
    const long rounds = 20 * 1000 * 1000 / (width / 8);
    double best = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        double start = seconds();
        volatile float sink = 0;
#pragma omp parallel num_threads(threads)
        {
            float s = width == 16 ? fma_chains_avx512(rounds) : fma_chains_avx2(rounds);
#pragma omp atomic
            sink += s;
        }
        double gflops = 2e-9 * rounds * FMA_CHAINS * width * threads / (seconds() - start);
        best = gflops > best ? gflops : best;
    }
    return best;
}

#define MAX_MEASURED_THREADS 256

/* The measured peak of `threads` cores with the widest vectors (or with AVX2's), each
 * measured once per process, when the bench prints its first run with that many threads. */
static double measured_peak(const cpu_peak *p, int threads, int avx2)
{
    static double measured[2][MAX_MEASURED_THREADS];
    if (!strcmp(p->isa, "none") || threads < 1 || threads > MAX_MEASURED_THREADS)
        return 0;
    double *slot = &measured[avx2][threads - 1];
    if (*slot == 0)
        *slot = measure_gflops(avx2 || p->lanes == 8 ? 8 : 16, threads);
    return *slot;
}

double op_gflop(const yolact_model *m, int i)
{
    const yl_op *op = &m->ops[i];
    if (op->kind != YL_OP_CONV && op->kind != YL_OP_DCN)
        return 0;
    const yl_conv_desc *d = &op->conv;
    const yl_buffer_desc *out = &m->buffers[op->out];
    return 2e-9 * d->out_channels * out->height * out->width * d->in_channels * d->kernel_h *
           d->kernel_w;
}

void stage_flops_count(const yolact_model *m, stage_flops *w)
{
    memset(w->gflop, 0, sizeof w->gflop);
    for (int i = 0; i < m->num_ops; i++)
        w->gflop[yl_stage_of_op(&m->ops[i])] += op_gflop(m, i);
    read_peak(&w->peak);
}

static double achieved(const stage_flops *w, int s, const double *ms, int batch)
{
    return ms[s] > 0 ? w->gflop[s] * batch / (ms[s] * 1e-3) : 0;
}

void stage_flops_print(const stage_flops *w, const double median_ms[YL_STAGE_COUNT], int threads,
                      int batch)
{
    double peak = measured_peak(&w->peak, threads, 0), avx2 = measured_peak(&w->peak, threads, 1);
    printf("  FP32 peak of %d core%s, measured: %.1f GFLOP/s (%s FMAs; nominal at %.3f GHz: "
           "%.1f), %.1f with AVX2\n", threads, threads == 1 ? "" : "s", peak, w->peak.isa,
           w->peak.ghz, w->peak.core_gflops * threads, avx2);
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
    double peak = measured_peak(p, threads, 0), avx2 = measured_peak(p, threads, 1);
    fprintf(f, ",\n     \"fp32_throughput\": {\"ghz\": %.3f, \"isa\": \"%s\", \"fp32_lanes\": %d, "
            "\"fma_units\": %d, \"nominal_peak_gflops_per_core\": %.1f, \"peak_gflops\": %.1f, "
            "\"avx2_peak_gflops\": %.1f, \"peak\": \"measured: FMA chains on every thread\", "
            "\"stages\": {", p->ghz, p->isa, p->lanes, p->fma_units, p->core_gflops, peak, avx2);
    const char *sep = "";
    for (int s = 0; s < YL_STAGE_COUNT; s++)
        if (w->gflop[s] > 0) {
            double g = achieved(w, s, median_ms, batch);
            fprintf(f, "%s\"%s\": {\"gflop\": %.4f, \"gflops\": %.2f, \"of_peak\": %.4f}", sep,
                    yl_stage_name((yl_stage)s), w->gflop[s] * batch, g, peak > 0 ? g / peak : 0);
            sep = ", ";
        }
    fputs("}}", f);
}

static const char *op_kind_name(yl_op_kind kind)
{
    static const char *const names[] = {"conv", "maxpool", "resize", "add", "head output",
                                        "proto output", "dcn"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

/* Each op's algorithm letter: its convolution's in conv_algorithms, '-' for other ops. */
static void op_letters(const yolact_model *m, const char *conv_algorithms, char *letters)
{
    const char *next = conv_algorithms ? conv_algorithms : "";
    for (int i = 0; i < m->num_ops; i++)
        letters[i] = m->ops[i].kind == YL_OP_CONV && *next ? *next++ : '-';
}

static double network_ms(const yolact_model *m, const double *op_ms)
{
    double sum = 0;
    for (int i = 0; i < m->num_ops; i++)
        sum += op_ms[i];
    return sum;
}

void op_flops_print(const yolact_model *m, const stage_flops *w, const double *op_ms,
                    const char *conv_algorithms, int threads, int batch)
{
    char *letters = malloc((size_t)m->num_ops + 1);
    if (!letters)
        return;
    op_letters(m, conv_algorithms, letters);
    const double peak = measured_peak(&w->peak, threads, 0), total = network_ms(m, op_ms);
    printf("  per op (median ms a call; network %.2f ms; algorithm g GEMM, w Winograd, o "
           "oneDNN):\n  %4s %-34s %-12s %s %9s %6s %8s %8s %6s\n", total, "#", "op", "kind",
           "a", "ms", "share", "GFLOP", "GFLOP/s", "peak");
    for (int i = 0; i < m->num_ops; i++) {
        const double g = op_gflop(m, i) * batch;
        printf("  %4d %-34.34s %-12s %c %9.3f %5.1f%%", i, m->ops[i].name,
               op_kind_name(m->ops[i].kind), letters[i], op_ms[i],
               total > 0 ? 100 * op_ms[i] / total : 0);
        if (g > 0 && op_ms[i] > 0)
            printf(" %8.3f %8.1f %5.1f%%", g, g / (op_ms[i] * 1e-3),
                   peak > 0 ? 100 * g / (op_ms[i] * 1e-3) / peak : 0);
        printf("\n");
    }
    free(letters);
}

void op_flops_json(FILE *f, const yolact_model *m, const stage_flops *w, const double *op_ms,
                   const char *conv_algorithms, int threads, int batch)
{
    char *letters = malloc((size_t)m->num_ops + 1);
    if (!letters)
        return;
    op_letters(m, conv_algorithms, letters);
    const double peak = measured_peak(&w->peak, threads, 0);
    fputs(",\n     \"per_op\": [", f);
    for (int i = 0; i < m->num_ops; i++) {
        const double g = op_gflop(m, i) * batch;
        const double gflops = op_ms[i] > 0 ? g / (op_ms[i] * 1e-3) : 0;
        fprintf(f, "%s\n       {\"name\": \"%s\", \"kind\": \"%s\", \"algorithm\": \"%c\", "
                "\"median_ms\": %.4f, \"gflop\": %.5f, \"gflops\": %.2f, \"of_peak\": %.4f}",
                i ? "," : "", m->ops[i].name, op_kind_name(m->ops[i].kind), letters[i],
                op_ms[i], g, gflops, peak > 0 ? gflops / peak : 0);
    }
    fputs("]", f);
    free(letters);
}
