/* train-step: the trainer API in a page. Load a checkpoint, take one training step on an
 * image whose ground truth is one object (a box given in pixels, its mask the filled box),
 * print the losses and save the updated weights.
 *   train-step CHECKPOINT IMAGE X1 Y1 X2 Y2 CLASS [OUT.pth]
 * CLASS is the class index (0 = the first class, "person" for COCO). */
#include <stdio.h>
#include <stdlib.h>

#include "yolact.h"

static int fail(const char *what, yolact_status s)
{
    fprintf(stderr, "train-step: %s: %s: %s\n", what, yolact_status_string(s),
            yolact_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: train-step CHECKPOINT IMAGE X1 Y1 X2 Y2 CLASS [OUT.pth]\n");
        return 2;
    }
    yolact_image image;
    yolact_status s = yolact_image_load(argv[2], &image);
    if (s != YOLACT_OK)
        return fail(argv[2], s);
    const int x1 = atoi(argv[3]), y1 = atoi(argv[4]), x2 = atoi(argv[5]), y2 = atoi(argv[6]);
    /* The object's mask at the image's size: the box, filled. */
    uint8_t *mask = calloc((size_t)image.width * image.height, 1);
    for (int y = y1 < 0 ? 0 : y1; mask && y < y2 && y < image.height; y++)
        for (int x = x1 < 0 ? 0 : x1; x < x2 && x < image.width; x++)
            mask[(size_t)y * image.width + x] = 1;
    const yolact_gt_object object = {(float)x1 / image.width, (float)y1 / image.height,
                                     (float)x2 / image.width, (float)y2 / image.height,
                                     atoi(argv[7]), 0, mask};
    const yolact_ground_truth gt = {1, &object, image.width, image.height};

    yolact_trainer *trainer = NULL;
    yolact_losses l;
    s = yolact_trainer_create(argv[1], NULL, &trainer); /* train.py's defaults */
    if (s == YOLACT_OK)
        s = yolact_trainer_step(trainer, &image, &gt, 1, &l);
    if (s == YOLACT_OK)
        printf("iteration %lld (lr %g): B %.4f  C %.4f  M %.4f  S %.4f  total %.4f\n",
               (long long)yolact_trainer_iteration(trainer), yolact_trainer_lr(trainer), l.B,
               l.C, l.M, l.S, l.total);
    if (s == YOLACT_OK && argc == 9 && (s = yolact_trainer_save_weights(trainer, argv[8])) ==
                                           YOLACT_OK)
        printf("weights saved to %s\n", argv[8]);
    int rc = s == YOLACT_OK ? 0 : fail("training step", s);
    yolact_trainer_destroy(trainer);
    free(mask);
    yolact_image_free_pixels(&image);
    return rc;
}
