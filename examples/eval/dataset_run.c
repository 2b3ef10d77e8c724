/* The detection pass over a data set (dataset_run.h). Images are read a batch at a time, so
 * memory holds one batch of pixels; the results stream to the file as they come. */
#include "dataset_run.h"

#include <inttypes.h>
#include <stdlib.h>

#include "../common/cli_error.h"
#include "../common/coco_results.h"
#include "progress.h"

/* Read the images idx[0..n) into images[]; unreadable ones are reported and left out.
 * Returns how many were read (their data set indices in idx[0..read)), or -1 when the run
 * must stop. */
static int read_batch(dataset_run *run, const coco_dataset *gt, size_t *idx, int n,
                      yolact_image *images)
{
    int read = 0;
    for (int i = 0; i < n; i++) {
        const coco_image *im = &gt->images[idx[i]];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", run->images_dir, im->file_name);
        yolact_status s = yolact_image_load(path, &images[read]);
        if (s != YOLACT_OK) {
            cli_error("yolact-eval", path, s);
            run->images_missing++;
            if (run->require_images) {
                while (read > 0)
                    yolact_image_free_pixels(&images[--read]);
                return -1;
            }
            continue;
        }
        idx[read++] = idx[i];
    }
    return read;
}

int dataset_run_detect(dataset_run *run, yolact_session *session, const coco_dataset *gt,
                       FILE *out)
{
    long total = (long)gt->num_images;
    if (run->max_images > 0 && run->max_images < total)
        total = run->max_images;
    for (long i = 0; i < total; i++)
        if (!gt->images[i].file_name) {
            fprintf(stderr, "yolact-eval: images[%ld] (id %" PRId64 ") has no file_name\n", i,
                    gt->images[i].id);
            return 1;
        }
    yolact_image *images = calloc((size_t)run->batch, sizeof *images);
    size_t *idx = malloc((size_t)run->batch * sizeof *idx);
    const yolact_result **results = malloc((size_t)run->batch * sizeof *results);
    int status = images && idx && results ? 0 : cli_error("yolact-eval", NULL,
                                                          YOLACT_ERR_OUT_OF_MEMORY);
    progress bar;
    progress_start(&bar, total);
    int first = 1;
    fputc('[', out);
    for (long next = 0; next < total && status == 0;) {
        int n = (int)(total - next < run->batch ? total - next : run->batch);
        for (int i = 0; i < n; i++)
            idx[i] = (size_t)(next + i);
        next += n;
        int read = read_batch(run, gt, idx, n, images);
        yolact_status s = read > 0 ? yolact_session_detect_batch(session, images, read, results)
                                   : YOLACT_OK;
        if (read < 0)
            status = 1;
        else if (s != YOLACT_OK)
            status = cli_error("yolact-eval", gt->images[idx[0]].file_name, s);
        for (int i = 0; status == 0 && i < read; i++) {
            char id[32];
            snprintf(id, sizeof id, "%" PRId64, gt->images[idx[i]].id);
            first &= cli_write_coco_detections(out, id, results[i], run->rescored, first) == 0;
            run->ran[idx[i]] = 1;
            run->images_run++;
        }
        for (int i = 0; i < (read > 0 ? read : 0); i++)
            yolact_image_free_pixels(&images[i]);
        progress_update(&bar, next);
    }
    fputs(first ? "]\n" : "\n]\n", out);
    free(images);
    free(idx);
    free(results);
    return status;
}
