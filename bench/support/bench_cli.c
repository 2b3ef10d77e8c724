/* The bench programs' shared options, clock and median (bench_cli.h). */
#include "bench_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int bench_int_arg(const char *tool, const char *name, const char *v, int lo)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > 1 << 20) {
        fprintf(stderr, "%s: %s wants a whole number >= %d, not '%s'\n", tool, name, lo, v);
        exit(2);
    }
    return (int)x;
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *x, int n)
{
    double *s = malloc(n * sizeof *s);
    if (!s) {
        fprintf(stderr, "bench_median: out of memory\n");
        exit(1);
    }
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}
