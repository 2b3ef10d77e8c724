/* A training run's history, its log and its curves (train_history.h). Log records:
 *   loss <iteration> <lr> <B> <C> <M> <S> <total>
 *   ap <iteration> <box AP> <mask AP>
 * tab-separated, numbers in %.9g. */
#include "train_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "curves.h"

/* Room for one more record in arrays of n entries (cap), count arrays at once. */
static int grow(size_t n, size_t *cap, double **arrays[], int count)
{
    if (n < *cap)
        return 0;
    size_t want = *cap ? 2 * *cap : 64;
    for (int i = 0; i < count; i++) {
        double *a = realloc(*arrays[i], want * sizeof *a);
        if (!a)
            return -1;
        *arrays[i] = a;
    }
    *cap = want;
    return 0;
}

static int record_losses(train_history *h, long iteration, double lr, const double loss[])
{
    double **arrays[2 + TRAIN_NUM_LOSSES] = {&h->loss_iteration, &h->lr};
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        arrays[2 + k] = &h->loss[k];
    if (grow(h->num_losses, &h->losses_cap, arrays, 2 + TRAIN_NUM_LOSSES) != 0)
        return -1;
    h->loss_iteration[h->num_losses] = (double)iteration;
    h->lr[h->num_losses] = lr;
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        h->loss[k][h->num_losses] = loss[k];
    h->num_losses++;
    return 0;
}

static int record_ap(train_history *h, long iteration, double box, double mask)
{
    double **arrays[3] = {&h->ap_iteration, &h->box_ap, &h->mask_ap};
    if (grow(h->num_aps, &h->aps_cap, arrays, 3) != 0)
        return -1;
    h->ap_iteration[h->num_aps] = (double)iteration;
    h->box_ap[h->num_aps] = box;
    h->mask_ap[h->num_aps] = mask;
    h->num_aps++;
    return 0;
}

/* The records of an existing log up to `until`, rewritten so it ends there. */
static int read_log(train_history *h, const char *path, long until, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : (snprintf(err, err_size, "%s: %s", path,
                                               strerror(errno)), -1);
    char line[512];
    int status = 0;
    while (status == 0 && fgets(line, sizeof line, f)) {
        long it;
        double lr, v[TRAIN_NUM_LOSSES];
        if (sscanf(line, "loss\t%ld\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf", &it, &lr, &v[0], &v[1],
                   &v[2], &v[3], &v[4]) == 7) {
            if (it <= until)
                status = record_losses(h, it, lr, v);
        } else if (sscanf(line, "ap\t%ld\t%lf\t%lf", &it, &v[0], &v[1]) == 3) {
            if (it <= until)
                status = record_ap(h, it, v[0], v[1]);
        }
    }
    fclose(f);
    if (status != 0)
        snprintf(err, err_size, "out of memory reading %s", path);
    return status;
}

int train_history_open(train_history *h, const char *path, long until, char *err,
                       size_t err_size)
{
    *h = (train_history){0};
    if (read_log(h, path, until, err, err_size) != 0)
        return -1;
    /* Written again from what was kept, so records past `until` do not come back. */
    h->log = fopen(path, "w");
    if (!h->log) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t a = 0;
    for (size_t i = 0; i < h->num_losses; i++) {
        for (; a < h->num_aps && h->ap_iteration[a] <= h->loss_iteration[i]; a++)
            fprintf(h->log, "ap\t%.0f\t%.9g\t%.9g\n", h->ap_iteration[a], h->box_ap[a],
                    h->mask_ap[a]);
        fprintf(h->log, "loss\t%.0f\t%.9g", h->loss_iteration[i], h->lr[i]);
        for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
            fprintf(h->log, "\t%.9g", h->loss[k][i]);
        fputc('\n', h->log);
    }
    for (; a < h->num_aps; a++)
        fprintf(h->log, "ap\t%.0f\t%.9g\t%.9g\n", h->ap_iteration[a], h->box_ap[a],
                h->mask_ap[a]);
    return fflush(h->log) == 0 ? 0 : (snprintf(err, err_size, "%s: cannot write", path), -1);
}

int train_history_add_losses(train_history *h, long iteration, double lr,
                             const double loss[TRAIN_NUM_LOSSES], char *err, size_t err_size)
{
    if (record_losses(h, iteration, lr, loss) != 0)
        return snprintf(err, err_size, "out of memory for the history"), -1;
    fprintf(h->log, "loss\t%ld\t%.9g", iteration, lr);
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        fprintf(h->log, "\t%.9g", loss[k]);
    fputc('\n', h->log);
    return fflush(h->log) == 0 ? 0 : (snprintf(err, err_size, "cannot write the log"), -1);
}

int train_history_add_ap(train_history *h, long iteration, double box_ap, double mask_ap,
                         char *err, size_t err_size)
{
    if (record_ap(h, iteration, box_ap, mask_ap) != 0)
        return snprintf(err, err_size, "out of memory for the history"), -1;
    fprintf(h->log, "ap\t%ld\t%.9g\t%.9g\n", iteration, box_ap, mask_ap);
    return fflush(h->log) == 0 ? 0 : (snprintf(err, err_size, "cannot write the log"), -1);
}

int train_history_draw(const train_history *h, const char *path, char *err, size_t err_size)
{
    static const char *const names[TRAIN_NUM_LOSSES] = {"B (box)", "C (class)", "M (mask)",
                                                        "S (semantic)", "total"};
    static const uint8_t colors[TRAIN_NUM_LOSSES + 1][3] = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {235, 235, 235},
        {148, 103, 189}};
    curve losses[TRAIN_NUM_LOSSES], aps[2];
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        losses[k] = (curve){names[k], {colors[k][0], colors[k][1], colors[k][2]},
                            h->loss_iteration, h->loss[k], h->num_losses};
    aps[0] = (curve){"box AP", {colors[0][0], colors[0][1], colors[0][2]}, h->ap_iteration,
                     h->box_ap, h->num_aps};
    aps[1] = (curve){"mask AP", {colors[5][0], colors[5][1], colors[5][2]}, h->ap_iteration,
                     h->mask_ap, h->num_aps};
    const chart charts[2] = {{"training loss", losses, TRAIN_NUM_LOSSES, 1},
                             {"validation AP @[.5:.95]", aps, 2, 0}};
    return curves_write_png(path, charts, h->num_aps ? 2 : 1, 900, 360, err, err_size);
}

void train_history_close(train_history *h)
{
    if (h->log)
        fclose(h->log);
    free(h->loss_iteration);
    free(h->lr);
    for (int k = 0; k < TRAIN_NUM_LOSSES; k++)
        free(h->loss[k]);
    free(h->ap_iteration);
    free(h->box_ap);
    free(h->mask_ap);
    *h = (train_history){0};
}
