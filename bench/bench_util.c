#include "bench_util.h"

#include "../examples/common/coco_results.h"

const char *bench_precision_name(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? "fp16" : "fp32";
}

void bench_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    cli_json_string(f, s);
}
