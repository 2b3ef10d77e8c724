/* Output files that appear complete or not at all (yolact-detect's and yolact-eval's results
 * JSON). */
#ifndef ATOMIC_FILE_H
#define ATOMIC_FILE_H

#include <stdio.h>

/* An output file that appears complete or not at all. It is written as an unnamed file in
 * its destination's directory (O_TMPFILE) and linked to its name only once complete, so a
 * failure, a full disk or a kill leaves nothing behind. Where the file system has no
 * O_TMPFILE, a named temporary file beside the destination is renamed at the end (a kill
 * then leaves that temporary file). */
typedef struct atomic_file {
    FILE *f;
    const char *program;  /* leads its error messages */
    const char *path;
    char tmp[4096];   /* the named temporary file, "" while unnamed */
} atomic_file;

/* Create the unnamed file for path; 0, or -1 after saying why on stderr. */
int atomic_open(atomic_file *o, const char *program, const char *path);

/* Flush, sync and give the file its name; on any failure nothing is left (-1, said on
 * stderr). */
int atomic_commit(atomic_file *o);

/* Drop the file: an unnamed one vanishes with its descriptor. */
void atomic_discard(atomic_file *o);

#endif
