/* Overlays as the official eval.py display draws them: translucent masks, boxes, and
 * "class: score" labels, onto an 8-bit RGB image in place. */
#ifndef YL_DRAW_H
#define YL_DRAW_H

#include <stddef.h>
#include <stdint.h>

#include "yolact.h"

/* Draw the first max_shown detections of result (all when max_shown <= 0) onto rgb
 * (result->width x result->height, rows of stride bytes, RGB8). */
void yl_draw_overlay(uint8_t *rgb, size_t stride, const yolact_result *result, int max_shown);

#endif
