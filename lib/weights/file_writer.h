/* All-or-nothing output for the weight writers: the bytes go to a new temporary file beside
 * the destination (same folder, so the rename cannot cross file systems), which is synced
 * and renamed over the destination only when all of it was written; on any failure it is
 * removed and the destination is left as it was. Write failures are sticky: a writer
 * checks the status once, when it finishes. */
#ifndef YL_FILE_WRITER_H
#define YL_FILE_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "yolact.h"

typedef struct yl_file_writer {
    FILE *file;
    char *path, *temp;          /* owned: the destination, the temporary file */
    uint64_t offset;            /* bytes written so far */
    uint32_t crc;               /* zlib's CRC-32 of the bytes written since the caller last
                                   set it to 0 (a zip entry's) */
    yolact_status status;       /* the first failure; later writes do nothing */
} yl_file_writer;

/* Create the temporary file for path (permissions as for a new file: 0666 less the umask). */
yolact_status yl_file_writer_open(yl_file_writer *w, const char *path);

void yl_file_write(yl_file_writer *w, const void *bytes, size_t n);
void yl_file_write_zeros(yl_file_writer *w, uint64_t n);

/* With s == YOLACT_OK and no write failed: flush, fsync and rename onto the destination.
 * Otherwise remove the temporary file. Either way the writer is released; returns the first
 * failure (s, a write's, or the commit's), whose detail message stands. */
yolact_status yl_file_writer_finish(yl_file_writer *w, yolact_status s);

#endif
