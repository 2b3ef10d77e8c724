#include "scratch_dir.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static char dir[128];

void scratch_open(const char *prefix)
{
    snprintf(dir, sizeof dir, "/tmp/%s_XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void scratch_close(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

const char *scratch_dir(void) { return dir; }

const char *scratch_path(const char *name)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}
