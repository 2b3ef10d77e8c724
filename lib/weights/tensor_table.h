/* The tensor table: what every weight reader (.pth zip, .pth legacy, .safetensors) produces
 * and the model builder consumes. Floating tensors are converted to float32 on reading;
 * integer tensors (num_batches_tracked) are kept only by name, dtype and shape. */
#ifndef YL_TENSOR_TABLE_H
#define YL_TENSOR_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "yolact.h"

#define YL_MAX_DIMS 8

typedef enum yl_dtype {
    YL_DTYPE_F32 = 0,
    YL_DTYPE_F16,
    YL_DTYPE_BF16,
    YL_DTYPE_F64,
    YL_DTYPE_I64,
    YL_DTYPE_I32,
    YL_DTYPE_I16,
    YL_DTYPE_I8,
    YL_DTYPE_U8,
    YL_DTYPE_BOOL
} yl_dtype;

typedef struct yl_tensor {
    char *name;                 /* owned */
    yl_dtype dtype;             /* as stored in the file */
    int ndim;
    int64_t shape[YL_MAX_DIMS];
    int64_t numel;
    float *data;                /* owned; numel float32 values, row-major (contiguous),
                                   for floating dtypes; NULL for integer/bool tensors */
} yl_tensor;

typedef struct yl_tensor_table {
    yl_tensor *tensors;         /* owned, in file order */
    size_t count;
} yl_tensor_table;

/* Read a checkpoint, choosing the format from the content (zip magic, legacy pickle magic,
 * safetensors header), not the extension. On failure *table is left empty and the detail
 * message names the file and the problem (for a refused pickle global, its module.name). */
yolact_status yl_weights_read(const char *path, yl_tensor_table *table);

/* The same for a checkpoint already in memory (used by the fuzzers); name is for messages. */
yolact_status yl_weights_read_memory(const uint8_t *bytes, size_t size, const char *name,
                                     yl_tensor_table *table);

/* NULL if absent. */
const yl_tensor *yl_tensor_table_find(const yl_tensor_table *table, const char *name);

void yl_tensor_table_free(yl_tensor_table *table);

const char *yl_dtype_name(yl_dtype dtype);

#endif
