/* libFuzzer target: a tensor table described by the input (see fuzz_entries.h) built into a
 * model, through yl_fuzz_model. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yl_fuzz_model(data, size);
    return 0;
}
