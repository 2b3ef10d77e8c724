/* Choosing a file source for --input, and the clock every source stamps frames with. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "source.h"

double wc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int wc_file_source_open(const char *input, wc_source **source, char *err, size_t err_size)
{
    size_t n = strlen(input);
    if (n > 4 && !strcasecmp(input + n - 4, ".y4m"))
        return wc_y4m_open(input, source, err, err_size);
    return wc_images_open(input, source, err, err_size);
}
