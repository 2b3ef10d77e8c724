/* One image of the synthetic shapes data set (yolact-shapes): coloured shapes of six kinds
 * on a textured background, overlapping, and each object's exact visible mask. Everything
 * follows from (seed, split, index), so an image is the same whatever else is generated. */
#ifndef SHAPES_SCENE_H
#define SHAPES_SCENE_H

#include <stddef.h>
#include <stdint.h>

typedef enum shape_kind {
    SHAPE_CIRCLE = 0,
    SHAPE_SQUARE,
    SHAPE_TRIANGLE,
    SHAPE_STAR,
    SHAPE_HEXAGON,
    SHAPE_CROSS,
    SHAPE_KINDS
} shape_kind;

/* The category names, index = shape_kind (COCO category id = index + 1). */
extern const char *const shape_names[SHAPE_KINDS];

#define SHAPES_MAX_OBJECTS 32

typedef struct shape_object {
    shape_kind kind;
    int visible_pixels;          /* its mask's area; > 0 */
    int x0, y0, x1, y1;          /* the mask's extent, x1/y1 one past the last pixel */
} shape_object;

typedef struct shape_scene {
    int width, height;
    uint8_t *rgb;                /* width * height * 3, owned */
    uint8_t *label;              /* width * height: 0 background, i + 1 = objects[i] */
    int count;
    shape_object objects[SHAPES_MAX_OBJECTS];
} shape_scene;

typedef struct shape_scene_params {
    int width, height;
    int min_objects, max_objects;  /* 1 <= min <= max <= SHAPES_MAX_OBJECTS */
    uint64_t seed;
    int split;                   /* 0 train, 1 validation: other images for the same seed */
} shape_scene_params;

/* Make image `index` of the split into s (its buffers allocated here; shape_scene_free).
 * Shapes are placed one by one, each rejected and placed again (up to a bound) if it would
 * leave an earlier object less than half of itself visible, so every annotated object can
 * be recognised; the masks are the label map's pixels, exact by construction. 0, or -1 when
 * out of memory. */
int shape_scene_make(const shape_scene_params *p, int index, shape_scene *s);

/* Object i's mask, one bit a pixel, most significant bit first, rows of `stride` bytes
 * (>= (width + 7) / 8), as yolact_mask_rle takes it. */
void shape_scene_mask(const shape_scene *s, int i, uint8_t *bits, size_t stride);

void shape_scene_free(shape_scene *s);

#endif
