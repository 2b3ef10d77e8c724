/* Output files that appear complete or not at all (atomic_file.h). */
#define _GNU_SOURCE   /* O_TMPFILE */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_error.h"

static void atomic_fail(const atomic_file *o, const char *doing)
{
    fprintf(stderr, "%s: %s: %s: %s; check the free space and permissions\n",
            o->program, o->path, doing, strerror(errno));
}

int atomic_open(atomic_file *o, const char *program, const char *path)
{
    o->program = program;
    o->path = path;
    o->tmp[0] = '\0';
    char dir[4096];
    cli_parent_dir(path, dir, sizeof dir);
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(o->tmp, sizeof o->tmp, "%s.XXXXXX", path);
        fd = mkstemp(o->tmp);
    }
    if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
        atomic_fail(o, "cannot create it");
        if (fd >= 0)
            close(fd);
        if (o->tmp[0])
            unlink(o->tmp);
        return -1;
    }
    return 0;
}

/* Name the unnamed file. linkat cannot replace an existing name: then link beside it and
 * rename over it. */
static int link_unnamed(atomic_file *o, int fd)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    snprintf(o->tmp, sizeof o->tmp, "%s.%ld.tmp", o->path, (long)getpid());
    unlink(o->tmp);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) != 0) {
        o->tmp[0] = '\0';
        return -1;
    }
    return rename(o->tmp, o->path);
}

int atomic_commit(atomic_file *o)
{
    int fd = fileno(o->f);
    const char *failed = NULL;
    if (fflush(o->f) != 0 || ferror(o->f) || fsync(fd) != 0)
        failed = "writing failed";
    else if (o->tmp[0] ? rename(o->tmp, o->path) != 0 : link_unnamed(o, fd) != 0)
        failed = "cannot name it";
    int error = errno;
    if (fclose(o->f) != 0 && !failed) {
        failed = "writing failed";
        error = errno;
    }
    if (!failed)
        return 0;
    errno = error;
    atomic_fail(o, failed);
    if (o->tmp[0])
        unlink(o->tmp);
    return -1;
}

void atomic_discard(atomic_file *o)
{
    fclose(o->f);
    if (o->tmp[0])
        unlink(o->tmp);
}
