/* COCO results entries (coco_results.h). */
#include "coco_results.h"

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int cli_write_coco_detections(FILE *f, const char *image_id, const yolact_result *r,
                              int rescored, int first)
{
    int written = 0;
    for (int i = 0; i < r->count; i++) {
        const yolact_detection *d = &r->detections[i];
        long x1 = (long)d->x1, y1 = (long)d->y1, x2 = (long)d->x2, y2 = (long)d->y2;
        if ((x2 - x1) * (y2 - y1) <= 0)
            continue;
        fputs(first && !written ? "\n  {" : ",\n  {", f);
        fprintf(f, "\"image_id\": %s, \"category_id\": %d, \"category_name\": ", image_id,
                d->category_id);
        cli_json_string(f, d->class_name);
        fprintf(f, ", \"bbox\": [%ld, %ld, %ld, %ld], \"score\": %.9g", x1, y1, x2 - x1,
                y2 - y1, d->score);
        if (rescored)
            fprintf(f, ", \"mask_score\": %.9g", d->mask_score);
        fprintf(f, ", \"segmentation\": {\"size\": [%d, %d], \"counts\": ", r->height, r->width);
        cli_json_string(f, d->rle);
        fputs("}}", f);
        written++;
    }
    return written;
}
