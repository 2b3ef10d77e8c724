/* Training curves drawn to a PNG: charts stacked top to bottom, each with its curves (the
 * loss components, the validation AP) over the iteration, axes with their values, and a
 * legend; drawn with the library's text and PNG writer, no plotting library. */
#ifndef CURVES_H
#define CURVES_H

#include <stddef.h>
#include <stdint.h>

typedef struct curve {
    const char *name;
    uint8_t color[3];
    const double *x, *y;   /* n points; a point whose y is not finite breaks the line */
    size_t n;
} curve;

typedef struct chart {
    const char *title;
    const curve *curves;
    size_t num_curves;
    int log_y;             /* a log scale, where every value is positive */
} chart;

/* The charts, each width x chart_height pixels (width >= 200, chart_height >= 100), into
 * the PNG at path (complete or not at all). 0, or -1 with the reason in err. */
int curves_write_png(const char *path, const chart *charts, int num_charts, int width,
                     int chart_height, char *err, size_t err_size);

#endif
