/* The weight writers' all-or-nothing file (file_writer.h). */
#include "weights/file_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "status.h"

enum { CREATE_TRIES = 64 };

yolact_status yl_file_writer_open(yl_file_writer *w, const char *path)
{
    /* Names unique within the process (the counter) and across processes (the pid); a
     * leftover of a killed run is stepped over, never opened (O_EXCL). */
    static atomic_uint counter;
    *w = (yl_file_writer){0};
    size_t len = strlen(path);
    w->path = strdup(path);
    w->temp = malloc(len + 48);
    if (!w->path || !w->temp) {
        free(w->path);
        free(w->temp);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the file's name", path);
    }
    int fd = -1;
    for (int i = 0; fd < 0 && i < CREATE_TRIES; i++) {
        snprintf(w->temp, len + 48, "%s.tmp-%ld-%u", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        fd = open(w->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd >= 0 && !(w->file = fdopen(fd, "wb"))) {
        int why = errno;
        close(fd);
        unlink(w->temp);
        errno = why;
        fd = -1;
    }
    if (fd < 0) {
        yolact_status s = yl_fail(YOLACT_ERR_IO, "%s: cannot create a file beside it: %s", path,
                                  strerror(errno));
        free(w->path);
        free(w->temp);
        *w = (yl_file_writer){0};
        return s;
    }
    return YOLACT_OK;
}

void yl_file_write(yl_file_writer *w, const void *bytes, size_t n)
{
    if (w->status != YOLACT_OK || n == 0)
        return;
    if (fwrite(bytes, 1, n, w->file) != n) {
        w->status = yl_fail(YOLACT_ERR_IO, "%s: cannot write: %s", w->path, strerror(errno));
        return;
    }
    w->offset += n;
    for (size_t done = 0; done < n;) {   /* crc32 takes a uInt length */
        uInt chunk = n - done < (1u << 30) ? (uInt)(n - done) : 1u << 30;
        w->crc = (uint32_t)crc32(w->crc, (const Bytef *)bytes + done, chunk);
        done += chunk;
    }
}

void yl_file_write_zeros(yl_file_writer *w, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n > 0 && w->status == YOLACT_OK) {
        size_t chunk = n < sizeof zeros ? (size_t)n : sizeof zeros;
        yl_file_write(w, zeros, chunk);
        n -= chunk;
    }
}

yolact_status yl_file_writer_finish(yl_file_writer *w, yolact_status s)
{
    if (s == YOLACT_OK)
        s = w->status;
    if (s == YOLACT_OK && (fflush(w->file) != 0 || fsync(fileno(w->file)) != 0))
        s = yl_fail(YOLACT_ERR_IO, "%s: cannot write: %s", w->path, strerror(errno));
    if (fclose(w->file) != 0 && s == YOLACT_OK)
        s = yl_fail(YOLACT_ERR_IO, "%s: cannot write: %s", w->path, strerror(errno));
    if (s == YOLACT_OK && rename(w->temp, w->path) != 0)
        s = yl_fail(YOLACT_ERR_IO, "%s: cannot replace it: %s", w->path, strerror(errno));
    if (s != YOLACT_OK)
        unlink(w->temp);
    free(w->path);
    free(w->temp);
    *w = (yl_file_writer){0};
    return s;
}
