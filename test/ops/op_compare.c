/* The comparer of the op-test harness (op_compare.h): per element an error and its bound
 * under the row's comparison, the failing count, the worst and the first few mismatches. */
#include "ops/op_compare.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int op_libc_math(void)
{
#if defined(YL_CUDA_EMULATION) && !defined(YL_EMU_GPU_MATH)
    return 1;
#else
    return 0;
#endif
}

/* The check as words, e.g. "within 3 ulps". */
static void check_describe(const op_check *c, char *out, size_t size)
{
    switch (c->kind) {
    case OP_EXACT:
        snprintf(out, size, "bit for bit");
        break;
    case OP_ULPS:
        snprintf(out, size, "within %g ulps", c->tol);
        break;
    case OP_SUM:
        snprintf(out, size, "|diff| <= %.3g sum|terms| + %.3g", c->tol, c->atol);
        break;
    case OP_NMSE:
        snprintf(out, size, "NMSE <= %.3g", c->tol);
        break;
    }
}

/* The distance of two floats in the order of all floats. */
static int64_t ulps_apart(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return oa > ob ? oa - ob : ob - oa;
}

static double value_at(op_dtype t, const void *p, size_t i)
{
    switch (t) {
    case OP_F32:
        return ((const float *)p)[i];
    case OP_I32:
        return ((const int32_t *)p)[i];
    case OP_U8:
        break;
    }
    return ((const uint8_t *)p)[i];
}

static double want_at(const op_tensor *t, size_t i)
{
    return t->want64 ? t->want64[i] : value_at(t->dtype, t->want, i);
}

static int same_bits(const op_tensor *t, size_t i)
{
    if (t->want64)
        return value_at(t->dtype, t->got, i) == t->want64[i] ||
               (isnan(value_at(t->dtype, t->got, i)) && isnan(t->want64[i]));
    op_dtype type = t->dtype;
    const void *a = t->got, *b = t->want;
    if (type == OP_F32) {
        float x = ((const float *)a)[i], y = ((const float *)b)[i];
        return (isnan(x) && isnan(y)) || memcmp(&x, &y, sizeof x) == 0;
    }
    return value_at(type, a, i) == value_at(type, b, i);
}

/* Element i's error and bound under the check; returns whether it passes. */
static int element(const op_tensor *t, op_cmp_kind kind, const op_check *c, size_t i,
                   double *err, double *bound)
{
    const double g = value_at(t->dtype, t->got, i), w = want_at(t, i);
    *err = fabs(g - w);
    *bound = 0;
    switch (kind) {
    case OP_EXACT:
        if (same_bits(t, i)) {
            *err = 0;
            return 1;
        }
        if (!(*err > 0))   /* +0 against -0, or one NaN */
            *err = INFINITY;
        return 0;
    case OP_ULPS:
        *bound = c->tol;
        if (isnan(g) || isnan(w)) {
            *err = isnan(g) && isnan(w) ? 0 : INFINITY;
            return isnan(g) && isnan(w);
        }
        *err = (double)ulps_apart((float)g, (float)w);
        return *err <= *bound;
    case OP_SUM:
        *bound = c->tol * (t->mag ? t->mag[i] : fabs(w)) + c->atol;
        return *err <= *bound;
    case OP_NMSE:
        break;
    }
    return 1;   /* NMSE judges the whole tensor */
}

int op_compare(const op_tensor *t, const op_check *check, char *report, size_t size)
{
    op_cmp_kind kind = check->kind;
    if (check->exact_with_libc_math && op_libc_math())
        kind = OP_EXACT;
    size_t bad = 0, worst = 0, first[OP_REPORT_FIRST];
    double worst_ratio = -1, worst_err = 0, worst_bound = 0, se = 0, sw = 0;
    for (size_t i = 0; i < t->count; i++) {
        double err, bound;
        const int ok = element(t, kind, check, i, &err, &bound);
        if (kind == OP_NMSE) {
            const double w = want_at(t, i);
            se += err * err;
            sw += w * w;
        }
        /* The worst: the largest error over its bound (the largest error for bound 0). */
        double ratio = bound > 0 ? err / bound : err > 0 ? INFINITY : 0;
        if (isnan(ratio) || isnan(err))
            ratio = INFINITY;
        if (ratio > worst_ratio || (ratio == worst_ratio && err > worst_err)) {
            worst_ratio = ratio;
            worst = i;
            worst_err = err;
            worst_bound = bound;
        }
        if (!ok && bad++ < OP_REPORT_FIRST)
            first[bad - 1] = i;
    }
    double nmse = sw > 0 ? se / sw : se > 0 ? INFINITY : 0;
    if (kind == OP_NMSE && !(nmse <= check->tol)) {
        /* Every element past the mean squared error the bound allows counts as a mismatch. */
        const double allowed = t->count ? check->tol * sw / t->count : 0;
        for (size_t i = 0; i < t->count; i++) {
            const double d = value_at(t->dtype, t->got, i) - want_at(t, i);
            if (!(d * d <= allowed) && bad++ < OP_REPORT_FIRST)
                first[bad - 1] = i;
        }
        if (!bad)
            first[bad++] = worst;
        worst_bound = sqrt(allowed);
    } else if (kind == OP_NMSE) {
        bad = 0;
    }
    if (!bad)
        return 1;
    char how[96];
    op_check describe = *check;
    describe.kind = kind;
    check_describe(&describe, how, sizeof how);
    int at = snprintf(report, size, "%s: %zu of %zu elements fail (%s)", t->name, bad,
                      t->count, how);
    if (kind == OP_NMSE && at >= 0 && (size_t)at < size)
        at += snprintf(report + at, size - at, ", NMSE %.3g", nmse);
    if (at >= 0 && (size_t)at < size)
        at += snprintf(report + at, size - at, "; worst: element %zu, got %.9g, want %.9g, "
                       "error %.3g, bound %.3g; first:", worst,
                       value_at(t->dtype, t->got, worst), want_at(t, worst),
                       worst_err, worst_bound);
    for (size_t j = 0; j < bad && j < OP_REPORT_FIRST && at >= 0 && (size_t)at < size; j++)
        at += snprintf(report + at, size - at, " [%zu] %.9g vs %.9g", first[j],
                       value_at(t->dtype, t->got, first[j]),
                       want_at(t, first[j]));
    return 0;
}
