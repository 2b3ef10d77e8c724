/* What the single-purpose bench programs (yolact-grad-bench, yolact-train-bench) share:
 * their whole-number options, a monotonic clock and the median of their samples. */
#ifndef YL_BENCH_CLI_H
#define YL_BENCH_CLI_H

/* v as a whole number >= lo (and <= 2^20) for option name of tool; otherwise says so on
 * stderr and exits 2 (a usage error). */
int bench_int_arg(const char *tool, const char *name, const char *v, int lo);

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* The median of n samples (n >= 1); x is left as it is. */
double bench_median(const double *x, int n);

#endif
