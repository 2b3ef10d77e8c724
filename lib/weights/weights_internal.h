/* Internal interfaces between the weight readers: the container readers (.pth zip, .pth
 * legacy, .safetensors), the restricted pickle machine, and the tensor-table builder. */
#ifndef YL_WEIGHTS_INTERNAL_H
#define YL_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "weights/tensor_table.h"

/* ---- dtypes ------------------------------------------------------------------------- */

size_t yl_dtype_size(yl_dtype dtype);
int yl_dtype_is_floating(yl_dtype dtype);
/* IEEE binary16 -> binary32, exact (subnormals, infinities, NaN payloads kept). */
float yl_half_to_float(uint16_t h);
/* binary32 -> binary16, rounded to nearest even (overflow to infinity, subnormals kept; a
 * NaN stays a quiet NaN with its payload's top bits). */
uint16_t yl_float_to_half(float f);
/* The names the formats give a dtype: "F32", "I64"... (safetensors.c), "FloatStorage",
 * "LongStorage"... (pickle.c's allowed globals). */
const char *yl_safetensors_dtype_name(yl_dtype dtype);
const char *yl_pth_storage_type(yl_dtype dtype);

/* ---- building the table ------------------------------------------------------------- */

/* A tensor as a file describes it: a strided view into a storage. */
typedef struct yl_tensor_view {
    yl_dtype dtype;
    int ndim;
    int64_t shape[YL_MAX_DIMS];
    int64_t stride[YL_MAX_DIMS];   /* in elements */
    int64_t offset;                /* in elements, from base */
    const uint8_t *base;           /* first byte of the storage (little-endian elements) */
    int64_t base_numel;            /* elements the storage holds */
} yl_tensor_view;

/* Allocate room for count tensors in an empty table. */
yolact_status yl_tensor_table_reserve(yl_tensor_table *table, size_t count, const char *what);

/* Append a tensor (room must have been reserved): the name is copied (it may not contain
 * NUL), the view is bounds-checked against its storage, floating data is converted to a
 * contiguous float32 copy. *budget is the float32 bytes still allowed for the whole table
 * and is decreased (views may share storage, so output size is not bounded by the file). */
yolact_status yl_tensor_table_append(yl_tensor_table *table, const char *what,
                                     const uint8_t *name, size_t name_len,
                                     const yl_tensor_view *view, int64_t *budget);

/* YOLACT_ERR_FORMAT if two tensors have the same name. */
yolact_status yl_tensor_table_check_unique(const yl_tensor_table *table, const char *what);

/* Float32 bytes a table read from a file of file_size bytes may hold in all. */
int64_t yl_weights_output_budget(size_t file_size);

/* ---- the .pth state_dict as its pickle describes it ---------------------------------- */

typedef struct yl_pth_storage {
    char *key;                     /* owned, NUL-terminated */
    size_t key_len;
    yl_dtype dtype;
    int64_t numel;                 /* elements, as the pickle declares */
    const uint8_t *bytes;          /* numel * itemsize bytes, set by the container reader */
    uint8_t *owned;                /* bytes allocated by the container (inflated), or NULL */
} yl_pth_storage;

typedef struct yl_pth_tensor {
    const uint8_t *name;           /* borrowed from the pickle bytes */
    size_t name_len;
    size_t storage;                /* index into storages */
    int ndim;
    int64_t shape[YL_MAX_DIMS];
    int64_t stride[YL_MAX_DIMS];
    int64_t offset;
} yl_pth_tensor;

typedef struct yl_pth_state_dict {
    yl_pth_tensor *tensors;        /* owned, in pickle (file) order */
    size_t tensor_count;
    yl_pth_storage *storages;      /* owned, distinct keys, sorted by key */
    size_t storage_count;
} yl_pth_state_dict;

/* Run the restricted pickle machine over a state_dict pickle. what names the file and the
 * pickle in messages. *consumed (may be NULL) receives the bytes up to and including STOP.
 * Tensor names borrow from pkl, which must outlive the state dict. */
yolact_status yl_pickle_read_state_dict(const uint8_t *pkl, size_t size, const char *what,
                                        size_t *consumed, yl_pth_state_dict *sd);

/* The three small pickles that open a legacy .pth (magic number, protocol version 1001,
 * sys_info with little_endian true); *consumed receives their total length. */
yolact_status yl_pickle_read_legacy_header(const uint8_t *data, size_t size, const char *what,
                                           size_t *consumed);

/* A pickled list of str (the legacy storage keys). *keys is malloc'ed; the spans borrow
 * from data. */
typedef struct yl_byte_span {
    const uint8_t *data;
    size_t size;
} yl_byte_span;
yolact_status yl_pickle_read_str_list(const uint8_t *data, size_t size, const char *what,
                                      size_t *consumed, yl_byte_span **keys, size_t *count);

/* Index of the storage with this key, or SIZE_MAX (binary search). */
size_t yl_pth_find_storage(const yl_pth_state_dict *sd, const uint8_t *key, size_t key_len);

/* Turn a state dict whose storages all have bytes into tensors. */
yolact_status yl_pth_state_dict_to_table(const yl_pth_state_dict *sd, const char *what,
                                         size_t file_size, yl_tensor_table *table);

void yl_pth_state_dict_free(yl_pth_state_dict *sd);

/* ---- writing -------------------------------------------------------------------------- */

struct yl_file_writer;

/* The tensor's numel elements as `out` (floating tensors: YL_DTYPE_F32 or YL_DTYPE_F16;
 * integer tensors: their own dtype, as zeros). */
void yl_tensor_write_data(struct yl_file_writer *w, const yl_tensor *t, yl_dtype out);

/* The dtype a tensor is written in when floating ones are written as `floating`. */
static inline yl_dtype yl_written_dtype(const yl_tensor *t, yl_dtype floating)
{
    return yl_dtype_is_floating(t->dtype) ? floating : t->dtype;
}

/* A table's tensors under a name prefix ("" for none): the safetensors writer takes several,
 * as one file holds a training state's weights and momentum buffers. */
typedef struct yl_named_table {
    const yl_tensor_table *table;
    const char *prefix;
} yl_named_table;

/* Every tensor of parts writable (a non-empty name, a known dtype, 0..YL_MAX_DIMS
 * non-negative dims whose product is numel, data for a floating tensor) and every name
 * (prefix + name) distinct across all of them: INVALID_ARGUMENT naming the first that is
 * not. */
yolact_status yl_named_tables_check_writable(const yl_named_table *parts, size_t count,
                                             const char *path);

/* yl_weights_write_safetensors over parts' tensors, in order (names prefix + name, unique
 * across all). */
yolact_status yl_safetensors_write(const yl_named_table *parts, size_t count, yl_dtype dtype,
                                   const char *const *metadata, const char *path);

/* ---- containers ------------------------------------------------------------------------ */

yolact_status yl_pth_zip_read(const uint8_t *data, size_t size, const char *name,
                              yl_tensor_table *table);
yolact_status yl_pth_legacy_read(const uint8_t *data, size_t size, const char *name,
                                 yl_tensor_table *table);
yolact_status yl_safetensors_read(const uint8_t *data, size_t size, const char *name,
                                  yl_tensor_table *table);

/* Little-endian loads from unaligned bytes. */
static inline uint16_t yl_load_u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t yl_load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t yl_load_u64le(const uint8_t *p)
{
    return (uint64_t)yl_load_u32le(p) | (uint64_t)yl_load_u32le(p + 4) << 32;
}

#endif
