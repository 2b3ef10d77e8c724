/* Reads the parity sets' reference detections (<image>.json: a COCO-results list written by
 * the official implementation) without a JSON library: the files are plain lists of flat
 * objects, so a string-aware scan for the keys the gate needs is enough. */
#ifndef YL_TEST_REF_JSON_H
#define YL_TEST_REF_JSON_H

typedef struct ref_detection {
    int category_id;            /* the network's class, 0..79 */
    int coco_category_id;
    double score;
    double mask_score;          /* YOLACT++ sets only; -1 when absent */
    double bbox[4];             /* x, y, w, h */
    double box_rel[4];          /* x1, y1, x2, y2 relative, before sanitizing */
    int height, width;
    char *counts;               /* COCO compressed RLE */
} ref_detection;

/* Returns the number of detections read into *out (malloc'ed), or -1 on a parse error. */
int ref_json_read(const char *path, ref_detection **out);
void ref_json_free(ref_detection *d, int n);

#endif
