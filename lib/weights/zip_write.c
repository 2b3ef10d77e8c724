/* The torch-style zip writer (zip_write.h). Field values are those of a torch.save archive
 * of PyTorch 1.13, read off one byte for byte. */
#include "weights/zip_write.h"

#include <string.h>

#include "status.h"

enum {
    ALIGNMENT = 64,             /* torch's kFieldAlignment */
    LOCAL_SIZE = 30,
    FLAGS = 0x0808,             /* data descriptor follows, UTF-8 names */
    ZIP64_MADE_BY = 0x031e,
    ZIP64_NEEDED = 0x002d
};

static const uint64_t ZIP32_MAX = 0xffffffffu;

/* Whether the archive has reached the 4 GiB that plain zip fields can address; the
 * failure is kept in the file writer's sticky status. */
static int too_large(yl_zip_writer *z, uint64_t value)
{
    if (value < ZIP32_MAX)
        return 0;
    if (z->file->status == YOLACT_OK)
        z->file->status = yl_fail(YOLACT_ERR_LIMIT, "%s: 4 GiB or more: zip64 entries are not "
                                  "written", z->file->path);
    return 1;
}

/* b's bytes to the file, then b freed. */
static void write_buffer(yl_zip_writer *z, yl_byte_buffer *b)
{
    if (b->failed && z->file->status == YOLACT_OK)
        z->file->status = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the zip's "
                                  "records", z->file->path);
    yl_file_write(z->file, b->data, b->size);
    yl_buf_free(b);
}

void yl_zip_begin_entry(yl_zip_writer *z, const char *name)
{
    yl_byte_buffer h = {0};
    size_t name_len = strlen(name);
    z->entry_name = name;
    z->entry_offset = z->file->offset;
    uint64_t start = z->entry_offset + LOCAL_SIZE + name_len + 4;
    size_t pad = (size_t)((ALIGNMENT - start % ALIGNMENT) % ALIGNMENT);
    yl_buf_put_le(&h, 0x04034b50, 4);
    yl_buf_put_le(&h, 0, 2);                    /* version needed, as torch writes it */
    yl_buf_put_le(&h, FLAGS, 2);
    yl_buf_put_le(&h, 0, 2);                    /* stored */
    yl_buf_put_le(&h, 0, 4);                    /* time, date */
    yl_buf_put_le(&h, 0, 4);                    /* crc, sizes: in the data descriptor */
    yl_buf_put_le(&h, 0, 8);
    yl_buf_put_le(&h, name_len, 2);
    yl_buf_put_le(&h, 4 + pad, 2);
    yl_buf_put(&h, name, name_len);
    yl_buf_put(&h, "FB", 2);
    yl_buf_put_le(&h, pad, 2);
    for (size_t i = 0; i < pad; i++)
        yl_buf_put_u8(&h, 'Z');
    write_buffer(z, &h);
    z->data_offset = z->file->offset;
    z->file->crc = 0;
}

void yl_zip_end_entry(yl_zip_writer *z)
{
    uint64_t size = z->file->offset - z->data_offset;
    uint32_t crc = z->file->crc;
    if (too_large(z, z->file->offset))
        return;
    yl_byte_buffer d = {0};
    yl_buf_put_le(&d, 0x08074b50, 4);
    yl_buf_put_le(&d, crc, 4);
    yl_buf_put_le(&d, size, 4);
    yl_buf_put_le(&d, size, 4);
    write_buffer(z, &d);

    size_t name_len = strlen(z->entry_name);
    yl_byte_buffer *c = &z->central;
    yl_buf_put_le(c, 0x02014b50, 4);
    yl_buf_put_le(c, 0, 4);                     /* made by, needed */
    yl_buf_put_le(c, FLAGS, 2);
    yl_buf_put_le(c, 0, 6);                     /* stored, time, date */
    yl_buf_put_le(c, crc, 4);
    yl_buf_put_le(c, size, 4);
    yl_buf_put_le(c, size, 4);
    yl_buf_put_le(c, name_len, 2);
    yl_buf_put_le(c, 0, 4);                     /* extra, comment */
    yl_buf_put_le(c, 0, 8);                     /* disk, attributes */
    yl_buf_put_le(c, z->entry_offset, 4);
    yl_buf_put(c, z->entry_name, name_len);
    z->entries++;
    z->entry_name = NULL;
}

void yl_zip_finish(yl_zip_writer *z)
{
    uint64_t cd_offset = z->file->offset, cd_size = z->central.size;
    if (too_large(z, cd_offset)) {
        yl_buf_free(&z->central);
        return;
    }
    write_buffer(z, &z->central);
    uint64_t zip64_offset = z->file->offset;
    if (!too_large(z, zip64_offset)) {
        yl_byte_buffer e = {0};
        yl_buf_put_le(&e, 0x06064b50, 4);
        yl_buf_put_le(&e, 44, 8);               /* the record's size after this field */
        yl_buf_put_le(&e, ZIP64_MADE_BY, 2);
        yl_buf_put_le(&e, ZIP64_NEEDED, 2);
        yl_buf_put_le(&e, 0, 8);                /* this disk, the directory's disk */
        yl_buf_put_le(&e, z->entries, 8);
        yl_buf_put_le(&e, z->entries, 8);
        yl_buf_put_le(&e, cd_size, 8);
        yl_buf_put_le(&e, cd_offset, 8);
        yl_buf_put_le(&e, 0x07064b50, 4);       /* the zip64 locator */
        yl_buf_put_le(&e, 0, 4);
        yl_buf_put_le(&e, zip64_offset, 8);
        yl_buf_put_le(&e, 1, 4);                /* disks */
        uint64_t count = z->entries < 0xffff ? z->entries : 0xffff;
        yl_buf_put_le(&e, 0x06054b50, 4);       /* the plain end record */
        yl_buf_put_le(&e, 0, 4);
        yl_buf_put_le(&e, count, 2);
        yl_buf_put_le(&e, count, 2);
        yl_buf_put_le(&e, cd_size, 4);
        yl_buf_put_le(&e, cd_offset, 4);
        yl_buf_put_le(&e, 0, 2);                /* comment */
        write_buffer(z, &e);
    }
}
