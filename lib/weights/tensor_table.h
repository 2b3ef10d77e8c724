/* The tensor table: what every weight reader (.pth zip, .pth legacy, .safetensors) produces
 * and the model builder consumes, and what the writers (.safetensors, .pth zip) write.
 * Floating tensors are converted to float32 on reading; integer tensors
 * (num_batches_tracked) are kept only by name, dtype and shape. */
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
    char **metadata;            /* owned: metadata_count (key, value) pairs, key at [2i] and
                                   value at [2i+1], a .safetensors header's __metadata__ in
                                   file order; none from a .pth. NULL when none. */
    size_t metadata_count;
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

/* The metadata value under key, NULL if absent. */
const char *yl_tensor_table_metadata(const yl_tensor_table *table, const char *key);

void yl_tensor_table_free(yl_tensor_table *table);

const char *yl_dtype_name(yl_dtype dtype);

/* ---- writing ------------------------------------------------------------------------------
 * Both writers are all or nothing: the file is written to a temporary file in the same
 * folder, synced and renamed over path, so a failure (YOLACT_ERR_IO naming the path and the
 * system's reason, YOLACT_ERR_INVALID_ARGUMENT for a table they cannot write) leaves no
 * partial file and any earlier file at path as it was. Floating tensors are written from
 * their float32 data; integer and bool tensors, whose values the table does not keep, are
 * written in their own dtype as zeros (num_batches_tracked: unused by a network whose
 * BatchNorm has a momentum, as YOLACT's has). Names must be unique and non-empty. */

/* Write table to path as .safetensors: every floating tensor in dtype (YL_DTYPE_F32, or
 * YL_DTYPE_F16 rounded to nearest even, overflowing to infinity), in table order; metadata
 * (may be NULL) a NULL-terminated list of key, value strings for the header's __metadata__
 * (distinct keys). The header is padded with spaces to a multiple of 8 bytes. */
yolact_status yl_weights_write_safetensors(const yl_tensor_table *table, yl_dtype dtype,
                                           const char *const *metadata, const char *path);

/* Write table to path as torch.save (PyTorch 1.13) writes a state_dict: a zip of stored
 * entries archive/data.pkl (an OrderedDict of torch._utils._rebuild_tensor_v2 over
 * persistent-id storages), archive/data/<n> (one storage a tensor, float32 for floating
 * tensors) and archive/version, each entry's data aligned to 64 bytes. torch.load and the
 * official Yolact.load_weights read it (test/fixtures/torch_write_check.py). */
yolact_status yl_weights_write_pth(const yl_tensor_table *table, const char *path);

#endif
