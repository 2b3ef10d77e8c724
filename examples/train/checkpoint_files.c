/* A run folder's checkpoints (checkpoint_files.h). */
#include "checkpoint_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SAFETENSORS[] = ".safetensors";

/* The iteration of "<preset>_<epoch>_<iteration>.safetensors", or -1 for another name. */
static long iteration_of(const char *name, const char *preset)
{
    size_t p = strlen(preset), n = strlen(name), e = sizeof SAFETENSORS - 1;
    if (n <= p + e || strncmp(name, preset, p) != 0 || name[p] != '_' ||
        strcmp(name + n - e, SAFETENSORS) != 0)
        return -1;
    const char *s = name + p + 1, *end = name + n - e;
    long numbers[2];
    for (int k = 0; k < 2; k++) {
        if (s >= end || *s < '0' || *s > '9')
            return -1;
        long v = 0;
        for (; s < end && *s >= '0' && *s <= '9'; s++) {
            if (v > 100000000000L)
                return -1;
            v = 10 * v + (*s - '0');
        }
        numbers[k] = v;
        if (k == 0 && (s >= end || *s++ != '_'))
            return -1;
    }
    return s == end ? numbers[1] : -1;
}

int checkpoint_latest(const char *dir, const char *preset, long below, char *name,
                      size_t size, long *iteration, char *err, size_t err_size)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, err_size, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int found = 0;
    *iteration = -1;
    for (struct dirent *e; (e = readdir(d));) {
        long it = iteration_of(e->d_name, preset);
        if (it >= 0 && it < below && it > *iteration && strlen(e->d_name) < size) {
            *iteration = it;
            snprintf(name, size, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found ? 0 : 1;
}

int checkpoint_remove(const char *dir, const char *name, char *err, size_t err_size)
{
    char path[4096];
    size_t stem = strlen(name) - (sizeof SAFETENSORS - 1);
    const char *extensions[2] = {SAFETENSORS, ".pth"};
    for (int k = 0; k < 2; k++) {
        if (snprintf(path, sizeof path, "%s/%.*s%s", dir, (int)stem, name, extensions[k]) >=
            (int)sizeof path) {
            snprintf(err, err_size, "%s: the path is too long", dir);
            return -1;
        }
        if (unlink(path) != 0 && !(k == 1 && errno == ENOENT)) {
            snprintf(err, err_size, "removing %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}
