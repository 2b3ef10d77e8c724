/* The official training data augmentation (SSDAugmentation of the official
 * utils/augmentations.py) for the YOLACT configurations, on one sample:
 *
 *   photometric distortion -> expand -> random sample crop -> random mirror -> resize to S x S
 *
 * with the official's quirks kept, since a model trained here should see what a model trained
 * by train.py sees: pixel values are never clipped to 0..255; the crop's left and top come
 * from numpy's one-argument uniform(width - w), which draws from [width - w, 1), not
 * [0, width - w); the crop's IoU condition can never reject (its upper bound is always
 * infinite); boxes are kept after the resize when wider and taller than 4/550 of a pixel.
 * Each step is a function of the sample and its own random draws, so the tests check it
 * against its definition; augment_sample_random draws them from a seeded stream in the
 * official's order. The image is float BGR (as cv2 reads it and the official transforms
 * hold it), boxes absolute pixels (x1, y1, x2, y2) until the last step makes them relative. */
#ifndef AUGMENT_H
#define AUGMENT_H

#include <stdint.h>

/* The official MEANS, BGR: the colour Expand fills with. */
extern const float augment_mean_bgr[3];

typedef struct augment_sample {
    int width, height;
    float *image;          /* height * width * 3, BGR, on the 0..255 scale, not clipped */
    int count;             /* objects; crowds are the last num_crowds, as the loader orders */
    int num_crowds;
    uint8_t *masks;        /* count masks of height * width bytes, 0 or 1 */
    double (*boxes)[4];    /* absolute x1, y1, x2, y2 (relative after augment_resize) */
    int *labels;           /* class index; -1 for a crowd */
} augment_sample;

/* A sample owning copies of what it is given; 0, or -1 when out of memory. */
int augment_sample_init(augment_sample *s, int width, int height, int count, int num_crowds);
void augment_sample_free(augment_sample *s);

/* PhotometricDistort's draws: each flag says whether its step runs. */
typedef struct augment_photometric {
    int brightness;          float brightness_delta;   /* added, -32..32 */
    int contrast_first;      /* contrast before the HSV steps, else after them */
    int contrast;            float contrast_alpha;      /* multiplies, 0.5..1.5 */
    int saturation;          float saturation_factor;   /* multiplies S, 0.5..1.5 */
    int hue;                 float hue_delta;           /* added to H in degrees, -18..18 */
} augment_photometric;

void augment_photometric_apply(augment_sample *s, const augment_photometric *p);

/* OpenCV's float BGR <-> HSV (H in degrees 0..360, S and V on the input's scale), one pixel. */
void augment_bgr_to_hsv(const float bgr[3], float hsv[3]);
void augment_hsv_to_bgr(const float hsv[3], float bgr[3]);

/* Expand: the image placed at (left, top), both truncated to whole pixels, on a canvas
 * int(height * ratio) x int(width * ratio) of the mean colour; masks and boxes follow.
 * 0, or -1 when out of memory (the sample is then unchanged). */
int augment_expand(augment_sample *s, double ratio, double left, double top);

/* RandomSampleCrop's crop rect (x1, y1, x2, y2, whole pixels): keeps the objects whose box
 * centre lies strictly inside, boxes clipped to it. Returns 1 when the rect is taken, 0 when
 * the official would try again (no object's centre inside, or only crowds), -1 when out of
 * memory (unchanged in both cases). */
int augment_crop(augment_sample *s, const int rect[4]);

/* RandomMirror: left-right. */
void augment_mirror(augment_sample *s);

/* Resize to size x size as cv2.resize(INTER_LINEAR) does, image in float, masks as OpenCV's
 * 8-bit fixed point; boxes scaled, then those no wider or taller than 4/550 dropped, and
 * made relative (ToPercentCoords). 0, or -1 when out of memory (unchanged). */
int augment_resize(augment_sample *s, int size);

/* The whole SSDAugmentation for a YOLACT configuration of input size `size`, drawing from
 * *rng (seeded_random.h) in the official order. 0, or -1 when out of memory. */
int augment_sample_random(augment_sample *s, int size, uint64_t *rng);

#endif
