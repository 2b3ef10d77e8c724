/* The tensor table: format detection for checkpoints, and the one place where a tensor as a
 * file describes it (dtype, strided view into a storage) becomes a float32 table entry. */
#include "weights/weights_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input_limits.h"
#include "status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the weight readers convert little-endian file data with memcpy: little-endian hosts only"
#endif

size_t yl_dtype_size(yl_dtype dtype)
{
    switch (dtype) {
    case YL_DTYPE_F64: case YL_DTYPE_I64: return 8;
    case YL_DTYPE_F32: case YL_DTYPE_I32: return 4;
    case YL_DTYPE_F16: case YL_DTYPE_BF16: case YL_DTYPE_I16: return 2;
    case YL_DTYPE_I8: case YL_DTYPE_U8: case YL_DTYPE_BOOL: return 1;
    }
    return 0;
}

int yl_dtype_is_floating(yl_dtype dtype)
{
    return dtype == YL_DTYPE_F32 || dtype == YL_DTYPE_F16 || dtype == YL_DTYPE_BF16 ||
           dtype == YL_DTYPE_F64;
}

const char *yl_dtype_name(yl_dtype dtype)
{
    switch (dtype) {
    case YL_DTYPE_F32: return "float32";
    case YL_DTYPE_F16: return "float16";
    case YL_DTYPE_BF16: return "bfloat16";
    case YL_DTYPE_F64: return "float64";
    case YL_DTYPE_I64: return "int64";
    case YL_DTYPE_I32: return "int32";
    case YL_DTYPE_I16: return "int16";
    case YL_DTYPE_I8: return "int8";
    case YL_DTYPE_U8: return "uint8";
    case YL_DTYPE_BOOL: return "bool";
    }
    return "unknown";
}

