/* The finite differences behind the backward passes' rows (op_grad.h). */
#include <math.h>

#include "ops/op_grad.h"

double *op_grad_fd(op_run *r, op_f64_forward *f, const void *ctx, double *x, size_t first,
                   size_t count, size_t step, const double *dy, size_t ny, double h)
{
    double *g = op_host(r, (count + step - 1) / step * sizeof *g);
    double *y = op_host(r, (ny ? ny : 1) * sizeof *y);
    for (size_t i = first; i < first + count; i += step) {
        const double x0 = x[i];
        double l[2];
        for (int side = 0; side < 2; side++) {
            x[i] = side ? x0 - h : x0 + h;
            f(ctx, x, y);
            l[side] = 0.0;
            for (size_t j = 0; j < ny; j++)
                l[side] += dy[j] * y[j];
        }
        x[i] = x0;
        g[(i - first) / step] = (l[0] - l[1]) / (2.0 * h);
    }
    return g;
}

float *op_sample(op_run *r, const float *a, size_t n, size_t step)
{
    float *s = op_host(r, (n + step - 1) / step * sizeof *s);
    for (size_t i = 0; i < n; i += step)
        s[i / step] = a[i];
    return s;
}

double *op_sample_f64(op_run *r, const double *a, size_t n, size_t step)
{
    double *s = op_host(r, (n + step - 1) / step * sizeof *s);
    for (size_t i = 0; i < n; i += step)
        s[i / step] = a[i];
    return s;
}

double *op_f64(op_run *r, const float *a, size_t n)
{
    double *d = op_host(r, n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

float *op_abs(op_run *r, const float *a, size_t n)
{
    float *d = op_host(r, n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = fabsf(a[i]);
    return d;
}
