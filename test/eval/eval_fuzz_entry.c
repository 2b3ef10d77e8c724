/* yolact-eval's fuzz entry (eval_fuzz_entry.h). */
#include "eval_fuzz_entry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco_eval.h"
#include "coco_load.h"

/* One detection a category on each of the first images, boxes overlapping the origin. */
static FILE *some_detections(const coco_dataset *gt, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (size_t i = 0; i < gt->num_images && i < 3; i++)
        for (size_t k = 0; k < gt->num_categories && k < 3; k++)
            n += (size_t)snprintf(buf + n, size - n,
                                  "%s{\"image_id\": %" PRId64 ", \"category_id\": %" PRId64
                                  ", \"bbox\": [%zu, 0, 20, 10], \"score\": 0.%zu}",
                                  n > 1 ? "," : "", gt->images[i].id, gt->categories[k].id,
                                  k, 9 - i);
    snprintf(buf + n, size - n, "]");
    return fmemopen(buf, strlen(buf), "r");
}

int eval_fuzz_annotations(const uint8_t *data, size_t size)
{
    char err[512] = "";
    coco_dataset gt;
    if (coco_parse_annotations((const char *)data, size, "fuzz", COCO_WANT_BOXES | COCO_WANT_MASKS,
                               &gt, err, sizeof err)) {
        if (!err[0])
            abort();    /* a refusal always says why */
        return 1;
    }
    char text[4096];
    FILE *f = some_detections(&gt, text, sizeof text);
    coco_objects dt;
    if (!f)
        abort();
    /* The detections may lack masks where images lack sizes: then they are refused. */
    if (coco_load_results(f, "detections", &gt, COCO_WANT_BOXES | COCO_WANT_MASKS, &dt, err,
                          sizeof err) == 0) {
        for (int type = 0; type < 2; type++) {
            coco_eval e;
            if (coco_evaluate(&gt, &dt, (coco_iou_type)type, 1, &e))
                continue;
            for (int i = 0; i < 12; i++)
                if (!(e.stats[i] == -1 || (e.stats[i] >= 0 && e.stats[i] <= 1)))
                    abort();
            coco_eval_free(&e);
        }
        coco_objects_free(&dt);
    }
    fclose(f);
    coco_dataset_free(&gt);
    return 0;
}
