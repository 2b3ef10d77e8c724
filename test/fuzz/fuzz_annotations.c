/* libFuzzer target: a COCO annotation file, through yolact-eval's reader and evaluation
 * (eval_fuzz_annotations). */
#include "../eval/eval_fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eval_fuzz_annotations(data, size);
    return 0;
}
