/* One-line errors for the command-line programs (cli_error.h). */
#include "cli_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a user can do about each status; the detail message says what is wrong. */
static const char *what_to_do(yolact_status s)
{
    switch (s) {
    case YOLACT_OK: break;
    case YOLACT_ERR_INVALID_ARGUMENT: return "see --help";
    case YOLACT_ERR_OUT_OF_MEMORY: return "free some memory, or use a smaller image or batch";
    case YOLACT_ERR_IO: return "check the path and its permissions";
    case YOLACT_ERR_FORMAT: return "use a whole PNG or JPEG image, or a YOLACT checkpoint";
    case YOLACT_ERR_UNSAFE_PICKLE: return "load only checkpoints saved as a plain state_dict";
    case YOLACT_ERR_UNSUPPORTED: return "convert the file to a supported format (README.md)";
    case YOLACT_ERR_MODEL: return "name the preset that matches the checkpoint with -c";
    case YOLACT_ERR_LIMIT: return "use a smaller file or image";
    case YOLACT_ERR_BACKEND_UNAVAILABLE: return "use --backend cpu or auto";
    case YOLACT_ERR_DEVICE: return "check the GPU (nvidia-smi), or use --backend cpu";
    case YOLACT_ERR_INTERNAL: return "please report it";
    }
    return "see --help";
}

void cli_error_text(char *buf, size_t size, const char *what, yolact_status s)
{
    const char *detail = yolact_last_error()[0] ? yolact_last_error() : yolact_status_string(s);
    const int named = !what || strstr(detail, what);
    snprintf(buf, size, "%s%s%s; %s", named ? "" : what, named ? "" : ": ", detail,
             what_to_do(s));
}

int cli_error(const char *program, const char *what, yolact_status s)
{
    char text[1400];
    cli_error_text(text, sizeof text, what, s);
    fprintf(stderr, "%s: %s\n", program, text);
    return 1;
}

void cli_parent_dir(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else
        slash[slash == buf] = '\0'; /* "/x" -> "/" */
}

int cli_check_output(const char *program, const char *path)
{
    char dir[4096];
    cli_parent_dir(path, dir, sizeof dir);
    struct stat st;
    const char *wrong = NULL, *todo = "choose another folder";
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        wrong = "it is a folder", todo = "name a file", dir[0] = '\0';
    else if (stat(dir, &st) != 0 && errno == ENOENT)
        wrong = "no folder", todo = "create the folder first";
    else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        wrong = "not a folder:";
    else if (access(dir, W_OK | X_OK) != 0)
        wrong = "no write permission in";
    if (!wrong)
        return 0;
    fprintf(stderr, "%s: %s: cannot write it: %s%s%s; %s\n", program, path, wrong,
            dir[0] ? " " : "", dir, todo);
    return -1;
}
