/* Progress lines (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* A line every this many seconds when stderr is not a terminal; the bar every tenth. */
#define LOG_INTERVAL 5.0
#define BAR_INTERVAL 0.1

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

void progress_start(progress *p, long total)
{
    p->total = total;
    p->terminal = isatty(STDERR_FILENO);
    p->start = p->last = now();
}

void progress_update(progress *p, long done)
{
    double t = now(), elapsed = t - p->start;
    int end = done >= p->total;
    if (!end && t - p->last < (p->terminal ? BAR_INTERVAL : LOG_INTERVAL))
        return;
    p->last = t;
    double rate = elapsed > 0 ? done / elapsed : 0;
    long left = rate > 0 ? (long)((p->total - done) / rate + .5) : 0;
    if (p->terminal) {
        enum { WIDTH = 30 };
        int filled = p->total > 0 ? (int)(WIDTH * done / p->total) : WIDTH;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %ld/%ld images, %.1f images/s, %ld:%02ld left ", bar, done,
                p->total, rate, left / 60, left % 60);
        if (end)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%ld/%ld images, %.1f images/s, %ld:%02ld left\n", done, p->total, rate,
                left / 60, left % 60);
    }
}