float yl_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | mant << 13;          /* inf / NaN, payload kept */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | mant << 13;     /* rebias 15 -> 127 */
    } else if (mant == 0) {
        bits = sign;                                       /* signed zero */
    } else {
        /* subnormal: mant * 2^-24, normalised for binary32 */
        int shift = 0;
        while (!(mant & 0x400)) {
            mant <<= 1;
            shift++;
        }
        bits = sign | (uint32_t)(113 - shift) << 23 | (mant & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t yl_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    uint32_t a = x & 0x7fffffff;
    if (a > 0x7f800000)
        return sign | 0x7e00 | (uint16_t)(a >> 13 & 0x3ff);     /* NaN, quiet */
    if (a >= 0x477ff000)
        return sign | 0x7c00;       /* >= 65520, half-way past 65504: infinity */
    uint32_t kept, rest, half;
    if (a >= 0x38800000) {
        /* normal: rebias 127 -> 15; a carry out of the mantissa correctly bumps the exponent */
        a -= 0x38000000;
        kept = a >> 13, rest = a & 0x1fff, half = 0x1000;
    } else {
        /* subnormal (or zero): the value in units of 2^-24, from the implicit-one mantissa */
        uint32_t e = a >> 23;
        if (e < 102)
            return sign;             /* below 2^-25: rounds to zero */
        uint32_t m = (a & 0x7fffff) | 0x800000, shift = 126 - e;   /* 14..24 */
        kept = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    }
    if (rest > half || (rest == half && (kept & 1)))
        kept++;
    return sign | (uint16_t)kept;
}

/* count contiguous elements of a floating dtype starting at src -> float32. */
static void convert_run(yl_dtype dtype, const uint8_t *src, int64_t count, float *dst)
{
    switch (dtype) {
    case YL_DTYPE_F32:
        memcpy(dst, src, (size_t)count * sizeof(float));
        break;
    case YL_DTYPE_F16:
        for (int64_t i = 0; i < count; i++)
            dst[i] = yl_half_to_float(yl_load_u16le(src + 2 * i));
        break;
    case YL_DTYPE_BF16:
        for (int64_t i = 0; i < count; i++) {
            uint32_t bits = (uint32_t)yl_load_u16le(src + 2 * i) << 16;
            memcpy(&dst[i], &bits, sizeof bits);
        }
        break;
    case YL_DTYPE_F64:
        for (int64_t i = 0; i < count; i++) {
            double d;
            memcpy(&d, src + 8 * i, sizeof d);
            dst[i] = (float)d;
        }
        break;
    default:
        break;
    }
}

yolact_status yl_tensor_table_reserve(yl_tensor_table *table, size_t count, const char *what)
{
    *table = (yl_tensor_table){0};
    table->tensors = calloc(count ? count : 1, sizeof *table->tensors);
    if (!table->tensors)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu tensors", what, count);
    return YOLACT_OK;
}

int64_t yl_weights_output_budget(size_t file_size)
{
    /* float16 doubles in size; sharing a storage between a few views is fine; a file
     * whose views would expand far beyond its own size is an attack, not a checkpoint. */
    return 4 * (int64_t)file_size + ((int64_t)64 << 20);
}

yolact_status yl_tensor_table_append(yl_tensor_table *table, const char *what,
                                     const uint8_t *name, size_t name_len,
                                     const yl_tensor_view *v, int64_t *budget)
{
    if (memchr(name, '\0', name_len))
        return yl_fail(YOLACT_ERR_FORMAT, "%s: a tensor name contains a NUL byte", what);
    if (v->ndim < 0 || v->ndim > YL_MAX_DIMS)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: tensor '%.*s' has %d dimensions (at most %d)",
                       what, (int)name_len, (const char *)name, v->ndim, YL_MAX_DIMS);

    /* Element count and the last element the view touches, overflow-checked. */
    int64_t numel = 1, last = v->offset;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 0 || v->stride[d] < 0)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: tensor '%.*s' has a negative size or stride",
                           what, (int)name_len, (const char *)name);
        if (__builtin_mul_overflow(numel, v->shape[d], &numel))
            return yl_fail(YOLACT_ERR_LIMIT, "%s: tensor '%.*s': element count overflows", what,
                           (int)name_len, (const char *)name);
    }
    if (numel > 0) {
        for (int d = 0; d < v->ndim; d++) {
            int64_t reach;
            if (__builtin_mul_overflow(v->shape[d] - 1, v->stride[d], &reach) ||
                __builtin_add_overflow(last, reach, &last))
                return yl_fail(YOLACT_ERR_FORMAT, "%s: tensor '%.*s': view extent overflows",
                               what, (int)name_len, (const char *)name);
        }
        if (v->offset < 0 || last >= v->base_numel)
            return yl_fail(YOLACT_ERR_FORMAT,
                           "%s: tensor '%.*s' (offset %lld) reaches element %lld of a storage "
                           "of %lld elements",
                           what, (int)name_len, (const char *)name, (long long)v->offset,
                           (long long)last, (long long)v->base_numel);
    }

    float *data = NULL;
    if (yl_dtype_is_floating(v->dtype)) {
        if (numel > *budget / (int64_t)sizeof(float))
            return yl_fail(YOLACT_ERR_LIMIT,
                           "%s: tensor '%.*s' (%lld elements) exceeds what the file's size "
                           "allows the table to hold",
                           what, (int)name_len, (const char *)name, (long long)numel);
        *budget -= numel * (int64_t)sizeof(float);
        data = malloc(numel > 0 ? (size_t)numel * sizeof(float) : 1);
        if (!data)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for tensor '%.*s'", what,
                           (int)name_len, (const char *)name);
        size_t item = yl_dtype_size(v->dtype);
        /* The innermost run of consecutive elements (stride 1 dims from the right). */
        int inner = v->ndim;
        int64_t run = 1, expect = 1;
        while (inner > 0 && (v->shape[inner - 1] == 1 || v->stride[inner - 1] == expect)) {
            run *= v->shape[inner - 1];
            expect *= v->shape[inner - 1];
            inner--;
        }
        if (numel > 0) {
            /* Walk the outer dims [0, inner) with an odometer; no recursion. */
            int64_t idx[YL_MAX_DIMS] = {0};
            int64_t src = v->offset;
            for (int64_t done = 0; done < numel; done += run) {
                convert_run(v->dtype, v->base + (size_t)src * item, run, data + done);
                for (int d = inner - 1; d >= 0; d--) {
                    if (v->shape[d] == 1)
                        continue; /* its stride is never applied (and may be anything) */
                    src += v->stride[d];
                    if (++idx[d] < v->shape[d])
                        break;
                    src -= v->stride[d] * v->shape[d];
                    idx[d] = 0;
                }
            }
        }
    }

    yl_tensor *t = &table->tensors[table->count];
    t->name = malloc(name_len + 1);
    if (!t->name) {
        free(data);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for a tensor name", what);
    }
    memcpy(t->name, name, name_len);
    t->name[name_len] = '\0';
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    memcpy(t->shape, v->shape, sizeof t->shape);
    t->numel = numel;
    t->data = data;
    table->count++;
    return YOLACT_OK;
}

static int compare_tensor_names(const void *a, const void *b)
{
    return strcmp((*(const yl_tensor *const *)a)->name, (*(const yl_tensor *const *)b)->name);
}

