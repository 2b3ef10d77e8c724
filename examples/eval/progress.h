/* Progress of a long run on stderr: on a terminal a bar redrawn in place (done, rate, time
 * left); otherwise one line every few seconds, so logs stay readable. */
#ifndef PROGRESS_H
#define PROGRESS_H

typedef struct progress {
    long total;
    int terminal;
    double start, last;      /* seconds (monotonic) */
} progress;

void progress_start(progress *p, long total);

/* done of total finished; draws when due (always at the end). */
void progress_update(progress *p, long done);

#endif
