/* The command-line options the programs share (cli_options.h): the model, the session's
 * backend, precision and threads, one value each or lists, and the numbers' checks. */
#include "cli_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_options_init(cli_options *c, const char *program, int lists)
{
    yolact_session_options defaults;
    yolact_session_options_init(&defaults);
    *c = (cli_options){.program = program, .lists = lists,
                       .backends = {defaults.backend}, .num_backends = 1,
                       .precisions = {defaults.precision}, .num_precisions = 1,
                       .threads = {defaults.num_threads}, .num_threads = 1,
                       .score_threshold = defaults.score_threshold,
                       .top_k = defaults.max_detections};
}

int cli_number(const char *program, const char *option, const char *arg, double lo, double hi,
               double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s wants a number in [%g, %g], got '%s'\n", program, option, lo, hi,
                arg);
        return -1;
    }
    *out = v;
    return 0;
}

/* One value of a word option: its index in names (NULL-terminated), or -1 after saying so
 * (a list's word by name, a single value by the words it wants). */
static int word(const char *program, int lists, const char *option, const char *const *names,
                const char *wants, const char *w)
{
    for (int k = 0; names[k]; k++)
        if (!strcmp(names[k], w))
            return k;
    if (lists)
        fprintf(stderr, "%s: %s does not know '%s'\n", program, option, w);
    else
        fprintf(stderr, "%s: %s wants %s\n", program, option, wants);
    return -1;
}

/* arg's values into out[0..*n): words (names given: out is codes[the word's index]) or
 * numbers in [lo, hi]; a comma-separated list of up to CLI_MAX_LIST when lists, else one. */
static int values(const char *program, int lists, const char *option, const char *arg,
                  const char *const *names, const int *codes, const char *wants, double lo,
                  double hi, int *out, int *n)
{
    char buf[256], *save;
    snprintf(buf, sizeof buf, "%s", arg);
    int count = 0;
    for (const char *w = lists ? strtok_r(buf, ",", &save) : arg; w;
         w = lists ? strtok_r(NULL, ",", &save) : NULL) {
        if (count == CLI_MAX_LIST) {
            fprintf(stderr, "%s: %s takes at most %d values\n", program, option, CLI_MAX_LIST);
            return -1;
        }
        double v;
        int k = names ? word(program, lists, option, names, wants, w) : 0;
        if (k < 0 || (!names && cli_number(program, option, w, lo, hi, &v)))
            return -1;
        out[count++] = names ? codes[k] : (int)v;
    }
    if (count == 0) {
        fprintf(stderr, "%s: %s wants at least one value\n", program, option);
        return -1;
    }
    *n = count;
    return 0;
}

int cli_number_list(const char *program, const char *option, const char *arg, double lo,
                    double hi, int *out, int *n)
{
    return values(program, 1, option, arg, NULL, NULL, NULL, lo, hi, out, n);
}

int cli_options_parse(cli_options *c, int opt, const char *arg)
{
    /* A list names what each value is: "auto" (the library's choice) is one value only. */
    static const char *const backends[] = {"cpu", "cuda", "auto", NULL};
    static const char *const backend_list[] = {"cpu", "cuda", NULL};
    static const int backend_codes[] = {YOLACT_BACKEND_CPU, YOLACT_BACKEND_CUDA,
                                        YOLACT_BACKEND_AUTO};
    static const char *const precisions[] = {"fp32", "fp16", NULL};
    static const int precision_codes[] = {YOLACT_PRECISION_FP32, YOLACT_PRECISION_FP16};
    int list[CLI_MAX_LIST], n;
    double v;
    switch (opt) {
    case 'm': c->model_path = arg; return 1;
    case 'c': c->preset = arg; return 1;
    case CLI_OPT_BACKEND:
        if (values(c->program, c->lists, "--backend", arg, c->lists ? backend_list : backends,
                   backend_codes, "cpu, cuda or auto", 0, 0, list, &n))
            return -1;
        for (int i = 0; i < n; i++)
            c->backends[i] = (yolact_backend)list[i];
        c->num_backends = n;
        return 1;
    case CLI_OPT_PRECISION:
        if (values(c->program, c->lists, "--precision", arg, precisions, precision_codes,
                   "fp32 or fp16", 0, 0, list, &n))
            return -1;
        for (int i = 0; i < n; i++)
            c->precisions[i] = (yolact_precision)list[i];
        c->num_precisions = n;
        return 1;
    case CLI_OPT_THREADS:
        if (values(c->program, c->lists, "--threads", arg, NULL, NULL, NULL, 1, 1024, c->threads,
                   &c->num_threads))
            return -1;
        return 1;
    case CLI_OPT_SCORE_THRESHOLD:
        if (cli_number(c->program, "--score-threshold", arg, 0, 1, &v))
            return -1;
        c->score_threshold = (float)v;
        return 1;
    case CLI_OPT_TOP_K:
        if (cli_number(c->program, "--top-k", arg, 1, 10000, &v))
            return -1;
        c->top_k = (int)v;
        return 1;
    }
    return 0;
}

void cli_options_session(const cli_options *c, yolact_session_options *out)
{
    out->backend = c->backends[0];
    out->precision = c->precisions[0];
    out->num_threads = c->threads[0];
    out->max_detections = c->top_k;
}
