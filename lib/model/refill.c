/* A module's parameters put into the model's block from the checkpoint (model.h's
 * yl_param_fill): what the build does for each module, and what a trainer repeats after
 * every step instead of building the network again. */
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "status.h"

#define BN_EPS 1e-5

/* module.part as a floating tensor of count values. */
static yolact_status find(const yl_tensor_table *table, const char *module, const char *part,
                          size_t count, const float **data)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", module, part);
    const yl_tensor *t = yl_tensor_table_find(table, name);
    if (!t || !t->data || (size_t)t->numel != count)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' is %s", name,
                       !t ? "missing" : !t->data ? "not floating point" : "of another size");
    *data = t->data;
    return YOLACT_OK;
}

yolact_status yl_param_fill_run(const yl_param_fill *f, const yl_tensor_table *table,
                                int fold_batchnorm, float *params)
{
    const size_t rows = (size_t)f->rows, weights = rows * f->per_row;
    const float *w = NULL, *b = NULL, *bn[4] = {0};
    YL_TRY(find(table, f->module, "weight", weights, &w));
    if (f->has_bias)
        YL_TRY(find(table, f->module, "bias", rows, &b));
    static const char *const bn_parts[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; f->bn && i < 4; i++)
        YL_TRY(find(table, f->bn, bn_parts[i], rows, &bn[i]));
    memcpy(params + f->weight, w, weights * sizeof *params);
    if (f->bn && fold_batchnorm) {
        yl_fold_batchnorm(params + f->weight, params + f->bias, f->rows, f->per_row, b, bn[0],
                          bn[1], bn[2], bn[3], BN_EPS, params + f->bn_scale);
        return YOLACT_OK;
    }
    for (size_t r = 0; r < rows; r++)
        params[f->bias + r] = b ? b[r] : 0.0f;
    for (size_t r = 0; f->bn && r < rows; r++)
        params[f->bn_scale + r] = 1.0f;
    return YOLACT_OK;
}

yolact_status yl_param_fill_fold_scales(const yl_param_fill *f, const yl_tensor_table *table,
                                        double *scale)
{
    const float *gamma, *var;
    YL_TRY(find(table, f->bn, "weight", (size_t)f->rows, &gamma));
    YL_TRY(find(table, f->bn, "running_var", (size_t)f->rows, &var));
    for (int r = 0; r < f->rows; r++)
        scale[r] = yl_batchnorm_fold_scale(gamma[r], var[r], BN_EPS);
    return YOLACT_OK;
}

yolact_status yl_model_refill(yolact_model *m, const yl_tensor_table *table,
                              int fold_batchnorm)
{
    for (int i = 0; i < m->num_fills; i++)
        YL_TRY(yl_param_fill_run(&m->fills[i], table, fold_batchnorm, m->params));
    return YOLACT_OK;
}
