/* A training run's history: the loss components at each progress line and the validation
 * AP, appended to a log file (tab-separated, one record a line) as they come, read back
 * when a run resumes, and drawn as the curves PNG. */
#ifndef TRAIN_HISTORY_H
#define TRAIN_HISTORY_H

#include <stddef.h>
#include <stdio.h>

enum { TRAIN_LOSS_B, TRAIN_LOSS_C, TRAIN_LOSS_M, TRAIN_LOSS_S, TRAIN_LOSS_TOTAL,
       TRAIN_NUM_LOSSES };

typedef struct train_history {
    size_t num_losses, losses_cap;
    double *loss_iteration, *lr, *loss[TRAIN_NUM_LOSSES];
    size_t num_aps, aps_cap;
    double *ap_iteration, *box_ap, *mask_ap;
    FILE *log;               /* the log file, appended to */
} train_history;

/* The history of the log at path up to iteration `until` (a resumed run's start; records
 * past it, from a run that went on after its last state, are dropped), the log then open
 * for appending. A missing log starts empty. 0, or -1 with the reason in err. */
int train_history_open(train_history *h, const char *path, long until, char *err,
                       size_t err_size);

/* A progress line's mean losses, or a validation's AP, recorded and logged. 0, or -1 when
 * out of memory or the log cannot be written (err says which). */
int train_history_add_losses(train_history *h, long iteration, double lr,
                             const double loss[TRAIN_NUM_LOSSES], char *err, size_t err_size);
int train_history_add_ap(train_history *h, long iteration, double box_ap, double mask_ap,
                         char *err, size_t err_size);

/* The curves: the loss components (log scale) and the AP, into a PNG at path. */
int train_history_draw(const train_history *h, const char *path, char *err, size_t err_size);

void train_history_close(train_history *h);

#endif