yolact_status yl_tensor_table_check_unique(const yl_tensor_table *table, const char *what)
{
    if (table->count < 2)
        return YOLACT_OK;
    const yl_tensor **sorted = malloc(table->count * sizeof *sorted);
    if (!sorted)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory to index tensor names", what);
    for (size_t i = 0; i < table->count; i++)
        sorted[i] = &table->tensors[i];
    qsort(sorted, table->count, sizeof *sorted, compare_tensor_names);
    yolact_status s = YOLACT_OK;
    for (size_t i = 1; i < table->count; i++) {
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: tensor '%s' appears twice", what, sorted[i]->name);
            break;
        }
    }
    free(sorted);
    return s;
}

static const uint8_t zip_magic[4] = {'P', 'K', 3, 4};

/* safetensors: an 8-byte little-endian header length, then the JSON header, which starts
 * with '{' or whitespace. (A legacy pickle has a byte of its magic number or a zero byte of
 * a frame length there, a zip its local header.) */
static int looks_like_safetensors(const uint8_t *bytes, size_t size)
{
    return size >= 9 && (bytes[8] == '{' || bytes[8] == ' ' || bytes[8] == '\t' ||
                         bytes[8] == '\n' || bytes[8] == '\r');
}

yolact_status yl_weights_read_memory(const uint8_t *bytes, size_t size, const char *name,
                                     yl_tensor_table *table)
{
    yl_clear_error();
    if (!table)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_weights_read_memory: table is NULL");
    *table = (yl_tensor_table){0};
    if (!name)
        name = "<memory>";
    if (!bytes && size)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", name);
    if ((uint64_t)size > (uint64_t)yl_limit_weights_bytes())
        return yl_fail(YOLACT_ERR_LIMIT, "%s: %zu bytes, more than the %lld a weight file may have",
                       name, size, (long long)yl_limit_weights_bytes());

    yolact_status s;
    if (size >= 4 && memcmp(bytes, zip_magic, 4) == 0)
        s = yl_pth_zip_read(bytes, size, name, table);
    else if (looks_like_safetensors(bytes, size))
        s = yl_safetensors_read(bytes, size, name, table);
    else if (size >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5)
        s = yl_pth_legacy_read(bytes, size, name, table);
    else
        s = yl_fail(YOLACT_ERR_FORMAT,
                    "%s: neither a PyTorch .pth (zip or legacy) nor a .safetensors file", name);
    if (s == YOLACT_OK)
        s = yl_tensor_table_check_unique(table, name);
    if (s != YOLACT_OK)
        yl_tensor_table_free(table);
    return s;
}

yolact_status yl_weights_read(const char *path, yl_tensor_table *table)
{
    yl_clear_error();
    if (!path || !table)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_weights_read: path or table is NULL");
    *table = (yl_tensor_table){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return yl_fail(YOLACT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return yl_fail(YOLACT_ERR_IO, "%s: not a regular file", path);
    }
    if ((int64_t)st.st_size > yl_limit_weights_bytes()) {
        close(fd);
        return yl_fail(YOLACT_ERR_LIMIT, "%s: %lld bytes, more than the %lld a weight file may have",
                       path, (long long)st.st_size, (long long)yl_limit_weights_bytes());
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return yl_fail(YOLACT_ERR_FORMAT, "%s: empty file", path);
    }
    /* One read-only mapping: every reader takes one pass over it, and stored zip entries
     * are converted straight from it without a copy of the file. */
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return yl_fail(YOLACT_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    madvise(map, size, MADV_SEQUENTIAL);
    yolact_status s = yl_weights_read_memory(map, size, path, table);
    munmap(map, size);
    return s;
}

const yl_tensor *yl_tensor_table_find(const yl_tensor_table *table, const char *name)
{
    if (!table || !name)
        return NULL;
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(table->tensors[i].name, name) == 0)
            return &table->tensors[i];
    return NULL;
}

const char *yl_tensor_table_metadata(const yl_tensor_table *table, const char *key)
{
    if (!table || !key)
        return NULL;
    for (size_t i = 0; i < table->metadata_count; i++)
        if (strcmp(table->metadata[2 * i], key) == 0)
            return table->metadata[2 * i + 1];
    return NULL;
}

void yl_tensor_table_free(yl_tensor_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->count; i++) {
        free(table->tensors[i].name);
        free(table->tensors[i].data);
    }
    for (size_t i = 0; i < 2 * table->metadata_count; i++)
        free(table->metadata[i]);
    free(table->tensors);
    free(table->metadata);
    *table = (yl_tensor_table){0};
}
