/* The options yolact-detect, yolact-webcam and yolact-bench share (the model, its preset, the
 * backend, precision, CPU threads, score threshold and detections kept), parsed in one place;
 * each program parses its own options and hands the rest here. */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <getopt.h>

#include "yolact.h"

/* The most values a list option (yolact-bench's --backend cpu,cuda) takes. */
#define CLI_MAX_LIST 16

/* getopt_long's codes of the shared long options without a short one. */
enum {
    CLI_OPT_BACKEND = 0x1000,
    CLI_OPT_PRECISION,
    CLI_OPT_THREADS,
    CLI_OPT_SCORE_THRESHOLD,
    CLI_OPT_TOP_K
};

/* Entries of a program's struct option table, for the shared options it takes. */
#define CLI_OPTIONS_MODEL \
    {"model", required_argument, 0, 'm'}, {"config", required_argument, 0, 'c'}
#define CLI_OPTIONS_SESSION                                    \
    {"backend", required_argument, 0, CLI_OPT_BACKEND},        \
    {"precision", required_argument, 0, CLI_OPT_PRECISION},    \
    {"threads", required_argument, 0, CLI_OPT_THREADS}
#define CLI_OPTION_SCORE_THRESHOLD \
    {"score-threshold", required_argument, 0, CLI_OPT_SCORE_THRESHOLD}
#define CLI_OPTION_TOP_K {"top-k", required_argument, 0, CLI_OPT_TOP_K}

typedef struct cli_options {
    const char *program;        /* leads every message: "yolact-detect: ..." */
    /* Backend, precision and threads take comma-separated lists (yolact-bench: each
     * combination is timed); else one value, and the backend may be "auto". */
    int lists;
    const char *model_path, *preset;
    yolact_backend backends[CLI_MAX_LIST];
    int num_backends;
    yolact_precision precisions[CLI_MAX_LIST];
    int num_precisions;
    int threads[CLI_MAX_LIST];  /* 0: all cores */
    int num_threads;
    float score_threshold;
    int top_k;                  /* detections kept per image (max_detections) */
} cli_options;

/* Every shared option at yolact_session_options_init's defaults (one value each). */
void cli_options_init(cli_options *c, const char *program, int lists);

/* Take getopt_long's opt (its argument arg) if it is a shared option: 1 when it was one, 0
 * when it is not, -1 after saying on stderr what is wrong with arg. */
int cli_options_parse(cli_options *c, int opt, const char *arg);

/* The session options of the first value of each: backend, precision, threads, top_k (the
 * score threshold is the program's to place). */
void cli_options_session(const cli_options *c, yolact_session_options *out);

/* arg as a number in [lo, hi] into *out: 0, or -1 after saying on stderr
 * "program: option wants a number in [lo, hi], got 'arg'". */
int cli_number(const char *program, const char *option, const char *arg, double lo, double hi,
               double *out);

/* arg as a comma-separated list of up to CLI_MAX_LIST numbers in [lo, hi] into out[0..*n):
 * 0, or -1 after saying on stderr which value is wrong. */
int cli_number_list(const char *program, const char *option, const char *arg, double lo,
                    double hi, int *out, int *n);

#endif
