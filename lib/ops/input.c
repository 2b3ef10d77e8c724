/* The input normalisation's constants (input.h). */
#include "ops/input.h"

const float yl_input_mean_bgr[3] = {103.94f, 116.78f, 123.68f};
const float yl_input_std_bgr[3] = {57.38f, 57.12f, 58.40f};
