/* The errors of the command-line programs (yolact-detect, yolact-webcam, yolact-bench), each
 * one line: the file or step, what is wrong, what to do. */
#ifndef CLI_ERROR_H
#define CLI_ERROR_H

#include <stddef.h>

#include "yolact.h"

/* A failed libyolact call as "what: <the library's detail>; <what to do>" into buf, e.g.
 * "x.png: cannot open: No such file or directory; check the path and its permissions".
 * `what` (a file or a step, may be NULL) leads only where the detail does not name it. */
void cli_error_text(char *buf, size_t size, const char *what, yolact_status s);

/* The same on stderr as "program: ..."; returns 1, the exit status. */
int cli_error(const char *program, const char *what, yolact_status s);

/* The directory a file path lies in ("." for a bare name, "/" for "/x") into buf. */
void cli_parent_dir(const char *path, char *buf, size_t size);

/* 0 when a file can be created at path (its folder exists and is writable), else -1 after
 * saying why on stderr: checked before the work, so a run does not fail at its end. */
int cli_check_output(const char *program, const char *path);

#endif
