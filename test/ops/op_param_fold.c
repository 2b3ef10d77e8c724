/* The device optimizer's row-scalings (yl_scale_rows_cuda, yl_fold_rows_cuda) against their
 * references (lib/train/param_fold.c), bit for bit. dims: kind (0: a gradient unfolded,
 * 1: a weight folded), rows, per_row, scaled (0: no scales), add (the unfold added to what
 * out holds), parts (the result times 1 / parts). */
#include "model/model.h"
#include "ops/op_grad.h"
#include "yl_grad_kernels.h"

static void param_fold_run(const op_case *c, op_run *r)
{
    const int *v = c->dims;
    const size_t rows = (size_t)v[1], per_row = (size_t)v[2], n = rows * per_row;
    const int scaled = v[3], add = v[4];
    const float factor = 1.0f / (float)v[5];
    const float *in = op_rand_floats(r, n, -2.0f, 2.0f);
    float *out = op_rand_floats(r, n, -1.0f, 1.0f);
    float *d_out = op_to_dev(r, out, n * sizeof *out);
    const float *d_in = op_to_dev(r, in, n * sizeof *in);
    if (v[0] == 0) {
        const float *scale = scaled ? op_rand_floats(r, rows, 0.01f, 3.0f) : NULL;
        yl_scale_rows(in, rows, per_row, scale, add, factor, out);
        ck_assert_status(yl_scale_rows_cuda(d_in, rows, per_row,
                                            scale ? op_to_dev(r, scale, rows * sizeof *scale)
                                                  : NULL,
                                            add, factor, d_out, NULL), YOLACT_OK);
    } else {
        double *scale = op_host(r, (rows ? rows : 1) * sizeof *scale);
        const float *gamma = op_rand_floats(r, rows, -1.5f, 1.5f);
        const float *var = op_rand_floats(r, rows, 0.0f, 4.0f);
        for (size_t k = 0; k < rows; k++)
            scale[k] = yl_batchnorm_fold_scale(gamma[k], var[k], 1e-5);
        yl_fold_rows(in, rows, per_row, scale, out);
        ck_assert_status(yl_fold_rows_cuda(d_in, rows, per_row,
                                           op_to_dev(r, scale, (rows ? rows : 1) * sizeof *scale),
                                           d_out, NULL), YOLACT_OK);
    }
    op_output(r, v[0] ? "folded weight" : "unfolded gradient", OP_F32, n,
              op_from_dev(r, d_out, n * sizeof *out), out, NULL, &op_exact);
}
const op_family op_param_fold = {"param fold", param_fold_run};
