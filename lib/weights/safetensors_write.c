/* The .safetensors writer: an 8-byte little-endian header length, the JSON header
 * (__metadata__ first, then each tensor's dtype, shape and byte range in table order, padded
 * with spaces to a multiple of 8 bytes as the reference implementation pads it), then the
 * tensors' bytes back to back, little-endian. */
#include "weights/weights_internal.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "weights/byte_buffer.h"
#include "weights/file_writer.h"

/* s's characters inside a JSON string: quote and backslash escaped, control characters as
 * JSON's short escapes or \u00XX (as Python's json writes them); other bytes (UTF-8) as they
 * are. */
static void put_json_chars(yl_byte_buffer *b, const char *s)
{
    /* pairs: a character, the letter after the backslash that stands for it */
    static const char short_escapes[] = "\bb\ff\nn\rr\tt\"\"\\\\";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *e = NULL;
        for (int i = 0; !e && short_escapes[i]; i += 2)
            if ((unsigned char)short_escapes[i] == *p)
                e = &short_escapes[i + 1];
        if (e)
            yl_buf_printf(b, "\\%c", *e);
        else if (*p < 0x20)
            yl_buf_printf(b, "\\u%04x", *p);
        else
            yl_buf_put_u8(b, *p);
    }
}

static void put_json_string(yl_byte_buffer *b, const char *prefix, const char *s)
{
    yl_buf_put_u8(b, '"');
    put_json_chars(b, prefix);
    put_json_chars(b, s);
    yl_buf_put_u8(b, '"');
}

static yolact_status check_metadata(const char *const *metadata, const char *path)
{
    for (size_t i = 0; metadata && metadata[2 * i]; i++) {
        if (!metadata[2 * i + 1])
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: metadata '%s' has no value", path,
                           metadata[2 * i]);
        for (size_t k = 0; k < i; k++)
            if (strcmp(metadata[2 * k], metadata[2 * i]) == 0)
                return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: metadata '%s' given twice",
                               path, metadata[2 * i]);
    }
    return YOLACT_OK;
}

/* The header's own key cannot name a tensor. */
static yolact_status check_not_metadata(const yl_named_table *parts, size_t count,
                                        const char *path)
{
    static const char key[] = "__metadata__";
    for (size_t p = 0; p < count; p++) {
        size_t n = strlen(parts[p].prefix);
        if (strncmp(parts[p].prefix, key, n) != 0)
            continue;
        for (size_t i = 0; i < parts[p].table->count; i++)
            if (parts[p].table->tensors[i].name &&
                strcmp(parts[p].table->tensors[i].name, key + n) == 0)
                return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: a tensor named __metadata__",
                               path);
    }
    return YOLACT_OK;
}

static void build_header(yl_byte_buffer *h, const yl_named_table *parts, size_t count,
                         yl_dtype dtype, const char *const *metadata)
{
    const char *sep = "";
    yl_buf_put_u8(h, '{');
    if (metadata && metadata[0]) {
        yl_buf_put_str(h, "\"__metadata__\":{");
        for (size_t i = 0; metadata[2 * i]; i++) {
            yl_buf_put_str(h, i ? "," : "");
            put_json_string(h, "", metadata[2 * i]);
            yl_buf_put_u8(h, ':');
            put_json_string(h, "", metadata[2 * i + 1]);
        }
        yl_buf_put_u8(h, '}');
        sep = ",";
    }
    uint64_t offset = 0;
    for (size_t p = 0; p < count; p++) {
        for (size_t i = 0; i < parts[p].table->count; i++) {
            const yl_tensor *t = &parts[p].table->tensors[i];
            yl_dtype out = yl_written_dtype(t, dtype);
            uint64_t bytes = (uint64_t)t->numel * yl_dtype_size(out);
            yl_buf_put_str(h, sep);
            put_json_string(h, parts[p].prefix, t->name);
            yl_buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", yl_safetensors_dtype_name(out));
            for (int d = 0; d < t->ndim; d++)
                yl_buf_printf(h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            yl_buf_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                          (unsigned long long)(offset + bytes));
            offset += bytes;
            sep = ",";
        }
    }
    yl_buf_put_u8(h, '}');
    while (h->size % 8)
        yl_buf_put_u8(h, ' ');
}

yolact_status yl_safetensors_write(const yl_named_table *parts, size_t count, yl_dtype dtype,
                                   const char *const *metadata, const char *path)
{
    if (dtype != YL_DTYPE_F32 && dtype != YL_DTYPE_F16)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: safetensors written as %s: float32 or "
                       "float16 only", path, yl_dtype_name(dtype));
    YL_TRY(check_metadata(metadata, path));
    YL_TRY(yl_named_tables_check_writable(parts, count, path));
    YL_TRY(check_not_metadata(parts, count, path));

    yl_byte_buffer header = {0};
    build_header(&header, parts, count, dtype, metadata);
    if (header.failed) {
        yl_buf_free(&header);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the header", path);
    }
    yl_file_writer w;
    yolact_status s = yl_file_writer_open(&w, path);
    if (s == YOLACT_OK) {
        uint8_t length[8];
        for (int i = 0; i < 8; i++)
            length[i] = (uint8_t)((uint64_t)header.size >> 8 * i);
        yl_file_write(&w, length, sizeof length);
        yl_file_write(&w, header.data, header.size);
        for (size_t p = 0; p < count; p++)
            for (size_t i = 0; i < parts[p].table->count; i++)
                yl_tensor_write_data(&w, &parts[p].table->tensors[i],
                                     yl_written_dtype(&parts[p].table->tensors[i], dtype));
        s = yl_file_writer_finish(&w, YOLACT_OK);
    }
    yl_buf_free(&header);
    return s;
}

yolact_status yl_weights_write_safetensors(const yl_tensor_table *table, yl_dtype dtype,
                                           const char *const *metadata, const char *path)
{
    yl_clear_error();
    if (!table || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT,
                       "yl_weights_write_safetensors: table or path is NULL");
    yl_named_table part = {table, ""};
    return yl_safetensors_write(&part, 1, dtype, metadata, path);
}
