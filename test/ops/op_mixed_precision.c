/* The mixed-precision kernels (kernels/mixed_precision.cu) against plain loops over the
 * weight readers' IEEE binary16 conversions (weights_internal.h), bit for bit (the halves
 * compared as their 16 bits). dims: kind (0: float to half, 1: half to float, 2: half to
 * float added to what out holds, 3: the non-finite flag), n, edge (kinds 0-2: every third
 * value past half's range, every third below its normal range, and for 1-2 an infinity
 * and the smallest subnormal; kind 3: 0 all finite, 1 an infinity last, 2 a NaN midway). */
#include <math.h>

#include "ops/op_grad.h"
#include "weights/weights_internal.h"
#include "yl_grad_kernels.h"

/* n random floats, with edge the ones half cannot hold as they are. */
static float *cast_inputs(op_run *r, size_t n, int edge)
{
    float *x = op_rand_floats(r, n, -2.0f, 2.0f);
    for (size_t i = 0; edge && i < n; i++)
        x[i] *= i % 3 == 1 ? 40000.0f : i % 3 == 2 ? 3e-6f : 1.0f;
    return x;
}

/* The halves' bits as ints, for an exact comparison. */
static int32_t *bits_of(op_run *r, const uint16_t *h, size_t n)
{
    int32_t *out = op_host(r, (n ? n : 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = h[i];
    return out;
}

static void mixed_precision_run(const op_case *c, op_run *r)
{
    const int kind = c->dims[0], edge = c->dims[2];
    const size_t n = (size_t)c->dims[1];
    const float *x = cast_inputs(r, n, kind == 3 ? 0 : edge);
    if (kind == 0) {
        uint16_t *want = op_host(r, (n ? n : 1) * sizeof *want);
        for (size_t i = 0; i < n; i++)
            want[i] = yl_float_to_half(x[i]);
        uint16_t *d_out = op_dev(r, (n ? n : 1) * sizeof *d_out);
        ck_assert_status(yl_float_to_half_cuda(op_to_dev(r, x, n * sizeof *x), n, d_out, NULL),
                         YOLACT_OK);
        op_output(r, "halves", OP_I32, n,
                  bits_of(r, op_from_dev(r, d_out, n * sizeof *d_out), n), bits_of(r, want, n),
                  NULL, &op_exact);
    } else if (kind == 3) {
        float *v = op_host(r, (n ? n : 1) * sizeof *v);
        for (size_t i = 0; i < n; i++)
            v[i] = x[i];
        if (n && edge)
            v[edge == 1 ? n - 1 : n / 2] = edge == 1 ? INFINITY : NAN;
        int *want = op_host(r, sizeof *want), *d_flag = op_dev(r, sizeof *d_flag);
        *want = n && edge; /* compared after this returns: the run's memory, not the stack */
        ck_assert_status(yl_flag_nonfinite_cuda(op_to_dev(r, v, (n ? n : 1) * sizeof *v), n,
                                                d_flag, NULL), YOLACT_OK);
        op_output(r, "non-finite flag", OP_I32, 1, op_from_dev(r, d_flag, sizeof *d_flag),
                  want, NULL, &op_exact);
    } else {
        uint16_t *h = op_host(r, (n ? n : 1) * sizeof *h);
        for (size_t i = 0; i < n; i++)
            h[i] = yl_float_to_half(x[i]);
        if (edge && n >= 2)
            h[0] = 0x7c00, h[1] = 0x0001; /* infinity, the smallest subnormal */
        const int accumulate = kind == 2;
        float *want = op_rand_floats(r, n, -1.0f, 1.0f);
        float *d_out = op_to_dev(r, want, n * sizeof *want);
        for (size_t i = 0; i < n; i++)
            want[i] = accumulate ? want[i] + yl_half_to_float(h[i]) : yl_half_to_float(h[i]);
        ck_assert_status(yl_half_to_float_cuda(op_to_dev(r, h, n * sizeof *h), n, accumulate,
                                               d_out, NULL), YOLACT_OK);
        op_output(r, accumulate ? "floats added" : "floats", OP_F32, n,
                  op_from_dev(r, d_out, n * sizeof *want), want, NULL, &op_exact);
    }
}
const op_family op_mixed_precision = {"mixed precision", mixed_precision_run};
