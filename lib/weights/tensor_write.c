/* What the weight writers share about tensors: whether a table can be written (each tensor
 * well formed, names distinct), and a tensor's elements as the bytes of the dtype it is
 * written in. */
#include "weights/weights_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "weights/file_writer.h"

/* INVALID_ARGUMENT unless t can be written: a non-empty name, a known dtype, 0..YL_MAX_DIMS
 * non-negative dims whose product is numel, data for a floating tensor. */
static yolact_status check_writable(const yl_tensor *t, const char *what)
{
    if (!t->name || !t->name[0])
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: a tensor has no name", what);
    if (yl_dtype_size(t->dtype) == 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has an unknown dtype %d",
                       what, t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > YL_MAX_DIMS)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has %d dimensions", what,
                       t->name, t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || __builtin_mul_overflow(numel, t->shape[d], &numel))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has a bad shape", what,
                           t->name);
    if (numel != t->numel)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "%s: tensor '%s' says %lld elements, its shape holds %lld", what,
                       t->name, (long long)t->numel, (long long)numel);
    if (yl_dtype_is_floating(t->dtype) && numel > 0 && !t->data)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: floating tensor '%s' has no data", what,
                       t->name);
    return YOLACT_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

yolact_status yl_named_tables_check_writable(const yl_named_table *parts, size_t count,
                                             const char *path)
{
    size_t total = 0;
    for (size_t p = 0; p < count; p++)
        total += parts[p].table->count;
    char **names = calloc(total ? total : 1, sizeof *names);
    if (!names)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory to index tensor names", path);
    yolact_status s = YOLACT_OK;
    size_t n = 0;
    for (size_t p = 0; s == YOLACT_OK && p < count; p++) {
        for (size_t i = 0; s == YOLACT_OK && i < parts[p].table->count; i++) {
            const yl_tensor *t = &parts[p].table->tensors[i];
            s = check_writable(t, path);
            if (s != YOLACT_OK)
                break;
            size_t len = strlen(parts[p].prefix) + strlen(t->name) + 1;
            if (!(names[n] = malloc(len)))
                s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for a tensor name", path);
            else
                snprintf(names[n++], len, "%s%s", parts[p].prefix, t->name);
        }
    }
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 1; s == YOLACT_OK && i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            s = yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: tensor '%s' appears twice", path,
                        names[i]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

void yl_tensor_write_data(yl_file_writer *w, const yl_tensor *t, yl_dtype out)
{
    if (!yl_dtype_is_floating(t->dtype)) {
        yl_file_write_zeros(w, (uint64_t)t->numel * yl_dtype_size(t->dtype));
    } else if (out == YL_DTYPE_F32) {
        yl_file_write(w, t->data, (size_t)t->numel * sizeof(float));
    } else {
        uint16_t half[2048];
        for (int64_t i = 0; i < t->numel; i += 2048) {
            int64_t n = t->numel - i < 2048 ? t->numel - i : 2048;
            for (int64_t k = 0; k < n; k++)
                half[k] = yl_float_to_half(t->data[i + k]);
            yl_file_write(w, half, (size_t)n * sizeof half[0]);
        }
    }
}
