/* JSON text helpers shared by yolact-bench's writers. */
#ifndef YL_BENCH_JSON_H
#define YL_BENCH_JSON_H

#include <stdio.h>

/* s as a JSON string, quoted and escaped; NULL as null. */
void bench_json_string(FILE *f, const char *s);

#endif
