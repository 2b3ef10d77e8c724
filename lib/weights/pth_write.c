/* The .pth writer: a state_dict pickled as torch.save (PyTorch 1.13, protocol 2) pickles one
 * (an OrderedDict whose values are _rebuild_tensor_v2 calls over persistent-id storages, one
 * contiguous storage a tensor), in the zip container torch.save writes (zip_write.h). */
#include "weights/weights_internal.h"

#include <stdio.h>
#include <string.h>

#include "status.h"
#include "weights/byte_buffer.h"
#include "weights/file_writer.h"
#include "weights/zip_write.h"

static void put_global(yl_byte_buffer *b, const char *module, const char *name)
{
    yl_buf_printf(b, "c%s\n%s\n", module, name);
}

static void put_str(yl_byte_buffer *b, const char *s)
{
    size_t n = strlen(s);
    yl_buf_put_u8(b, 'X');                      /* BINUNICODE */
    yl_buf_put_le(b, n, 4);
    yl_buf_put(b, s, n);
}

/* A non-negative int in the smallest form pickle's own writer picks. */
static void put_int(yl_byte_buffer *b, int64_t v)
{
    if (v < 0x100) {
        yl_buf_put_u8(b, 'K');                  /* BININT1 */
        yl_buf_put_le(b, (uint64_t)v, 1);
    } else if (v < 0x10000) {
        yl_buf_put_u8(b, 'M');                  /* BININT2 */
        yl_buf_put_le(b, (uint64_t)v, 2);
    } else if (v < 0x80000000) {
        yl_buf_put_u8(b, 'J');                  /* BININT */
        yl_buf_put_le(b, (uint64_t)v, 4);
    } else {
        yl_buf_put(b, "\x8a\x08", 2);           /* LONG1 of 8 bytes (positive: top bit clear) */
        yl_buf_put_le(b, (uint64_t)v, 8);
    }
}

static void put_int_tuple(yl_byte_buffer *b, const int64_t *v, int n)
{
    static const char close[4] = {')', '\x85', '\x86', '\x87'};   /* EMPTY_TUPLE, TUPLE1..3 */
    if (n > 3)
        yl_buf_put_u8(b, '(');                  /* MARK */
    for (int i = 0; i < n; i++)
        put_int(b, v[i]);
    yl_buf_put_u8(b, n > 3 ? 't' : (uint8_t)close[n]);
}

/* OrderedDict(): torch's backward_hooks argument and the state_dict itself. */
static void put_empty_ordered_dict(yl_byte_buffer *b)
{
    put_global(b, "collections", "OrderedDict");
    yl_buf_put(b, ")R", 2);                     /* EMPTY_TUPLE, REDUCE */
}

static void put_tensor(yl_byte_buffer *b, const yl_tensor *t, size_t storage)
{
    char key[24];
    snprintf(key, sizeof key, "%zu", storage);
    int64_t stride[YL_MAX_DIMS];
    int64_t step = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        stride[d] = step;
        step *= t->shape[d] ? t->shape[d] : 1;     /* as torch strides empty dims */
    }
    put_str(b, t->name);
    put_global(b, "torch._utils", "_rebuild_tensor_v2");
    yl_buf_put(b, "((", 2);                     /* MARK of the arguments, of the storage id */
    put_str(b, "storage");
    put_global(b, "torch", yl_pth_storage_type(yl_written_dtype(t, YL_DTYPE_F32)));
    put_str(b, key);
    put_str(b, "cpu");
    put_int(b, t->numel);
    yl_buf_put(b, "tQ", 2);                     /* TUPLE, BINPERSID */
    put_int(b, 0);                              /* storage offset */
    put_int_tuple(b, t->shape, t->ndim);
    put_int_tuple(b, stride, t->ndim);
    yl_buf_put_u8(b, 0x89);                     /* requires_grad: NEWFALSE */
    put_empty_ordered_dict(b);
    yl_buf_put(b, "tR", 2);                     /* TUPLE, REDUCE */
}

static void build_pickle(yl_byte_buffer *b, const yl_tensor_table *table)
{
    yl_buf_put(b, "\x80\x02", 2);               /* PROTO 2 */
    put_empty_ordered_dict(b);
    if (table->count) {
        yl_buf_put_u8(b, '(');
        for (size_t i = 0; i < table->count; i++)
            put_tensor(b, &table->tensors[i], i);
        yl_buf_put_u8(b, 'u');                  /* SETITEMS */
    }
    yl_buf_put_u8(b, '.');                      /* STOP */
}

yolact_status yl_weights_write_pth(const yl_tensor_table *table, const char *path)
{
    yl_clear_error();
    if (!table || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_weights_write_pth: table or path is NULL");
    yl_named_table part = {table, ""};
    YL_TRY(yl_named_tables_check_writable(&part, 1, path));

    yl_byte_buffer pickle = {0};
    build_pickle(&pickle, table);
    if (pickle.failed) {
        yl_buf_free(&pickle);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the pickle", path);
    }
    yl_file_writer w;
    yolact_status s = yl_file_writer_open(&w, path);
    if (s == YOLACT_OK) {
        yl_zip_writer z = {.file = &w};
        yl_zip_begin_entry(&z, "archive/data.pkl");
        yl_file_write(&w, pickle.data, pickle.size);
        yl_zip_end_entry(&z);
        for (size_t i = 0; i < table->count; i++) {
            char name[40];
            snprintf(name, sizeof name, "archive/data/%zu", i);
            yl_zip_begin_entry(&z, name);
            yl_tensor_write_data(&w, &table->tensors[i], YL_DTYPE_F32);
            yl_zip_end_entry(&z);
        }
        yl_zip_begin_entry(&z, "archive/version");
        yl_file_write(&w, "3\n", 2);
        yl_zip_end_entry(&z);
        yl_zip_finish(&z);
        s = yl_file_writer_finish(&w, YOLACT_OK);
    }
    yl_buf_free(&pickle);
    return s;
}
