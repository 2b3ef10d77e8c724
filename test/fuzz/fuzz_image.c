/* libFuzzer target: PNG or JPEG bytes, through yl_fuzz_image. */
#include "fuzz_entries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yl_fuzz_image(data, size);
    return 0;
}
