/* Helpers shared by yolact-bench's parts: names as the tables and the JSON write them, and
 * JSON strings. */
#ifndef YL_BENCH_UTIL_H
#define YL_BENCH_UTIL_H

#include <stdio.h>

#include "yolact.h"

/* "fp16" or "fp32". */
const char *bench_precision_name(yolact_precision p);

/* s as a JSON string, quoted and escaped; NULL as null. */
void bench_json_string(FILE *f, const char *s);

#endif
