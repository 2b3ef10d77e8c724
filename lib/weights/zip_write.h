/* A zip archive of stored entries laid out as PyTorch's writer (miniz, in torch.save) lays
 * it out, for the .pth writer: each local header with zero sizes and a data descriptor after
 * the data (flags 0x0808), an "FB" extra field of 'Z' bytes that puts the entry's data on a
 * 64-byte boundary (torch.load maps storages straight from it), no times, and the zip64 end
 * records beside the plain one. Archives of 4 GiB or more are refused. */
#ifndef YL_ZIP_WRITE_H
#define YL_ZIP_WRITE_H

#include "weights/byte_buffer.h"
#include "weights/file_writer.h"

typedef struct yl_zip_writer {
    yl_file_writer *file;       /* borrowed; its status is the archive's */
    yl_byte_buffer central;     /* the central directory so far */
    uint64_t entries;
    uint64_t entry_offset;      /* the open entry's local header */
    uint64_t data_offset;       /* ... and its data */
    const char *entry_name;     /* borrowed until the entry ends */
} yl_zip_writer;

/* Start an entry named name: write its bytes with yl_file_write on z->file, then end it. */
void yl_zip_begin_entry(yl_zip_writer *z, const char *name);
void yl_zip_end_entry(yl_zip_writer *z);

/* The central directory and end records; frees what z holds (also after a failure). */
void yl_zip_finish(yl_zip_writer *z);

#endif
